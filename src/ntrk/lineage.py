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

from dataclasses import dataclass
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
