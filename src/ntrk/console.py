"""Diagnostics on stderr. Data goes to stdout through the CLI; everything else comes here."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    """Print one `nt: ...` line on stderr."""
    sys.stderr.write(f"nt: {message}\n")
    sys.stderr.flush()


def warn(message: str) -> None:
    """Print one `nt: warning: ...` line on stderr."""
    say(f"warning: {message}")
