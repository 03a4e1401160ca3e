"""`nt track`: run a command at a clean commit and record how its outputs were made.

argv → classified command (plus declared files, `declare`) → checks → run, watched
(`observe`) → checks → record → `store.record_run` (the log, then the sidecars and the git
note).

What a record claims is checked, not assumed:

- *Before the run*: the store can take a record (the log is opened now, so a broken `.ntrk/`
  refuses before anything runs); the tree is clean (outputs of recorded runs that still hold
  their recorded bytes, and outputs that sibling runs in flight have registered, do not count);
  the script and every recorded input that git tracks match HEAD even where `skip-worktree` or
  `assume-unchanged` hides a change from `git status`; and everything that identifies the code
  (script path, blob and md5) is read now, not after a run that may take hours.
- *After the run*: an input whose stat identity (size, mtime, ctime, inode, device) changed
  while the command ran makes the record untrue, so nothing is recorded; a script that changed
  is reported (the record keeps the version that started); an output the command did not touch
  (a step that skips existing outputs, a mistyped path) is not recorded as made by it.
"""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pygit2

from ntrk import context, declare, lineage, observe, record, runner
from ntrk.classify import ClassifiedCommand, classify
from ntrk.commands import trust
from ntrk.console import say, warn
from ntrk.errors import InvalidRecord, NtrkError
from ntrk.export import openlineage
from ntrk.gitcli import LITERAL_PATHSPECS, entries
from ntrk.gitcli import run as run_git
from ntrk.hashing import Digest, NotHashable, hash_many, md5_file, walk_tree
from ntrk.layout import CLOCK_NAME, STORE_DIR, is_ntrk_file
from ntrk.record import MAX_RECORD_CHARS, FileRef, Record, Script
from ntrk.repo import Repo
from ntrk.safeio import read_regular
from ntrk.store import inflight, record_run
from ntrk.store.runlog import LogWriter
from ntrk.store.statcache import StatCache

_LISTED_PATHS = 8
_ENTRY_CHARS = 80  # what a file entry adds to a record besides its path: md5, size, keys
# A stat identity: what changes whenever a file's content may have (git's and DVC's rule).
Identity = tuple[int, int, int, int, int]
# A file's identity, a directory's files' (by path inside it), or None for nothing there.
Snapshot = Identity | dict[str, Identity] | None


@dataclass(frozen=True)
class TrackResult:
    """What `nt track` did: the exit code to return, and the record if one was made."""

    exit_code: int
    record: Record | None


@dataclass(frozen=True)
class _Named:
    """A file the command names: the token as written, and its path in the work tree."""

    token: str
    relpath: str

    @property
    def path(self) -> Path:
        return Path(self.token)


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
    with openlineage.track_events(repo) as events:
        return _track(repo, argv, events, declared, observing)


def _track(
    repo: Repo,
    argv: Sequence[str],
    events: openlineage.TrackEvents,
    declared: declare.Declared,
    observing: bool | None,
) -> TrackResult:
    head = repo.head()
    settings = trust.settings(repo)
    command = classify(argv, settings)
    observer = observe.choose(settings, observing, command.argv)
    inputs_named = _merged(
        _inside(repo, command.inputs, "input"),
        _inside(repo, declare.inputs_before_run(repo, declared), "input"),
    )
    declared_existing, declared_places = declare.outputs_before_run(repo, declared)
    outputs_named = _merged(
        _inside(repo, command.outputs, "output"), _inside(repo, declared_existing, "output")
    )
    _refuse_if_too_large(command, outputs_named)
    run_id = record.new_id()  # before the run: its START event names it
    with ExitStack() as stack:
        cache = stack.enter_context(closing(StatCache(repo.cache_dir)))
        _refuse_if_dirty(repo, cache)
        log = stack.enter_context(LogWriter(repo.root, repo.cache_dir))
        writes = [named.relpath for named in outputs_named] + declared_places
        stack.enter_context(inflight.register(repo.cache_dir, writes))
        script = _script(repo, command)
        _refuse_hidden_changes(repo, script, inputs_named)
        inputs = _hash_inputs(inputs_named, cache)
        before = {named.relpath: _identity(named.path) for named in inputs_named + outputs_named}
        script_file = repo.root / script.path if script and script.md5 else None
        script_before = _identity(script_file) if script_file else None
        if settings.untrusted:
            _warn_untrusted(settings.untrusted)
        start = record.now_precise()
        cwd = repo.relpath(Path(".")) or "."
        events.started(settings, run_id, head, cwd, script, command.argv, inputs, start)
        with observe.watch(observer, repo.root, command.argv) as session:
            result = runner.run(session.argv, on_spawn=events.send, env=session.env)
        events.finished(result)
        if not result.succeeded:
            _say_not_recorded(command, result)
            return TrackResult(result.exit_code, None)
        if script_file is not None and _identity(script_file) != script_before:
            warn(
                f"{script_file.relative_to(repo.root)} changed while the command ran; "
                "the record keeps the version it started with"
            )
        outputs_named = _merged(
            outputs_named, _inside(repo, declare.outputs_after_run(repo, declared), "output")
        )
        touched = _touched_outputs(outputs_named, before)
        found = observe.settle(
            repo.root,
            session,
            [named.relpath for named in inputs_named],
            [named.relpath for named in outputs_named],
            script.path if script else None,
        )
        # What the record will say the run wrote: an input among those may have changed.
        written = {named.relpath for named in outputs_named}
        if observer.records and not found.too_many:
            written |= set(found.writes)
        _refuse_if_inputs_changed(inputs_named, written, before)
        if observer.records and found.too_many:
            warn(observe.too_many_warning(found))
        elif observer.records:
            inputs += _observed(
                _hash_inputs(_inside(repo, _under(repo, found.reads), "input"), cache)
            )
            touched = _merged(touched, _inside(repo, _under(repo, found.writes), "output"))
        outputs, manifests = _hash_outputs(touched, cache)
        if observer.records:
            seen = set(found.writes)
            outputs = [replace(ref, observed=True) if ref.path in seen else ref for ref in outputs]
        if not outputs:
            hint = observe.no_outputs_hint(observer, found, settings)
            say(f"no tracked outputs produced; nothing recorded — {hint}")
            events.completed(None)
            return TrackResult(0, None)
        observe.warn_about(observer, found)
        declared_inputs, declared_outputs = declare.for_record(repo, declared)
        rec = _create(
            run_id=run_id,
            commit=head.commit,
            branch=head.branch,
            cwd=cwd,
            script=script,
            command=command.argv,
            inputs=inputs,
            outputs=outputs,
            start=start,
            duration=result.duration,
            context=context.describe(settings),
            newest_known=_newest_known(repo),
            declared_inputs=declared_inputs,
            declared_outputs=declared_outputs,
            observed_by=session.method if observer.records else None,
        )
        record_run(repo, rec, log, manifests)
    events.completed(rec)
    return TrackResult(0, rec)


def _warn_untrusted(asked: Sequence[tuple[str, str]]) -> None:
    what = "; ".join(f"{setting} = {value}" for setting, value in asked)
    warn(
        f"ntrk.toml asks for {what}: what records hold, and any program run for them, comes "
        "from a committed file only once you trust it (nt trust), so this run is recorded "
        "without it"
    )


def _inside(repo: Repo, tokens: Sequence[str], role: str) -> list[_Named]:
    """The named files that lie inside the work tree; warn about and skip the others."""
    named = []
    for token in tokens:
        relpath = repo.relpath(Path(token))
        if relpath is None:
            warn(f"{role} outside the repository, not tracked: {token}")
        elif relpath == ".":
            verb = "reads" if role == "input" else "writes"
            raise NtrkError(
                f"{role} {token} is the whole work tree",
                f"name the files or directories the command {verb}",
            )
        elif is_ntrk_file(relpath) or relpath == ".git" or relpath.startswith(".git/"):
            raise NtrkError(
                f"{role} {token} is one of git's or ntrk's own files",
                "name the files or directories the command works on",
            )
        elif role == "input" and not os.path.lexists(token):
            warn(f"input not found, not tracked: {token}")
        else:
            named.append(_Named(token, relpath))
    return named


def _merged(named: list[_Named], more: list[_Named]) -> list[_Named]:
    """`named` (as the flags gave them, repeats and all, as 0.1.0), then what it lacks of `more`."""
    merged, known = list(named), {item.relpath for item in named}
    for item in more:
        if item.relpath not in known:
            known.add(item.relpath)
            merged.append(item)
    return merged


def _under(repo: Repo, relpaths: Sequence[str]) -> list[str]:
    """Repository paths as tokens `_inside` takes (absolute: the run may have changed directory)."""
    return [str(repo.root / relpath) for relpath in relpaths]


def _observed(refs: list[FileRef]) -> list[FileRef]:
    return [replace(ref, observed=True) for ref in refs]


def _refuse_if_too_large(command: ClassifiedCommand, outputs: Sequence[_Named]) -> None:
    """Refuse before the run a command whose record could never be stored."""
    estimate = sum(len(token) for token in command.argv) + sum(
        len(named.relpath) + _ENTRY_CHARS for named in outputs
    )
    if estimate > MAX_RECORD_CHARS:
        raise NtrkError(
            f"the record of this run would be larger than {MAX_RECORD_CHARS:,} characters "
            f"({len(outputs):,} outputs)",
            "write the outputs into a directory and name it (-o results/); nothing was run",
        )


def _refuse_if_dirty(repo: Repo, cache: StatCache) -> None:
    dirty = repo.dirty_paths()
    if dirty:
        running = inflight.others(repo.cache_dir)
        dirty = [path for path in dirty if not running.covers(path)]
    if dirty:
        dirty = _unexplained_changes(repo, dirty, cache)
    if dirty:
        _refuse_changes(dirty, "uncommitted changes in")


def _refuse_changes(paths: Sequence[str], what: str) -> None:
    listed = ", ".join(paths[:_LISTED_PATHS])
    if len(paths) > _LISTED_PATHS:
        listed += f" and {len(paths) - _LISTED_PATHS} more (git status lists them)"
    raise NtrkError(
        f"refusing to run: {what} {listed}",
        "commit them (git add, git commit) or add them to .gitignore; "
        "every run must map to a commit",
    )


def _unexplained_changes(repo: Repo, dirty: list[str], cache: StatCache) -> list[str]:
    """The dirty paths that are not simply outputs of recorded runs, as they were recorded.

    An intermediate file of a pipeline is untracked (or modified) only because a recorded run
    wrote it; when it still has the bytes recorded last for its path, it is no code change.
    """
    from ntrk.store import index  # here: a clean tree never needs the index (or sqlite3)
    from ntrk.worktree import WorkTree

    worktree = WorkTree(repo.root, cache)
    explained: set[str] = set()
    with closing(index.open_index(repo)) as history:
        for path in dirty:
            made = lineage.latest(history, path)
            if made is None or made.md5 is None:
                continue
            current = worktree.digest(path)
            if current is not None and current.md5 == made.md5:
                explained.add(path)
    return [path for path in dirty if path not in explained]


def _refuse_hidden_changes(repo: Repo, script: Script | None, inputs: Sequence[_Named]) -> None:
    """Refuse a change that `skip-worktree` or `assume-unchanged` hides from `git status`.

    Only the files a record vouches for are checked (the script and the inputs), by content
    against git's index, and only those git flags that way (`git ls-files -v` marks them with
    `S` or a lowercase letter).
    """
    paths = [named.relpath for named in inputs]
    if script is not None and script.blob is not None:
        paths.append(script.path)
    if not paths:
        return
    done = run_git(repo.root, LITERAL_PATHSPECS, "ls-files", "-v", "-s", "-z", "--", *paths)
    hidden = []
    for fields, path in entries(done.stdout):
        if len(fields) != 4 or not (fields[0] == "S" or fields[0].islower()):
            continue
        try:
            current = str(pygit2.hashfile(str(repo.root / path)))
        except (OSError, pygit2.GitError):
            current = None
        if current != fields[2]:
            hidden.append(path)
    if hidden:
        _refuse_changes(sorted(hidden), "changes hidden by skip-worktree or assume-unchanged in")


def _hash_inputs(named: Sequence[_Named], cache: StatCache) -> list[FileRef]:
    """Hash the inputs before the run; an unreadable one stops it."""
    hashed = _hash_named(
        named, cache, "input", "fix its permissions and run again; nothing was run"
    )
    return [_file_ref(item.relpath, digest) for item, digest in hashed]


def _hash_named(
    named: Sequence[_Named], cache: StatCache, kind: str, remedy: str
) -> list[tuple[_Named, Digest]]:
    """Each file of `kind` (input, output) with its digest; one that is neither a regular file
    nor a directory is warned about and left out, an unreadable one is an error."""
    hashed = []
    for item, digest in zip(named, hash_many([n.path for n in named], cache), strict=True):
        if isinstance(digest, NotHashable):
            warn(f"{kind} is not a regular file or directory, not tracked: {item.token}")
        elif isinstance(digest, OSError):
            raise NtrkError(f"cannot read {kind} {item.token}: {digest.strerror}", remedy)
        else:
            hashed.append((item, digest))
    return hashed


def _refuse_if_inputs_changed(
    inputs: Sequence[_Named], written: set[str], before: dict[str, Snapshot]
) -> None:
    """An input rewritten while the command ran makes the record untrue: record nothing.

    What the run wrote itself is expected to change: a file that is both an input and an
    output (an edit in place), and files it wrote inside an input directory.
    """
    changed = []
    for named in inputs:
        if _covered(named.relpath, written):
            continue
        now, then = _identity(named.path), before[named.relpath]
        if isinstance(now, dict) and isinstance(then, dict):
            mine = {
                m for m in now.keys() | then.keys() if _covered(f"{named.relpath}/{m}", written)
            }
            now = {m: i for m, i in now.items() if m not in mine}
            then = {m: i for m, i in then.items() if m not in mine}
        if now != then:
            changed.append(named.token)
    if changed:
        raise NtrkError(
            f"input {', '.join(changed)} changed while the command ran; nothing was recorded",
            "make sure nothing else writes the inputs of a running step, then run it again",
        )


def _covered(relpath: str, written: set[str]) -> bool:
    """Whether `relpath` is, or lies inside, one of the paths the run wrote."""
    parts = relpath.split("/")
    return any("/".join(parts[:end]) in written for end in range(1, len(parts) + 1))


def _touched_outputs(outputs: Sequence[_Named], before: dict[str, Snapshot]) -> list[_Named]:
    """The outputs the run wrote; warn about the ones it left as they were."""
    touched = []
    for named in outputs:
        after = _identity(named.path)
        if after is None:
            warn(f"output not found, not tracked: {named.token}")
        elif after == before.get(named.relpath):
            warn(
                f"output {named.token} was not written by this run (unchanged since before it "
                "started), so it is not recorded as made by it"
            )
        else:
            touched.append(named)
    return touched


def _hash_outputs(
    named: Sequence[_Named], cache: StatCache
) -> tuple[list[FileRef], dict[str, dict[str, str]]]:
    hashed = _hash_named(named, cache, "output", "fix its permissions; the run was not recorded")
    refs = [_file_ref(item.relpath, digest) for item, digest in hashed]
    manifests = {
        item.relpath: dict(digest.members) for item, digest in hashed if digest.members is not None
    }
    return refs, manifests


def _identity(path: Path) -> Snapshot:
    """What changes when a file's content may have; for a directory, that of each file in it
    (by path inside it); None when nothing is there."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISDIR(info.st_mode):
        return dict(_tree_identities(path))
    return _stat_identity(info)


def _stat_identity(info: os.stat_result) -> Identity:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


def _tree_identities(directory: Path) -> Iterator[tuple[str, Identity]]:
    for path, info in walk_tree(directory):
        yield os.fsdecode(path), _stat_identity(info)


def _file_ref(relpath: str, digest: Digest) -> FileRef:
    return FileRef(path=relpath, md5=digest.md5, size=digest.size, files=digest.files)


def _script(repo: Repo, command: ClassifiedCommand) -> Script | None:
    """The script's identity, read before the run: repository path, blob at HEAD and md5."""
    if command.script is None:
        return None
    path = Path(command.script)
    try:
        relpath = repo.relpath(path)
        is_file = path.is_file()
    except OSError:  # not a path at all (say, a long `python -c` program)
        relpath, is_file = None, False
    if relpath is None or not is_file:
        return Script(path=command.script, blob=None, md5=None)
    try:
        md5 = md5_file(path).md5
    except OSError:
        md5 = None
    return Script(path=relpath, blob=repo.blob_at_head(relpath), md5=md5)


def _create(**fields: Any) -> Record:
    """`record.create`, with a record that could never be stored made one clear line."""
    try:
        return record.create(**fields)
    except InvalidRecord as exc:
        raise NtrkError(
            f"the run cannot be recorded: {exc}",
            f"the command ran; name fewer outputs (a directory instead of its files) or "
            f"shorter paths; nothing was recorded in {STORE_DIR}/",
        ) from exc


def _newest_known(repo: Repo) -> str | None:
    """The newest time of any record this work tree's index has seen (see `lineage`)."""
    try:
        raw = read_regular(repo.cache_dir / CLOCK_NAME, 64)
    except OSError:
        return None
    return raw.decode("ascii", "replace").strip() if raw else None


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
