"""The strace observer: any command in any language, through ptrace (no root needed).

`strace -DD` keeps the command ntrk's own child and runs the tracer as a detached grandchild in a
process group of its own, so the command's exit status and signals are what they are without
strace: Ctrl-C at the terminal reaches the command once (not the tracer), and a signal ntrk
forwards goes to the command itself. `-f` follows every child; `--seccomp-bpf` stops only the
traced system calls, so the others cost nothing; `-z` prints only calls that succeeded; `-y`
prints the path behind every file descriptor (`AT_FDCWD` included, so relative paths resolve
against the directory they were relative to); `-xx` prints every string in hex, so no file name
can confuse the parser.

The trace goes through a FIFO in ntrk's private temporary directory, drained by a thread while
the command runs and parsed as it comes, so it is never stored whole. The tracer ends after the
last traced process; ntrk waits a few seconds for that after the command itself has exited.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

from ntrk import programs
from ntrk.observe.events import MOVED, READ, REMOVED, WRITTEN, Events

_SYSCALLS = (
    "open",
    "openat",
    "openat2",
    "creat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "unlink",
    "unlinkat",
    "chdir",
    "fchdir",
    "clone",
    "clone3",
    "fork",
    "vfork",
)
# `?name`: not an error on an architecture that lacks the call (aarch64 has no open(2)).
OPTIONS = (
    "-DD",
    "-f",
    "-qq",
    "-y",
    "-xx",
    "-z",
    "--seccomp-bpf",
    "-e",
    "signal=none",
    "-e",
    "trace=" + ",".join(f"?{name}" for name in _SYSCALLS),
)
_PROBE_SECONDS = 10.0
_CHUNK = 1 << 16
_MAX_LINE = 1 << 20

_LINE = re.compile(rb"(\d+) +(\w+)\((.*)\) += (-?\d+)(?:<((?:\\x[0-9a-f]{2})*)>)?")
_FD = re.compile(rb"(AT_FDCWD|-?\d+)(?:<((?:\\x[0-9a-f]{2})*)>)?\Z")
_STRING = re.compile(rb'"((?:\\x[0-9a-f]{2})*)"\Z')
_OPEN2_FLAGS = re.compile(rb"flags=([A-Z0-9_|]+)")
_WRITE_FLAGS = (b"O_WRONLY", b"O_RDWR", b"O_CREAT", b"O_TRUNC", b"O_APPEND")
_UNFINISHED = b" <unfinished ...>"
_RESUMED = re.compile(rb"(\d+) +<\.\.\. \w+ resumed>(.*)")


def find() -> str | None:
    """The strace program on PATH, if any."""
    return programs.find("strace")


def problem(strace: str) -> str | None:
    """Why `strace` cannot observe here (no ptrace, too old for an option), or None."""
    target = programs.find("true") or "/bin/true"
    try:
        done = subprocess.run(
            [strace, *OPTIONS, "-o", os.devnull, "--", target],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=_PROBE_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        return lines[0] if lines else f"exit status {done.returncode}"
    return None


class Tracer:
    """strace around one command, its trace parsed into `events` by a thread as it runs."""

    def __init__(self, strace: str, directory: Path, start: str, events: Events) -> None:
        self.strace = strace
        self.fifo = directory / "strace"
        self.parser = Parser(start, events)
        self._write_end: int | None = None
        self._thread: threading.Thread | None = None

    def argv(self, command: Sequence[str]) -> list[str]:
        """`command` under strace."""
        return [self.strace, *OPTIONS, "-o", str(self.fifo), "--", *command]

    def start(self) -> None:
        """Open the FIFO and start draining it; before the command starts."""
        os.mkfifo(self.fifo, 0o600)
        read_end = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        os.set_blocking(read_end, True)
        # ntrk holds a write end until the command has ended: strace opens its own before it
        # starts the command, so from then on end-of-file means the tracer is done.
        self._write_end = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self._thread = threading.Thread(target=self._drain, args=(read_end,), daemon=True)
        # The thread must never take a signal meant for the runner's sigtimedwait.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        try:
            self._thread.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def finish(self, grace: float) -> bool:
        """After the command: wait up to `grace` seconds for the tracer; True if it ended."""
        if self._write_end is not None:
            os.close(self._write_end)
            self._write_end = None
        if self._thread is None:
            return True
        self._thread.join(grace)
        return not self._thread.is_alive()

    def _drain(self, read_end: int) -> None:
        with os.fdopen(read_end, "rb", buffering=0) as stream:
            pending, overlong = b"", False
            while chunk := stream.read(_CHUNK):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if not overlong:
                        self.parser.feed(line)
                    overlong = False
                if len(pending) > _MAX_LINE:
                    pending, overlong = b"", True


class Parser:
    """strace's lines (with `-f -y -xx`) to events: which path each call read, wrote or moved."""

    def __init__(self, start: str, events: Events) -> None:
        self.start = start  # the directory the command started in
        self.events = events
        self.cwd: dict[bytes, str] = {}  # per process, as far as the trace told
        self.unfinished: dict[bytes, bytes] = {}

    def feed(self, line: bytes) -> None:
        """Take one line of the trace."""
        if line.endswith(_UNFINISHED):
            self.unfinished[line.split(b" ", 1)[0]] = line[: -len(_UNFINISHED)]
            return
        resumed = _RESUMED.match(line)
        if resumed:
            begun = self.unfinished.pop(resumed.group(1), None)
            if begun is None:
                return
            line = begun + resumed.group(2)
        match = _LINE.match(line)
        if match is None:
            return
        pid, call, arguments, result, opened = match.groups()
        args = arguments.split(b", ")  # safe: with -xx no string holds ", "
        handler = _HANDLERS.get(call)
        if handler is not None:
            handler(self, pid, args, int(result), opened)

    def _base(self, pid: bytes, fd: bytes) -> str | None:
        """The directory a relative path given with `fd` (`b""`: none) is relative to."""
        if not fd:
            return self.cwd.get(pid, self.start)
        found = _FD.match(fd)
        if found is None:
            return None
        name, hexed = found.groups()
        if hexed is not None:
            directory = _decode(hexed)
            if name == b"AT_FDCWD":
                self.cwd[pid] = directory
            return directory
        # An older strace names no directory for AT_FDCWD; one it could not name is unknown.
        return self.cwd.get(pid, self.start) if name == b"AT_FDCWD" else None

    def _path(self, pid: bytes, fd: bytes, text: bytes) -> str | None:
        string = _STRING.match(text)
        if string is None:
            return None
        path = _decode(string.group(1))
        base = self._base(pid, fd)
        if path.startswith("/"):
            return os.path.normpath(path)
        return None if base is None else os.path.normpath(os.path.join(base, path))

    def _opened(
        self, pid: bytes, fd: bytes, text: bytes, flags: bytes, opened: bytes | None
    ) -> None:
        if b"O_DIRECTORY" in flags or b"O_PATH" in flags:
            return
        path = self._path(pid, fd, text)
        if opened:  # the path behind the new descriptor, symbolic links resolved
            resolved = _decode(opened)
            if resolved.startswith("/") and not resolved.endswith(" (deleted)"):
                path = resolved
        if path is not None:
            written = any(flag in flags for flag in _WRITE_FLAGS)
            self.events.add(WRITTEN if written else READ, path)

    def _open(self, pid: bytes, args: list[bytes], result: int, opened: bytes | None) -> None:
        if len(args) >= 2:
            self._opened(pid, b"", args[0], args[1], opened)

    def _openat(self, pid: bytes, args: list[bytes], result: int, opened: bytes | None) -> None:
        if len(args) >= 3:
            self._opened(pid, args[0], args[1], args[2], opened)

    def _openat2(self, pid: bytes, args: list[bytes], result: int, opened: bytes | None) -> None:
        flags = _OPEN2_FLAGS.search(b", ".join(args[2:]))
        if len(args) >= 3 and flags:
            self._opened(pid, args[0], args[1], flags.group(1), opened)

    def _creat(self, pid: bytes, args: list[bytes], result: int, opened: bytes | None) -> None:
        if args:
            self._opened(pid, b"", args[0], b"O_CREAT", opened)

    def _moved(
        self, pid: bytes, old: tuple[bytes, bytes], new: tuple[bytes, bytes], flags: bytes
    ) -> None:
        source, target = self._path(pid, *old), self._path(pid, *new)
        if source is not None:
            # RENAME_EXCHANGE swaps the two: both now hold what the run put there.
            self.events.add(WRITTEN if b"RENAME_EXCHANGE" in flags else MOVED, source)
        if target is not None:
            self.events.add(WRITTEN, target)

    def _rename(self, pid: bytes, args: list[bytes], result: int, opened: bytes | None) -> None:
        if len(args) == 2:
            self._moved(pid, (b"", args[0]), (b"", args[1]), b"")

    def _renameat(self, pid: bytes, args: list[bytes], result: int, opened: bytes | None) -> None:
        if len(args) >= 4:
            flags = args[4] if len(args) > 4 else b""
            self._moved(pid, (args[0], args[1]), (args[2], args[3]), flags)

    def _link(self, pid: bytes, args: list[bytes], result: int, opened: bytes | None) -> None:
        if len(args) == 2:
            target = self._path(pid, b"", args[1])
            if target is not None:
                self.events.add(WRITTEN, target)

    def _linkat(self, pid: bytes, args: list[bytes], result: int, opened: bytes | None) -> None:
        if len(args) >= 4:
            target = self._path(pid, args[2], args[3])
            if target is not None:
                self.events.add(WRITTEN, target)

    def _unlink(self, pid: bytes, args: list[bytes], result: int, opened: bytes | None) -> None:
        path = self._path(pid, b"", args[0]) if len(args) == 1 else None
        if path is not None:
            self.events.add(REMOVED, path)

    def _unlinkat(self, pid: bytes, args: list[bytes], result: int, opened: bytes | None) -> None:
        if len(args) >= 3 and b"AT_REMOVEDIR" not in args[2]:
            path = self._path(pid, args[0], args[1])
            if path is not None:
                self.events.add(REMOVED, path)

    def _chdir(self, pid: bytes, args: list[bytes], result: int, opened: bytes | None) -> None:
        path = self._path(pid, b"", args[0]) if args else None
        if path is not None:
            self.cwd[pid] = path

    def _fchdir(self, pid: bytes, args: list[bytes], result: int, opened: bytes | None) -> None:
        found = _FD.match(args[0]) if args else None
        if found and found.group(2) is not None:
            self.cwd[pid] = _decode(found.group(2))

    def _forked(self, pid: bytes, args: list[bytes], result: int, opened: bytes | None) -> None:
        # The child starts where its parent is; its own lines may come first, and win.
        if result > 0:
            self.cwd.setdefault(str(result).encode(), self.cwd.get(pid, self.start))


_HANDLERS = {
    b"open": Parser._open,
    b"openat": Parser._openat,
    b"openat2": Parser._openat2,
    b"creat": Parser._creat,
    b"rename": Parser._rename,
    b"renameat": Parser._renameat,
    b"renameat2": Parser._renameat,
    b"link": Parser._link,
    b"linkat": Parser._linkat,
    b"unlink": Parser._unlink,
    b"unlinkat": Parser._unlinkat,
    b"chdir": Parser._chdir,
    b"fchdir": Parser._fchdir,
    b"clone": Parser._forked,
    b"clone3": Parser._forked,
    b"fork": Parser._forked,
    b"vfork": Parser._forked,
}


def _decode(hexed: bytes) -> str:
    """strace's `-xx` text (`\\x2f\\x74…`) back to a file name."""
    return os.fsdecode(bytes.fromhex(hexed.replace(b"\\x", b"").decode("ascii")))
