"""`nt log`: the recorded runs, newest first, like `git log --oneline`."""

from __future__ import annotations

import shlex
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


def oneline(rec: Record) -> str:
    """`1c324cea 2026-11-25 14:05 7d49882 0.02s python step.py ... -> clean.csv`."""
    when = rec.ts[:16].replace("T", " ")
    duration = rec.to_dict().get("duration")
    took = f"{duration:.2f}s" if isinstance(duration, int | float) else "-"
    outputs = ", ".join(entry.path for entry in rec.outputs)
    return f"{rec.id[:8]} {when} {rec.commit[:7]} {took:>7} {shlex.join(rec.command)} -> {outputs}"
