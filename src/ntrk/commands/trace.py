"""`nt trace`: find the run that made a file, then walk back to the raw inputs."""

from __future__ import annotations

import os
from contextlib import closing
from pathlib import Path

from ntrk import lineage
from ntrk.console import warn
from ntrk.errors import InvalidRecord, NtrkError
from ntrk.hashing import Digest, hash_path
from ntrk.layout import sidecar_path
from ntrk.lineage import END, History, Lineage, Produced
from ntrk.repo import Repo
from ntrk.store import index, sidecar
from ntrk.worktree import WorkTree


class NoLineage(NtrkError):
    """No record says how the file was made."""

    def __init__(self, target: Path) -> None:
        super().__init__(
            f"no lineage found for {target}",
            "check the path; only outputs of nt track (or files with a sidecar) have lineage",
        )


def trace(repo: Repo | None, target: Path) -> Lineage:
    """How `target` (relative to the current directory) was made; `repo` is None outside
    any repository, where only the file's sidecar can answer."""
    history = index.open_index(repo) if repo else index.empty()
    with closing(history):
        start = resolve(target, repo, history)
        if start is None:
            raise NoLineage(target)
        steps = lineage.walk(history, start)
    if repo is None:
        return Lineage(steps, {})
    with closing(WorkTree.with_cache(repo.root, repo.cache_dir)) as worktree:
        return Lineage(steps, worktree.states(steps))


def resolve(target: Path, repo: Repo | None, history: History) -> Produced | None:
    """The run that made `target`, as the file it wrote.

    First hit wins, as `lineage.producer` links an input: the file's sidecar; a run that wrote
    this path with these bytes; the newest run that wrote this path or the directory output
    holding it (the file changed since: shown as modified); nothing when the file is committed
    at HEAD with these bytes (raw data that happens to equal some output); else a run that
    wrote these bytes anywhere (the file was renamed or copied).
    """
    target = Path(os.path.abspath(target))  # `.` names the directory it is: that may be an output
    relpath = repo.relpath(target) if repo else None
    if relpath == ".":
        return None
    found = _from_sidecar(target, repo.root if repo and relpath else None, relpath, history)
    if found is not None:
        return found
    # Outside the work tree only a file is hashed (a copy, linked by its bytes): `nt trace /`
    # must not hash the file system to say there is no lineage.
    digest = _current_digest(target) if relpath is not None or target.is_file() else None
    if relpath is not None:
        if digest is not None:
            found = next(history.writers(relpath, md5=digest.md5), None)
        found = found or lineage.latest(history, relpath)
        if found is not None or digest is None:
            return found
        if _committed_as_is(repo, history, relpath, digest):
            return None
    return next(history.with_md5(digest.md5), None) if digest is not None else None


def _committed_as_is(repo: Repo | None, history: History, relpath: str, digest: Digest) -> bool:
    """Whether HEAD holds `relpath` with exactly the bytes `digest` describes."""
    if repo is None or repo.git.head_is_unborn:
        return False
    head = repo.head().commit
    return history.committed_md5(head, relpath, digest.size) == digest.md5


def _from_sidecar(
    target: Path, root: Path | None, relpath: str | None, history: History
) -> Produced | None:
    """The run that the sidecar of `target` names: read from the work tree `root` down
    (`relpath` inside it), or outside any work tree from the target's own directory."""
    if not target.name:
        return None
    try:
        if root is not None and relpath is not None:
            found = sidecar.read(root, relpath)
        else:
            found = sidecar.read(target.parent, target.name)
    except InvalidRecord as exc:
        warn(f"{sidecar_path(target)}: ignored, not a valid record ({exc})")
        return None
    if found is None:
        return None
    rec, output = found.record, found.sidecar_for or ""
    key = history.key_of(rec.id) or END
    return Produced(key, rec, output, rec.output_md5(found.sidecar_for), output)


def _current_digest(target: Path) -> Digest | None:
    try:
        return hash_path(target)
    except OSError:
        return None
