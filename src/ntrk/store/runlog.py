"""The run log, `.ntrk/runs.jsonl`: one record per line, append-only, committed with the code.

Appends are one `write` under an exclusive `flock`, then fsynced, so concurrent runs never
interleave and a crash leaves at most one torn last line. A torn line is skipped when read and
closed with a newline before the next append, so two records are never glued together.

After each append, the log's stat identity before and after is noted in a small journal in
the git directory, so that the index can tell ntrk's own appends from any other change (an
edit, a checkout, a merge) without reading the log again.

The log may have been committed by someone else. `.ntrk` must be a real directory and the log a
regular file: neither is ever followed through a symbolic link (O_NOFOLLOW), and a line longer
than a record can be is skipped without being read into memory.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ntrk import record as record_mod
from ntrk.console import CappedWarnings
from ntrk.errors import InvalidRecord, NtrkError
from ntrk.layout import LOG_RELPATH, STORE_DIR, STORE_FILES, log_path, store_dir
from ntrk.record import Record
from ntrk.safeio import NotRegular, is_real_directory, open_regular, write_atomic

MAX_LINE_BYTES = record_mod.MAX_RECORD_CHARS
_CHUNK = 1 << 20
JOURNAL_NAME = "log-journal"
_JOURNAL_KEEP = 64  # entries kept when the journal is trimmed
_JOURNAL_MAX_BYTES = 1 << 16

# What changes whenever a file's content may have: size, mtime, ctime, inode, device.
Identity = tuple[int, int, int, int, int]


def identity(info: os.stat_result) -> Identity:
    """The stat identity of a file (git's and DVC's rule for "unchanged")."""
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A record read from the log, with where its line starts."""

    offset: int
    lineno: int
    record: Record
    text: str  # the line as read, without its newline


class LogWriter:
    """The log, open for appending: opened before a run, so a store that cannot take a record
    is refused before anything runs, and written after it."""

    def __init__(self, root: Path, journal_dir: Path | None = None) -> None:
        self._journal_dir = journal_dir
        ensure_store(root)
        try:
            self._fd = open_regular(
                log_path(root), os.O_RDWR | os.O_APPEND | os.O_CREAT, within=root
            )
        except NotRegular as exc:
            raise _unusable(f"{LOG_RELPATH} is {exc.strerror}") from exc
        except OSError as exc:
            raise _unusable(f"cannot open {LOG_RELPATH} for writing: {exc.strerror}") from exc

    def append(self, records: Sequence[Record]) -> None:
        """Append records: one write, serialized with other ntrk processes, fsynced."""
        payload = "".join(rec.line + "\n" for rec in records).encode("utf-8")
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            before = os.fstat(self._fd)
            size = before.st_size
            if size and os.pread(self._fd, 1, size - 1) != b"\n":
                payload = b"\n" + payload  # close the line a crashed writer left torn
            try:
                written = os.write(self._fd, payload)
                if written != len(payload):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                os.fsync(self._fd)
                self._note_append(before, os.fstat(self._fd))
            except OSError as exc:
                os.ftruncate(self._fd, size)  # leave no half-written record behind
                raise NtrkError(
                    f"cannot write {LOG_RELPATH}: {exc.strerror}",
                    "free disk space or fix permissions and run again; nothing was recorded",
                ) from exc
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)

    def _note_append(self, before: os.stat_result, after: os.stat_result) -> None:
        """Journal this append (under the log's lock): its identity before and after."""
        if self._journal_dir is None:
            return
        path = self._journal_dir / JOURNAL_NAME
        entry = f"{json.dumps([identity(before), identity(after)])}\n".encode()
        try:
            self._journal_dir.mkdir(parents=True, exist_ok=True)
            if path.exists() and path.stat().st_size > _JOURNAL_MAX_BYTES:
                kept = path.read_bytes().splitlines(keepends=True)[-_JOURNAL_KEEP:]
                write_atomic(path, b"".join(kept) + entry)
                return
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            try:
                os.write(fd, entry)
            finally:
                os.close(fd)
        except OSError:
            pass  # without a journal the index verifies the log itself: slower, as correct

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def journal(journal_dir: Path) -> dict[Identity, Identity]:
    """The log appends ntrk journaled: the log's identity after each, by its identity before."""
    try:
        raw = (journal_dir / JOURNAL_NAME).read_bytes()
    except OSError:
        return {}
    chain: dict[Identity, Identity] = {}
    for line in raw.split(b"\n"):
        try:
            before, after = json.loads(line)
            chain[identity_of(before)] = identity_of(after)
        except (ValueError, TypeError):
            continue
    return chain


def identity_of(value: object) -> Identity:
    """An identity as stored in JSON (a list of five integers); ValueError otherwise."""
    if not (isinstance(value, list) and len(value) == 5 and all(isinstance(v, int) for v in value)):
        raise ValueError("not an identity")
    return (value[0], value[1], value[2], value[3], value[4])


def ensure_store(root: Path) -> None:
    """Create `.ntrk/` with `.gitattributes` (union merge for the log) and `.gitignore`.

    Refuses a `.ntrk` that is a symbolic link or not a directory: ntrk writes its files only
    into a directory it can see is its own, inside the work tree.
    """
    directory = store_dir(root)
    try:
        directory.mkdir()
    except FileExistsError:
        if not is_real_directory(directory):
            kind = "a symbolic link" if directory.is_symlink() else "not a directory"
            raise _unusable(f"{STORE_DIR} is {kind}") from None
    except OSError as exc:
        raise _unusable(f"cannot create {STORE_DIR}: {exc.strerror}") from exc
    for relpath, text in STORE_FILES.items():
        if not os.path.lexists(root / relpath):
            try:
                write_atomic(root / relpath, text.encode("utf-8"), within=root)
            except OSError as exc:
                raise _unusable(f"cannot write {relpath}: {exc.strerror}") from exc


def append(root: Path, records: Sequence[Record]) -> None:
    """Append records to the log (see LogWriter)."""
    with LogWriter(root) as writer:
        writer.append(records)


@dataclass(slots=True)
class Position:
    """Where reading stopped: just after the last complete (newline-ended) line."""

    offset: int = 0
    lineno: int = 1


def open_log(root: Path) -> BinaryIO | None:
    """The log for reading, or None when there is none; never through a symbolic link (nor
    through a `.ntrk` that is one)."""
    try:
        fd = open_regular(log_path(root), within=root)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NtrkError(
            f"cannot read {LOG_RELPATH} ({exc.strerror})",
            f"ntrk reads its log only as a regular file inside {STORE_DIR}/; "
            "remove what is there (git rm) or fix its permissions",
        ) from exc
    return os.fdopen(fd, "rb")


def read(
    root: Path, start: int = 0, first_lineno: int = 1, reached: Position | None = None
) -> Iterator[LogEntry]:
    """Yield the valid records of the log from byte `start`, warning once per invalid line.

    `reached`, when given, is kept at the end of the last complete line read, so that a caller
    can resume there (a torn last line is read again once it is complete).
    """
    stream = open_log(root)
    if stream is None:
        return
    warnings = CappedWarnings(LOG_RELPATH)
    with stream:
        stream.seek(start)
        offset, lineno = start, first_lineno
        if reached is not None:
            reached.offset, reached.lineno = start, first_lineno
        for raw, length in raw_lines(stream):
            line_start, offset = offset, offset + length
            complete = raw is None or raw.endswith(b"\n")
            if reached is not None and complete:
                reached.offset, reached.lineno = offset, lineno + 1
            text = b"x" if raw is None else raw.strip()  # an over-long line is never a record
            if text:
                try:
                    if raw is None:
                        raise InvalidRecord(f"longer than {MAX_LINE_BYTES:,} bytes")
                    record = record_mod.parse_json(text)
                    yield LogEntry(line_start, lineno, record, text.decode("utf-8"))
                except InvalidRecord as exc:
                    reason = (
                        exc if complete else "an interrupted write, repaired on the next append"
                    )
                    warnings.add(f"{LOG_RELPATH}:{lineno}: skipped, not a valid record ({reason})")
            lineno += 1
    warnings.close()


def raw_lines(stream: BinaryIO) -> Iterator[tuple[bytes | None, int]]:
    """(line, its length in bytes) for each line; (None, length) for a line too long to be a
    record, which is skipped in chunks rather than read whole."""
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) <= MAX_LINE_BYTES or raw.endswith(b"\n"):
            yield raw, len(raw)
            continue
        length = len(raw)
        while True:
            chunk = stream.readline(_CHUNK)
            length += len(chunk)
            if not chunk or chunk.endswith(b"\n"):
                break
        yield None, length


def _unusable(what: str) -> NtrkError:
    return NtrkError(
        f"cannot record: {what}",
        f"ntrk keeps its log in a real {STORE_DIR}/ directory inside the work tree; "
        "fix or remove what is there (git rm) and run again; nothing was run",
    )
