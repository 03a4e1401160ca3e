"""Where records come from — the log, the notes — and the one order they are walked in.

The walk rule ("the newest producer before this step") needs one order across sources:

- records in the log keep the log's order (the order they were appended, merged by git);
- a record known only from notes goes before the first log record that started later than it
  (by `start`, else `ts`, then id); records known only from notes are ordered the same way.

So a clone whose log holds everything walks exactly as the log alone says, and a clone with
only notes orders runs by when they started (microseconds since ntrk 0.2; 0.1.0 records carry
whole seconds, so two of them from the same second fall back to id order).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from ntrk import notes, runlog
from ntrk.console import warn
from ntrk.lineage import History
from ntrk.record import Record
from ntrk.repo import Repo


def load_history(repo: Repo) -> History:
    """Every record the repository knows, in walk order, each id once."""
    with _bulk_allocation():
        logged = [entry.record for entry in runlog.read(repo.root)]
        return History.of(interleave(logged, notes_only(repo, {rec.id for rec in logged})))


def notes_only(repo: Repo, known: set[str]) -> list[Record]:
    """Records found in the notes refs and not among `known` ids."""
    found: dict[str, Record] = {}
    for ref in notes.notes_refs(repo.git):
        problems = []
        for annotated, line in notes.read_records(repo.git, ref):
            if line.record is None:
                problems.append(f"{annotated[:8]}: {line.problem}")
            elif line.record.id not in known:
                found.setdefault(line.record.id, line.record)
        if problems:
            warn(f"{ref}: {len(problems)} note line(s) skipped, not records ({problems[0]})")
    return list(found.values())


def interleave(logged: list[Record], others: list[Record]) -> list[Record]:
    """The log's order, with the other records placed by start time (see the module doc)."""
    pending = sorted(others, key=order_key)
    result: list[Record] = []
    taken = 0
    for rec in logged:
        key = order_key(rec)
        while taken < len(pending) and order_key(pending[taken]) < key:
            result.append(pending[taken])
            taken += 1
        result.append(rec)
    result.extend(pending[taken:])
    return result


def order_key(rec: Record) -> tuple[str, str]:
    """When a run started, as finely as its record says, then its id."""
    return rec.order_time, rec.id


@contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Pause the cycle collector while loading many records, then exempt them from it.

    Records hold no reference cycles, but each is a dozen containers; with the collector on,
    its full passes over a growing heap doubled the time to load 100,000 records.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
