"""The lineage walk: from one output back to the raw inputs, over an indexed history.

The walk keeps 0.1.0's rule: an input's producer is the newest run *before* the consuming run
(never the run itself, never a later run that re-made the same bytes), and each
(run, output) pair is visited once. It is iterative, so chains of any depth work, and each
producer is one index lookup instead of a scan of the history.

**Walk order.** With records from several sources the rule needs one order. Records in the log
keep the log's order (the order they were appended, as merged by git). A record known only
from notes goes before the first log record that started later than it (by `start`, else
`ts`, then id); records known only from notes are ordered the same way among themselves. So a
clone whose log holds everything walks exactly as the log alone says, and a clone with only
notes orders runs by when they started (microseconds since ntrk 0.2; 0.1.0 records carry whole
seconds, so two of them from the same second fall back to id order).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ntrk.record import Record


@dataclass(frozen=True, slots=True)
class Step:
    """One run in a lineage, and the output of it that the lineage passes through."""

    record: Record
    output: str | None


@dataclass(frozen=True, slots=True)
class Produced:
    """An output of the run at `position` in the walk order."""

    position: float
    path: str
    md5: str


@dataclass(frozen=True)
class Lineage:
    """The steps that made a file, roots first, and how each file they name compares now.

    `states` maps (path, recorded md5) to `missing`, `modified`, or nothing for a file that
    still holds the recorded bytes (or cannot be checked).
    """

    steps: list[Step]
    states: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def state(self, path: str | None, md5: str | None) -> str | None:
        """`missing`, `modified` or None for the file `path` recorded with `md5`."""
        if path is None or md5 is None:
            return None
        return self.states.get((path, md5))


class RecordIndex(Protocol):
    """What the walk and the resolution of a target ask of the history (see `index`)."""

    end: float  # a position after every record

    def position(self, record_id: str) -> float | None: ...

    def record_at(self, position: float) -> Record: ...

    def producer_before(self, md5: str, before: float, exclude_id: str) -> Produced | None: ...

    def newest_with_md5(self, md5: str) -> Produced | None: ...

    def newest_at_path(self, path: str, md5: str | None = None) -> Produced | None: ...


def walk(index: RecordIndex, start: Record, output: str | None, position: float) -> list[Step]:
    """The steps that made `output` of `start`, raw inputs first, `start` last."""
    steps: list[Step] = []
    visited: set[tuple[str, str | None]] = set()
    pending: list[tuple[Record, str | None, float]] = [(start, output, position)]
    # Depth-first, preorder, inputs in recorded order: the order 0.1.0's recursion printed.
    while pending:
        rec, out, at = pending.pop()
        if (rec.id, out) in visited:
            continue
        visited.add((rec.id, out))
        steps.append(Step(rec, out))
        producers = []
        for source in rec.inputs:
            found = index.producer_before(source.md5, at, rec.id)
            if found is not None:
                producers.append((index.record_at(found.position), found.path, found.position))
        pending.extend(reversed(producers))
    steps.reverse()
    return steps


def order_key(rec: Record) -> str:
    """The record's place among records known only from notes: start time, then id."""
    return f"{rec.order_time}\0{rec.id}"


def place_note_only(
    log_records: Iterable[tuple[str, float]], note_only: Iterable[tuple[str, int]]
) -> dict[int, float]:
    """Positions for records known only from notes, given the log's (order key, position).

    Each goes just before the first log record whose key is greater than its own (see the
    module docstring); those that land between the same two log records keep their key
    order, spread evenly over the gap. `note_only` holds (order key, row id) pairs.
    """
    by_key = sorted(log_records)
    keys = [key for key, _ in by_key]
    suffix_min = [math.inf] * (len(by_key) + 1)
    for index in range(len(by_key) - 1, -1, -1):
        suffix_min[index] = min(suffix_min[index + 1], by_key[index][1])
    last = max((position for _, position in by_key), default=0)
    groups: dict[float, list[tuple[str, int]]] = {}
    for key, rid in note_only:
        before = suffix_min[bisect.bisect_right(keys, key)]
        groups.setdefault(last + 1 if before == math.inf else before, []).append((key, rid))
    positions = {}
    for before, members in groups.items():
        members.sort()
        for rank, (_, rid) in enumerate(members, start=1):
            positions[rid] = before - 1 + rank / (len(members) + 1)
    return positions
