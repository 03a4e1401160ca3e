"""`nt export`: the recorded runs, for tools that keep lineage elsewhere.

Which runs: all of them in walk order (by when they ran, see `lineage`), or those in the
lineage of the files named, each run once, raw inputs first — the runs `nt trace` shows for
each file, in the order it shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

from ntrk.commands.trace import NoLineage, resolve
from ntrk.lineage import walk
from ntrk.record import Record
from ntrk.repo import Repo
from ntrk.store import index


def runs(repo: Repo, paths: Sequence[Path] = ()) -> list[Record]:
    """Every recorded run, oldest first; with `paths`, the runs in their lineage."""
    with closing(index.open_index(repo)) as history:
        if not paths:
            return list(history.records())
        found: dict[str, Record] = {}
        for path in paths:
            start = resolve(path, repo, history)
            if start is None:
                raise NoLineage(path)
            for step in walk(history, start):
                found.setdefault(step.record.id, step.record)
    return list(found.values())
