"""`nt log`: the recorded runs, newest first, like `git log --oneline`."""

from __future__ import annotations

from contextlib import closing
from itertools import islice

from ntrk.record import Record
from ntrk.repo import Repo
from ntrk.store import index


def runs(repo: Repo, path: str | None = None, limit: int | None = None) -> list[Record]:
    """Runs newest first; with `path`, only those that read or wrote it, a file under it, or
    a directory holding it."""
    with closing(index.open_index(repo)) as history:
        found = history.touching(path) if path is not None else history.records(newest_first=True)
        return list(islice(found, limit))
