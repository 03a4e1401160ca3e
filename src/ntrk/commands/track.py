"""`nt track`: run a command at a clean commit and record how its outputs were made.

argv → classified command (plus declared files, `declare`) → run, watched (`observe`) →
record → `store.record_run` (the log, then the sidecars and the git note).
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ntrk import config, context, declare, layout, observe, record, runner
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


def track(
    repo: Repo,
    argv: Sequence[str],
    declared: declare.Declared = declare.NOTHING,
    observing: bool | None = None,
) -> TrackResult:
    """Run `argv` in the current directory and record its lineage.

    `declared` adds files the command's flags do not name; `observing` (None: as ntrk.toml
    says) records the files the run is seen to open as well.
    """
    head = repo.head()
    settings = config.load(repo.root)
    command = classify(argv, settings)
    declared_inputs = declare.inputs_before_run(repo, declared)
    observer = observe.choose(settings, observing, command.argv)
    with closing(StatCache(layout.store_dir(repo.root))) as cache:
        _refuse_if_dirty(repo, cache)
        inputs = _merged(
            _hash_files(repo, command.inputs, "input", cache),
            _hash_files(repo, declared_inputs, "input", cache),
        )
        start = record.now_precise()
        with observe.watch(observer, repo.root, command.argv) as session:
            result = runner.run(session.argv, session.env)
        if not result.succeeded:
            _say_not_recorded(command, result)
            return TrackResult(result.exit_code, None)
        outputs = _merged(
            _hash_files(repo, command.outputs, "output", cache),
            _hash_files(repo, declare.outputs_after_run(repo, declared), "output", cache),
        )
        script = _script(repo, command)
        found = observe.settle(
            repo.root, session, _paths(inputs), _paths(outputs), script.path if script else None
        )
        if observer.records:
            inputs, outputs = _add_observed(repo, found, inputs, outputs, cache)
    if not outputs:
        hint = observe.no_outputs_hint(observer, found, settings)
        say(f"no tracked outputs produced; nothing recorded — {hint}")
        return TrackResult(0, None)
    observe.warn_about(observer, found)
    inputs_as_declared, outputs_as_declared = declare.for_record(repo, declared)
    rec = record.create(
        commit=head.commit,
        branch=head.branch,
        cwd=repo.relpath(Path(".")) or ".",
        script=script,
        command=command.argv,
        inputs=inputs,
        outputs=outputs,
        start=start,
        duration=result.duration,
        context=context.describe(settings),
        declared_inputs=inputs_as_declared,
        declared_outputs=outputs_as_declared,
        observed_by=session.method if observer.records else None,
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


def _paths(refs: Iterable[FileRef]) -> list[str]:
    return [ref.path for ref in refs]


def _merged(named: list[FileRef], more: list[FileRef]) -> list[FileRef]:
    """`named` (as the flags gave them, repeats and all, as 0.1.0), then what it lacks of `more`."""
    merged, known = list(named), {ref.path for ref in named}
    for ref in more:
        if ref.path not in known:
            known.add(ref.path)
            merged.append(ref)
    return merged


def _add_observed(
    repo: Repo,
    found: observe.Found,
    inputs: list[FileRef],
    outputs: list[FileRef],
    cache: StatCache,
) -> tuple[list[FileRef], list[FileRef]]:
    """The record's files, with what the run was seen to read and write, marked observed."""
    if found.too_many:
        warn(observe.too_many_warning(found))
        return inputs, outputs
    seen_inputs = _hash_files(repo, [str(repo.root / path) for path in found.reads], "input", cache)
    seen_outputs = _hash_files(repo, [str(repo.root / p) for p in found.writes], "output", cache)
    return (
        _merged(inputs, [dataclasses.replace(ref, observed=True) for ref in seen_inputs]),
        _merged(outputs, [dataclasses.replace(ref, observed=True) for ref in seen_outputs]),
    )


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
