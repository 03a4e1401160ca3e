"""Diagnostics on stderr. Data goes to stdout through the CLI; everything else comes here."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from ntrk.text import visible


def say(message: str) -> None:
    """Print one `nt: ...` line on stderr, every control character in it made visible."""
    sys.stderr.write(f"nt: {visible(message)}\n")
    sys.stderr.flush()


def warn(message: str) -> None:
    """Print one `nt: warning: ...` line on stderr."""
    say(f"warning: {message}")


class CappedWarnings:
    """Warnings about one source, the first few shown and the rest counted in one closing
    line: a broken note or a hostile log must not print thirty lines, or a million."""

    LIMIT = 5

    def __init__(self, source: str, rest: str = "invalid lines skipped") -> None:
        self.source, self.rest = source, rest
        self.shown = self.more = 0

    def add(self, message: str | Callable[[], str]) -> None:
        """Show `message`, or only count it past the limit (a callable is called only to
        be shown: composing some messages costs a query)."""
        if self.shown >= self.LIMIT:
            self.more += 1
        else:
            warn(message if isinstance(message, str) else message())
            self.shown += 1

    def close(self) -> None:
        if self.more:
            warn(f"{self.source}: {self.more:,} more {self.rest}")
            self.more = 0


class Progress:
    """A count on stderr while long work goes on: only on a terminal, and only after a second."""

    def __init__(self, what: str, unit: str, after: float = 1.0) -> None:
        self.what, self.unit = what, unit
        self.shown = False
        self.enabled = sys.stderr.isatty()
        self.start = time.monotonic()
        self.next_at = self.start + after

    def __enter__(self) -> Progress:
        return self

    def update(self, count: int) -> None:
        if not self.enabled or count % 1000:
            return
        now = time.monotonic()
        if now >= self.next_at:
            sys.stderr.write(f"\rnt: {self.what}: {count:,} {self.unit}")
            sys.stderr.flush()
            self.shown = True
            self.next_at = now + 0.5

    def __exit__(self, *_: object) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
