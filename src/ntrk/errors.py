"""Failures a user can cause: each knows what went wrong and what to do about it."""

from __future__ import annotations


class NtrkError(Exception):
    """A user-fixable failure; the CLI prints `nt: <what> — <hint>` and exits with `exit_code`."""

    def __init__(self, what: str, hint: str, exit_code: int = 1) -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.what} — {self.hint}"


class InvalidRecord(ValueError):
    """A record (from a log line, a sidecar or a note) that fails validation."""


def broken_installation(error: ImportError) -> NtrkError:
    """The error for ntrk's own dependencies failing to import: a broken installation."""
    import sys

    return NtrkError(
        f"the ntrk installed in {sys.prefix} is broken ({error})",
        "reinstall it the way it was installed, e.g. pip install --force-reinstall . in a "
        "clone of ntrk (see the README's Install)",
    )
