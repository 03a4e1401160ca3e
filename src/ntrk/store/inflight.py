"""Runs in flight: the outputs each running `nt track` will write, so siblings ignore them.

`make -j`, `xargs -P` and workflow schedulers run steps side by side. A sibling's half-written
output is untracked, so without this every step but one would refuse to run on a "dirty" tree.
Before its command starts, each `nt track` registers the outputs it names (and its pid) in
`<git dir>/ntrk/inflight/`; the dirty check ignores paths registered by live runs, and a
registration whose process is gone (a crash, kill -9) is ignored and removed. The registry is
this work tree's own (the per-worktree git directory) and is never committed.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

_MAX_REGISTRATION_BYTES = 1 << 20


@dataclass
class Registration:
    """This process's entry in the registry, removed by `close`."""

    path: Path | None = None

    def close(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.path = None

    def __enter__(self) -> Registration:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass
class InFlight:
    """The outputs registered by other live runs."""

    paths: set[str] = field(default_factory=set)

    def covers(self, relpath: str) -> bool:
        """Whether `relpath` is (or lies inside) an output of a run still going."""
        return any(relpath == path or relpath.startswith(path + "/") for path in self.paths)


def register(cache_dir: Path, outputs: Iterable[str]) -> Registration:
    """Register this process's outputs; a registry that cannot be written is not used."""
    directory = cache_dir / "inflight"
    entry = {"pid": os.getpid(), "start": _start_time(os.getpid()), "outputs": sorted(outputs)}
    if not entry["outputs"]:
        return Registration()
    name = f"{os.getpid()}-{os.urandom(4).hex()}.json"
    path, writing = directory / name, directory / f".{name}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Written under a dot-name, then renamed: a sibling never reads it half-written (and
        # takes it for a dead run's, to be removed).
        fd = os.open(writing, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(entry, stream)
        os.rename(writing, path)
    except OSError:
        with contextlib.suppress(OSError):
            writing.unlink()
        return Registration()
    return Registration(path)


def others(cache_dir: Path, mine: Registration | None = None) -> InFlight:
    """The outputs of the other runs in flight; dead runs' entries are removed."""
    found = InFlight()
    for path, entry in _entries(cache_dir / "inflight"):
        if mine is not None and path == mine.path:
            continue
        if entry is None or not _alive(entry.get("pid"), entry.get("start")):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        outputs = entry.get("outputs")
        if isinstance(outputs, list):
            found.paths.update(p for p in outputs if isinstance(p, str))
    return found


def _entries(directory: Path) -> Iterator[tuple[Path, dict[str, object] | None]]:
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        path = directory / name
        if name.startswith("."):  # being written; left by a crash if its writer is gone
            if not _alive(_pid_of(name[1:]), None):
                with contextlib.suppress(OSError):
                    path.unlink()
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as stream:
                data = json.loads(stream.read(_MAX_REGISTRATION_BYTES))
        except (OSError, ValueError):
            yield path, None
            continue
        yield path, data if isinstance(data, dict) else None


def _pid_of(name: str) -> int | None:
    pid, _, _ = name.partition("-")
    return int(pid) if pid.isdigit() else None


def _alive(pid: object, start: object) -> bool:
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, someone else's
    # A pid can be reused: the process must also have started when the registration says.
    return start is None or _start_time(pid) == start


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else None
