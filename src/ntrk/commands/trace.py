"""`nt trace`: find the run that made a file, then walk back to the raw inputs."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from ntrk.console import warn
from ntrk.errors import InvalidRecord, NtrkError
from ntrk.hashing import hash_path
from ntrk.layout import sidecar_path
from ntrk.lineage import Lineage, RecordIndex, walk
from ntrk.record import Record
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
    history = index.open_index(repo.root, repo.git) if repo else index.empty()
    with closing(history):
        start = resolve(target, repo, history)
        if start is None:
            raise NoLineage(target)
        rec, output, position = start
        steps = walk(history, rec, output, position)
    states = WorkTree.with_cache(repo.root).states(steps) if repo else {}
    return Lineage(steps, states)


def resolve(
    target: Path, repo: Repo | None, history: RecordIndex
) -> tuple[Record, str | None, float] | None:
    """The run that made `target`, the output path it wrote, and its place in the history.

    First hit wins: the sidecar; a run that wrote this path with these bytes; a run that wrote
    these bytes anywhere (the file was renamed); a run that wrote this path (it changed since).
    """
    from_sidecar = _read_sidecar(target)
    if from_sidecar is not None:
        rec, output = from_sidecar
        position = history.position(rec.id)
        return rec, output, history.end if position is None else position
    relpath = repo.relpath(target) if repo else None
    md5 = _current_md5(target)
    found = None
    if relpath is not None and md5 is not None:
        found = history.newest_at_path(relpath, md5)
    if found is None and md5 is not None:
        found = history.newest_with_md5(md5)
    if found is None and relpath is not None:
        found = history.newest_at_path(relpath)
    if found is None:
        return None
    return history.record_at(found.position), found.path, found.position


def _read_sidecar(target: Path) -> tuple[Record, str | None] | None:
    try:
        return sidecar.read(target)
    except InvalidRecord as exc:
        warn(f"{sidecar_path(target)}: ignored, not a valid record ({exc})")
        return None


def _current_md5(target: Path) -> str | None:
    try:
        return hash_path(target).md5
    except OSError:
        return None
