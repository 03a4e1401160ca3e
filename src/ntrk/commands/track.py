"""`nt track`: run a command at a clean commit and record how its outputs were made.

argv → classified command → run → record → `store.record_run` (the log, then the sidecars and
the git note).
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ntrk import config, context, layout, record, runner
from ntrk.classify import ClassifiedCommand, classify
from ntrk.console import say, warn
from ntrk.errors import NtrkError
from ntrk.hashing import Digest, NotHashable, hash_many, md5_file
from ntrk.record import FileRef, Record, Script
from ntrk.repo import Repo, self_and_parents
from ntrk.store import index, record_run
from ntrk.store.statcache import StatCache
from ntrk.worktree import WorkTree

_LISTED_PATHS = 8


@dataclass(frozen=True)
class TrackResult:
    """What `nt track` did: the exit code to return, and the record if one was made."""

    exit_code: int
    record: Record | None


def track(repo: Repo, argv: Sequence[str]) -> TrackResult:
    """Run `argv` in the current directory and record its lineage."""
    head = repo.head()
    settings = config.load(repo.root)
    command = classify(argv, settings)
    with closing(StatCache(layout.store_dir(repo.root))) as cache:
        _refuse_if_dirty(repo, cache)
        inputs = _hash_files(repo, command.inputs, "input", cache)
        start = record.now_precise()
        result = runner.run(command.argv)
        if not result.succeeded:
            _say_not_recorded(command, result)
            return TrackResult(result.exit_code, None)
        outputs = _hash_files(repo, command.outputs, "output", cache)
    if not outputs:
        say("no tracked outputs produced; nothing recorded.")
        return TrackResult(0, None)
    rec = record.create(
        commit=head.commit,
        branch=head.branch,
        cwd=repo.relpath(Path(".")) or ".",
        script=_script(repo, command),
        command=command.argv,
        inputs=inputs,
        outputs=outputs,
        start=start,
        duration=result.duration,
        context=context.describe(settings),
    )
    record_run(repo, rec)
    return TrackResult(0, rec)


def _refuse_if_dirty(repo: Repo, cache: StatCache) -> None:
    dirty = repo.dirty_paths()
    if dirty:
        dirty = _unexplained_changes(repo, dirty, cache)
    if not dirty:
        return
    listed = ", ".join(dirty[:_LISTED_PATHS])
    if len(dirty) > _LISTED_PATHS:
        listed += f" and {len(dirty) - _LISTED_PATHS} more (git status lists them)"
    raise NtrkError(
        f"refusing to run: uncommitted changes in {listed}",
        "commit them (git add, git commit) or add them to .gitignore; "
        "every run must map to a commit",
    )


def _unexplained_changes(repo: Repo, dirty: list[str], cache: StatCache) -> list[str]:
    """The dirty paths that are not simply outputs of recorded runs, as they were recorded.

    An intermediate file of a pipeline is untracked (or modified) only because a recorded run
    wrote it; when it still has the bytes recorded last for its path, it is no code change.
    """
    worktree = WorkTree(repo.root, cache)
    explained: set[str] = set()
    with closing(index.open_index(repo.root, repo.git)) as history:
        for path in dirty:
            for candidate in self_and_parents(path):
                latest = history.newest_at_path(candidate)
                if latest is None:
                    continue
                current = worktree.digest(candidate)
                if current is not None and current.md5 == latest.md5:
                    explained.add(path)
                break
    return [path for path in dirty if path not in explained]


def _hash_files(repo: Repo, tokens: Sequence[str], role: str, cache: StatCache) -> list[FileRef]:
    """Hash the named files inside the work tree; warn about and skip the others."""
    named: list[tuple[str, str]] = []
    for token in tokens:
        relpath = repo.relpath(Path(token))
        if relpath is None:
            warn(f"{role} outside the repository, not tracked: {token}")
        elif not Path(token).exists():
            warn(f"{role} not found, not tracked: {token}")
        else:
            named.append((token, relpath))
    digests = hash_many([Path(token) for token, _ in named], cache)
    refs = []
    for (token, relpath), digest in zip(named, digests, strict=True):
        if isinstance(digest, NotHashable):
            warn(f"{role} is not a regular file or directory, not tracked: {token}")
        elif isinstance(digest, OSError):
            raise NtrkError(
                f"cannot read {role} {token}: {digest.strerror}",
                "fix its permissions and run again; nothing was run"
                if role == "input"
                else "fix its permissions; the run was not recorded",
            )
        else:
            refs.append(_file_ref(relpath, digest))
    return refs


def _file_ref(relpath: str, digest: Digest) -> FileRef:
    return FileRef(path=relpath, md5=digest.md5, size=digest.size, files=digest.files)


def _script(repo: Repo, command: ClassifiedCommand) -> Script | None:
    if command.script is None:
        return None
    path = Path(command.script)
    relpath = repo.relpath(path)
    try:
        is_file = path.is_file()
    except OSError:  # `python -c CODE`: a long CODE is no file name (ENAMETOOLONG)
        is_file = False
    if relpath is None or not is_file:
        return Script(path=command.script, blob=None, md5=None)
    try:
        md5 = md5_file(path).md5
    except OSError:
        md5 = None
    return Script(path=relpath, blob=repo.blob_at_head(relpath), md5=md5)


def _say_not_recorded(command: ClassifiedCommand, result: runner.RunResult) -> None:
    program = command.argv[0]
    signo = result.interrupted_by or result.killed_by
    if signo is not None:
        how = "interrupted" if result.interrupted_by else f"{program} was killed"
        say(f"{how} by {signal.Signals(signo).name} — nothing recorded; run it again")
    else:
        say(
            f"{program} exited with status {result.exit_code} — nothing recorded; "
            "fix the command and run again"
        )
