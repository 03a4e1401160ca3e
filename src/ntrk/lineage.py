"""The lineage walk: from one output back to the raw inputs, over an indexed history.

The walk keeps 0.1.0's rule: an input's producer is the newest run *before* the consuming run
(never the run itself, never a later run that re-made the same bytes), and each
(run, output) pair is visited once. It is iterative, so chains of any depth work, and each
producer is found by an index lookup instead of a scan of the history.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field

from ntrk.record import Record


@dataclass(frozen=True, slots=True)
class Step:
    """One run in a lineage, and the output of it that the lineage passes through."""

    record: Record
    output: str | None


@dataclass(frozen=True, slots=True)
class Produced:
    """An output of the run at `position` in a history."""

    position: int
    path: str
    md5: str


@dataclass
class History:
    """Records in walk order (oldest first), indexed by output md5 and output path."""

    records: list[Record] = field(default_factory=list)
    _positions: dict[str, int] = field(default_factory=dict)
    _by_md5: dict[str, list[Produced]] = field(default_factory=dict)
    _by_path: dict[str, list[Produced]] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Iterable[Record]) -> History:
        """Index `records`, already in walk order; a repeated id keeps its first place."""
        history = cls()
        for rec in records:
            history.add(rec)
        return history

    def add(self, rec: Record) -> None:
        """Append one record (newest so far) to the history."""
        if rec.id in self._positions:
            return
        position = len(self.records)
        self.records.append(rec)
        self._positions[rec.id] = position
        seen_md5: set[str] = set()
        for output in rec.outputs:
            produced = Produced(position, output.path, output.md5)
            # Within one run, the first output with given bytes is the one that answers (0.1.0).
            if output.md5 not in seen_md5:
                seen_md5.add(output.md5)
                self._by_md5.setdefault(output.md5, []).append(produced)
            self._by_path.setdefault(output.path, []).append(produced)

    def __len__(self) -> int:
        return len(self.records)

    def position(self, record_id: str) -> int | None:
        """Where a record stands in the history, if it is there."""
        return self._positions.get(record_id)

    def producer_before(self, md5: str, before: int, exclude_id: str) -> Produced | None:
        """The newest output with `md5` made by a run before position `before`."""
        produced = self._by_md5.get(md5, [])
        at = bisect_left(produced, before, key=lambda p: p.position)
        for candidate in reversed(produced[:at]):
            if self.records[candidate.position].id != exclude_id:
                return candidate
        return None

    def newest_with_md5(self, md5: str) -> Produced | None:
        """The newest output with these bytes, wherever it was written."""
        produced = self._by_md5.get(md5)
        return produced[-1] if produced else None

    def newest_at_path(self, path: str, md5: str | None = None) -> Produced | None:
        """The newest output written at `path` (with these bytes, when `md5` is given)."""
        for produced in reversed(self._by_path.get(path, [])):
            if md5 is None or produced.md5 == md5:
                return produced
        return None


def walk(history: History, start: Record, output: str | None, position: int) -> list[Step]:
    """The steps that made `output` of `start`, raw inputs first, `start` last."""
    steps: list[Step] = []
    visited: set[tuple[str, str | None]] = set()
    pending: list[tuple[Record, str | None, int]] = [(start, output, position)]
    # Depth-first, preorder, inputs in recorded order: the order 0.1.0's recursion printed.
    while pending:
        rec, out, at = pending.pop()
        if (rec.id, out) in visited:
            continue
        visited.add((rec.id, out))
        steps.append(Step(rec, out))
        producers = []
        for source in rec.inputs:
            found = history.producer_before(source.md5, at, rec.id)
            if found is not None:
                producers.append((history.records[found.position], found.path, found.position))
        pending.extend(reversed(producers))
    steps.reverse()
    return steps
