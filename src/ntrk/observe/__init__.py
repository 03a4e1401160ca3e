"""Which files a tracked command opened: `nt track --observe`, and the hint without it.

Two observers report the same events (`events.py`): strace (`strace.py`) for any command, where
it is installed and allowed to trace; else an audit hook in every Python process of the run
(`python.py`). With `--observe` (or `[track] observe = true` in ntrk.toml) what they saw goes
into the record: a file the run only read is an input; one it wrote, created, or renamed or
linked into place is an output; each is marked `"observed": true`. Without it, the audit hook
still watches Python processes, so that `nt track` can say which files the record leaves out
(`[track] warn_unlisted = false` turns that off).

Only regular files inside the work tree count, and never ntrk's own files, anything in a
`.git`, Python's bytecode caches, virtual environments or site-packages inside the work tree,
Python modules read by the import system (`.py` files read: code is what the commit records),
nor the script itself. Observation is not a sandbox: a file opened by a program no observer
follows (any non-Python program without strace, a C library's own `fopen` under the audit
hook, a daemon the command asks to do the work) is not seen.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ntrk.config import Config
from ntrk.console import say, warn
from ntrk.errors import NtrkError
from ntrk.layout import is_ntrk_file
from ntrk.observe import python
from ntrk.observe.events import MOVED, READ, REMOVED, WRITTEN, Events

# `strace` (with subprocess, threading, shutil) is imported only to observe: every `nt track`
# runs this module, and its import time counts against the track overhead.

STRACE = "strace"
PYTHON = "python-audit-hook"
# More than this many observed files are not recorded one by one: each output would get a
# sidecar of its own beside it, and a record listing thousands of files reads as noise.
# Declaring their directories says the same in one entry each. Recording some of them would
# be a record that looks complete and is not, so past the limit none is recorded (one warning).
MAX_OBSERVED = 256
_TRACER_GRACE = 5.0
_TIME_MARGIN_NS = 1_000_000_000
_LISTED_NAMES = 4
_IGNORED_PARTS = frozenset({".git", "__pycache__", "site-packages", "dist-packages"})
# Line and paragraph separators and bidirectional controls: they rearrange what a terminal shows.
_INVISIBLE = frozenset(
    "\u2028\u2029\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


@dataclass(frozen=True)
class Observer:
    """How a run is watched: by which method (None: not at all), and whether it is recorded."""

    method: str | None
    records: bool
    strace: str | None = None


@dataclass
class Session:
    """One watched run: the argv and environment to run it with; the events once it ended."""

    argv: list[str]
    env: dict[str, str] | None
    method: str | None
    events: Events = field(default_factory=Events)
    started_ns: int = field(default_factory=time.time_ns)


@dataclass(frozen=True)
class Found:
    """What a run did to files in the work tree that its record does not already list."""

    reads: tuple[str, ...] = ()  # repository-relative, sorted
    writes: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()  # read, then removed or moved away by the run
    unfollowed: tuple[str, ...] = ()  # programs no observer could follow
    dropped: int = 0  # paths past `events.MAX_PATHS`

    @property
    def too_many(self) -> bool:
        return self.dropped > 0 or len(self.reads) + len(self.writes) > MAX_OBSERVED


def choose(settings: Config, observe: bool | None, argv: Sequence[str]) -> Observer:
    """The observer for this run: `--observe`/`--no-observe`, else ntrk.toml, decide."""
    if observe is None:
        observe = settings.observe
    if not observe:
        return Observer(PYTHON if settings.warn_unlisted else None, records=False)
    from ntrk.observe import strace as strace_mod

    found = strace_mod.find()
    if found is not None:
        reason = strace_mod.problem(found)
        if reason is None:
            return Observer(STRACE, records=True, strace=found)
        say(f"strace cannot trace here ({reason}); observing only Python processes")
    elif not _is_python(argv):
        say(
            f"strace is not installed, so only the Python processes of this run are observed, "
            f"and {os.path.basename(argv[0])} is not one — install strace (apt-get install "
            "strace) or declare its files (nt track -i PATH -o PATH -- COMMAND…)"
        )
    return Observer(PYTHON, records=True)


@contextmanager
def watch(observer: Observer, root: Path, argv: Sequence[str]) -> Iterator[Session]:
    """Prepare the run of `argv` under `observer`; after the block, `events` holds what it saw."""
    directory = None
    if observer.method is not None:
        try:
            directory = _private_directory()
        except OSError as exc:
            if observer.records:
                raise NtrkError(
                    f"cannot observe the run: no private directory in {_temporary_base()} "
                    f"({exc.strerror})",
                    "set TMPDIR to a directory you can write to; nothing was run",
                ) from exc
            # The hint is a convenience: without a place for the report, run unwatched.
    if directory is None:
        yield Session(list(argv), None, None)
        return
    try:
        # A program strace cannot find is left to the runner, which says why it cannot start.
        if observer.strace is not None and _findable(argv[0]):
            with _traced(observer.strace, directory, argv) as session:
                yield session
        else:
            report = directory / "python"
            os.close(os.open(report, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            session = Session(list(argv), python.environment(os.environ, report, root), PYTHON)
            yield session
            python.read_report(report, session.events)
    finally:
        _remove(directory)


@contextmanager
def _traced(strace: str, directory: Path, argv: Sequence[str]) -> Iterator[Session]:
    from ntrk.observe import strace as strace_mod

    events = Events()
    tracer = strace_mod.Tracer(strace, directory, os.getcwd(), events)
    tracer.start()
    ended = False
    try:
        session = Session(tracer.argv(argv), None, STRACE, events)
        yield session
        ended = tracer.finish(_TRACER_GRACE)
        if not ended:
            warn(
                "processes the command started are still running; the record lists the files "
                "they opened until now"
            )
        session.events = events.snapshot()
    finally:
        if not ended:
            tracer.finish(0)


def settle(
    root: Path,
    session: Session,
    inputs: Iterable[str],
    outputs: Iterable[str],
    script: str | None,
) -> Found:
    """Sort what the run of `session` did under `root` into reads and writes its record lacks.

    `inputs` and `outputs` are the record's paths (files and directories, relative to `root`):
    a file at or under an input or output is a known read, and at or under an output a known
    write. A file opened for writing whose times say the run did not change it (a library that
    opens read-write and only reads, like SQLite) counts as read.
    """
    read_known = {*inputs, *outputs}
    written_known = set(outputs)
    if script:
        read_known.add(script)
    reads: list[str] = []
    writes: list[str] = []
    gone: list[str] = []
    resolved: dict[str, str] = {}
    environments: dict[str, bool] = {}
    for path, kinds in session.events.paths.items():
        full = _resolved(path, resolved)
        relpath = _inside(root, full)
        if relpath is None or _ignored(root, relpath, environments):
            continue
        info = _stat(full)
        if info is None or not stat.S_ISREG(info.st_mode):
            read_then_gone = READ in kinds and WRITTEN not in kinds and kinds & {MOVED, REMOVED}
            if info is None and read_then_gone and not _covered(relpath, read_known):
                gone.append(relpath)
            continue
        written = WRITTEN in kinds and _changed_since(info, session.started_ns)
        if written and not _covered(relpath, written_known):
            writes.append(relpath)
        elif not written and not relpath.endswith(".py") and not _covered(relpath, read_known):
            reads.append(relpath)
    return Found(
        reads=tuple(sorted(reads)),
        writes=tuple(sorted(writes)),
        gone=tuple(sorted(gone)),
        unfollowed=tuple(sorted(session.events.unfollowed)),
        dropped=session.events.dropped,
    )


def unlisted_warning(found: Found) -> str | None:
    """Without --observe: which files the run used that its record does not list."""
    if not (found.reads or found.writes):
        return None
    return (
        f"the run {_what_it_did(found)}, which the record does not list — {_declare_them(found)} "
        "or use nt track --observe"
    )


def gone_warning(found: Found) -> str | None:
    """Files the run read and then removed: gone before ntrk could hash them."""
    if not found.gone:
        return None
    return (
        f"the run read {_names(found.gone)} and then removed or moved it away, so it is not "
        f"an input of the record — declare it (nt track -i {_quote(found.gone[0])} -- …) to "
        "hash it before the run"
    )


def unfollowed_warning(found: Found) -> str | None:
    """With --observe and no strace: the programs the audit hook could not follow."""
    if not found.unfollowed:
        return None
    return (
        f"the run started {_names(found.unfollowed)}, whose files ntrk did not observe "
        "(only Python processes are, without strace) — install strace, or declare those "
        "files (nt track -i PATH -o PATH -- COMMAND…)"
    )


def too_many_warning(found: Found) -> str:
    """With --observe: too many files to record one by one."""
    count = len(found.reads) + len(found.writes) + found.dropped
    return (
        f"the run used {count:,} files in the work tree, more than ntrk records one by one "
        f"({MAX_OBSERVED}); none of them is recorded — declare their directories instead "
        "(nt track -i DIR -o DIR -- COMMAND…)"
    )


def warn_about(observer: Observer, found: Found) -> None:
    """Say what the record leaves out of what the run was seen to do (one line each)."""
    messages = [gone_warning(found)]
    if observer.records:
        messages.append(unfollowed_warning(found))
    else:
        messages.append(unlisted_warning(found))
    for message in messages:
        if message:
            warn(message)


def no_outputs_hint(observer: Observer, found: Found, settings: Config) -> str:
    """What to do when a run produced no output ntrk knows of."""
    if found.writes and not observer.records:
        return (
            f"the run {_what_it_did(found)}: {_declare_them(found)} "
            "or use nt track --observe -- COMMAND…"
        )
    flags = ", ".join(sorted(settings.output_flags, key=lambda flag: (len(flag), flag)))
    return (
        f"ntrk finds outputs after {flags} in the command (add flag names under [flags] "
        "outputs in ntrk.toml), declared ones (nt track -o PATH -- COMMAND…), or the files it "
        "sees the run write (nt track --observe -- COMMAND…)"
    )


def _what_it_did(found: Found) -> str:
    done = [f"read {_names(found.reads)}"] if found.reads else []
    if found.writes:
        done.append(f"wrote {_names(found.writes)}")
    return " and ".join(done)


def _declare_them(found: Found) -> str:
    """`declare them (nt track -i A -o B -- COMMAND…)`, with a few of the files."""
    words = [
        *(f"-i {_quote(path)}" for path in found.reads[:_LISTED_NAMES]),
        *(f"-o {_quote(path)}" for path in found.writes[:_LISTED_NAMES]),
    ]
    them = "it" if len(found.reads) + len(found.writes) == 1 else "them"
    return f"declare {them} (nt track {' '.join(words)} -- COMMAND…)"


def _private_directory() -> Path:
    """A new directory only this user can enter, for the report and the FIFO.

    `tempfile.mkdtemp` does the same, but importing tempfile (and random) would cost every
    `nt track` a few milliseconds; mkdir fails on a name that exists, so this is as safe.
    """
    base = _temporary_base()
    while True:
        directory = base / f"ntrk-observe-{os.urandom(8).hex()}"
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return directory


def _temporary_base() -> Path:
    return Path(os.environ.get("TMPDIR") or "/tmp")


def _remove(directory: Path) -> None:
    """Remove the private directory and what ntrk put in it (a report, a FIFO)."""
    try:
        for name in os.listdir(directory):
            os.unlink(directory / name)
        os.rmdir(directory)
    except OSError as exc:
        warn(f"could not remove {directory}: {exc.strerror}")


def _findable(program: str) -> bool:
    """Whether the user's program is on PATH as their shell would find it (their command,
    their PATH: see `programs` for the ones ntrk starts on its own)."""
    import shutil

    return shutil.which(program) is not None


def _is_python(argv: Sequence[str]) -> bool:
    program = os.path.basename(argv[0]) if argv else ""
    return program.startswith("python") or program.endswith(".py")


def _resolved(path: str, parents: dict[str, str]) -> str:
    """`path` with symbolic links resolved; each directory resolved once."""
    head, name = os.path.split(path)
    real = parents.get(head)
    if real is None:
        real = parents[head] = os.path.realpath(head)
    full = os.path.join(real, name)
    return os.path.realpath(full) if os.path.islink(full) else full


def _inside(root: Path, path: str) -> str | None:
    prefix = os.path.join(str(root), "")
    return path[len(prefix) :] if path.startswith(prefix) and len(path) > len(prefix) else None


def _ignored(root: Path, relpath: str, environments: dict[str, bool]) -> bool:
    if is_ntrk_file(relpath) or relpath.endswith(".pyc"):
        return True
    parts = relpath.split("/")
    if _IGNORED_PARTS.intersection(parts[:-1]):
        return True
    for end in range(1, len(parts)):  # a virtual environment inside the work tree
        directory = "/".join(parts[:end])
        inside = environments.get(directory)
        if inside is None:
            inside = environments[directory] = os.path.isfile(root / directory / "pyvenv.cfg")
        if inside:
            return True
    return False


def _covered(relpath: str, known: set[str]) -> bool:
    parts = relpath.split("/")
    return any("/".join(parts[:end]) in known for end in range(len(parts), 0, -1))


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _changed_since(info: os.stat_result, started_ns: int) -> bool:
    """Whether the file's content or inode changed after `started_ns` (or might have).

    A rename or a new file sets the ctime, so only a file both older in mtime and in ctime is
    unchanged. File times come from a coarse kernel clock, a few milliseconds behind the one
    `started_ns` was read from: a second of margin keeps a file written at once "changed".
    """
    before = started_ns - _TIME_MARGIN_NS
    return info.st_mtime_ns >= before or info.st_ctime_ns >= before


def _names(paths: Sequence[str]) -> str:
    shown = ", ".join(_quote(path) for path in paths[:_LISTED_NAMES])
    more = len(paths) - _LISTED_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def _quote(path: str) -> str:
    """`path` as a shell word, control characters made visible (it reaches a terminal)."""
    import shlex

    visible = "".join(
        f"\\x{ord(char):02x}" if char < " " or "\x7f" <= char <= "\x9f" else char for char in path
    )
    visible = "".join(f"\\u{ord(char):04x}" if char in _INVISIBLE else char for char in visible)
    return shlex.quote(visible)
