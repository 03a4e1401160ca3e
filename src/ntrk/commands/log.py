"""`nt log`: the recorded runs, newest first, like `git log --oneline`."""

from __future__ import annotations

from contextlib import closing

from ntrk.record import Record
from ntrk.repo import Repo
from ntrk.store import index


def runs(repo: Repo, path: str | None = None, limit: int | None = None) -> list[Record]:
    """Runs newest first; with `path`, only those that read or wrote it (or files under it)."""
    found = []
    with closing(index.open_index(repo.root, repo.git)) as history:
        for rec in history.records(newest_first=True):
            if path is None or _touches(rec, path):
                found.append(rec)
                if limit is not None and len(found) >= limit:
                    break
    return found


def _touches(rec: Record, path: str) -> bool:
    prefix = path.rstrip("/") + "/"
    return any(
        entry.path == path or entry.path.startswith(prefix) or path.startswith(entry.path + "/")
        for entry in rec.inputs + rec.outputs
    )
