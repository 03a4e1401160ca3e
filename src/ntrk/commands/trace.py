"""`nt trace`: find the run that made a file, then walk back to the raw inputs."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ntrk import repo as repo_mod
from ntrk.console import warn
from ntrk.errors import InvalidRecord, NtrkError
from ntrk.hashing import hash_path
from ntrk.layout import sidecar_path
from ntrk.lineage import RecordIndex, Step, walk
from ntrk.record import Record
from ntrk.store import index, sidecar
from ntrk.worktree import WorkTree


@dataclass(frozen=True)
class Lineage:
    """The steps that made a file, roots first, and the work tree to compare them with."""

    steps: list[Step]
    worktree: WorkTree | None


def trace(target: Path) -> Lineage:
    """How `target` (relative to the current directory) was made."""
    repo = repo_mod.find(Path.cwd())
    history = index.open_index(repo.root, repo.git) if repo else index.empty()
    with closing(history):
        start = resolve(target, repo, history)
        if start is None:
            raise _not_found(target, repo)
        rec, output, position = start
        steps = walk(history, rec, output, position)
    return Lineage(steps, WorkTree.with_cache(repo.root) if repo else None)


def resolve(
    target: Path, repo: repo_mod.Repo | None, history: RecordIndex
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


def _not_found(target: Path, repo: repo_mod.Repo | None) -> NtrkError:
    from ntrk.commands.sync import remotes_with_unfetched_notes

    unfetched = remotes_with_unfetched_notes(repo) if repo else []
    if unfetched:
        return NtrkError(
            f"no lineage found for {target} here, but {unfetched[0]} has lineage notes "
            "this clone never fetched",
            f"run nt sync {unfetched[0]}, then trace again",
        )
    return NtrkError(
        f"no lineage found for {target}",
        "check the path; only outputs of nt track (or files with a sidecar) have lineage",
    )
