"""The run log, `.ntrk/runs.jsonl`: one record per line, append-only, committed with the code.

Appends are one `write` under an exclusive `flock`, then fsynced, so concurrent runs never
interleave and a crash leaves at most one torn last line. A torn line is skipped when read and
closed with a newline before the next append, so two records are never glued together.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ntrk import record as record_mod
from ntrk.console import warn
from ntrk.errors import InvalidRecord, NtrkError
from ntrk.layout import LOG_RELPATH, STORE_FILES, log_path, store_dir
from ntrk.record import Record
from ntrk.safeio import write_atomic

_MAX_WARNINGS = 5


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A record read from the log, with where its line starts."""

    offset: int
    lineno: int
    record: Record
    text: str  # the line as read, without its newline


def ensure_store(root: Path) -> Path:
    """Create `.ntrk/` with `.gitattributes` (union merge for the log) and `.gitignore` (for the
    derived index); return the log path."""
    store_dir(root).mkdir(exist_ok=True)
    for relpath, text in STORE_FILES.items():
        if not (root / relpath).exists():
            write_atomic(root / relpath, text.encode("utf-8"))
    return log_path(root)


def append(root: Path, records: Sequence[Record]) -> None:
    """Append records to the log: one write, serialized with other ntrk processes, fsynced."""
    path = ensure_store(root)
    payload = "".join(rec.line + "\n" for rec in records).encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            payload = b"\n" + payload  # close the line a crashed writer left torn
        try:
            written = os.write(fd, payload)
            if written != len(payload):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, size)  # leave no half-written record behind
            raise NtrkError(
                f"cannot write {LOG_RELPATH}: {exc.strerror}",
                "free disk space or fix permissions and run again; nothing was recorded",
            ) from exc
    finally:
        os.close(fd)  # closing releases the lock


@dataclass(slots=True)
class Position:
    """Where reading stopped: just after the last complete (newline-ended) line."""

    offset: int = 0
    lineno: int = 1


def read(
    root: Path, start: int = 0, first_lineno: int = 1, reached: Position | None = None
) -> Iterator[LogEntry]:
    """Yield the valid records of the log from byte `start`, warning once per invalid line.

    `reached`, when given, is kept at the end of the last complete line read, so that a caller
    can resume there (a torn last line is read again once it is complete).
    """
    path = log_path(root)
    try:
        stream = path.open("rb")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise NtrkError(
            f"cannot read {LOG_RELPATH}: {exc.strerror}", "check its permissions"
        ) from exc
    invalid = 0
    with stream:
        stream.seek(start)
        offset, lineno = start, first_lineno
        if reached is not None:
            reached.offset, reached.lineno = start, first_lineno
        for raw in stream:
            line_start, offset = offset, offset + len(raw)
            if reached is not None and raw.endswith(b"\n"):
                reached.offset, reached.lineno = offset, lineno + 1
            text = raw.strip()
            if text:
                try:
                    record = record_mod.parse_json(text)
                    yield LogEntry(line_start, lineno, record, text.decode("utf-8"))
                except InvalidRecord as exc:
                    invalid += 1
                    if invalid <= _MAX_WARNINGS:
                        torn = not raw.endswith(b"\n")
                        reason = (
                            "an interrupted write, repaired on the next append" if torn else exc
                        )
                        warn(f"{LOG_RELPATH}:{lineno}: skipped, not a valid record ({reason})")
            lineno += 1
    if invalid > _MAX_WARNINGS:
        warn(f"{LOG_RELPATH}: {invalid - _MAX_WARNINGS} more invalid lines skipped")
