"""The lineage rules: which run made a file, and the walk back to the raw inputs.

**Order ("before").** Runs are ordered by when they ran: a record's `order` field when it has
one, else `start`, else `ts` (whole seconds in 0.1.0 records); a time that is no real one
(month 13, February 31, hour 24) counts as none, and sorts first. Equal times fall back to the
log: a record known only from notes or sidecars comes first, then log records in log order,
then the record id. So a single-branch log orders as 0.1.0 did, and a `merge=union` of two
branches' logs ("ours, then theirs": line order is not time order) still orders by time.

**A clock nobody can run ahead of.** A clone whose clock runs fast, or a forged
`9999-…` record, would otherwise stay "the newest run" of its outputs. So `nt track` writes
`order` = the later of its own start and a nanosecond after the newest time of any record
this work tree had indexed (a hybrid logical clock): a run recorded here after a foreign
record was indexed counts as newer than it, whatever that record claims.

**Producer (the upstream of an input).** For an input at path P with bytes M read by run C,
the producer is, first hit wins:

1. the newest run before C that wrote P with bytes M;
2. for P inside a directory output D: the newest run before C that wrote D, if its sidecar's
   manifest says P held M (or no manifest can tell: then the link is *unverified*);
3. nothing, when a run before C wrote P with other bytes (the file was changed by hand), or
   when P is committed in git with bytes M at C's commit (raw data, not a product);
4. else the newest run before C that wrote bytes M anywhere (the file was renamed or copied).

Never C itself. `nt trace`, `nt status` and `nt rerun` all use this one rule. The walk visits
each (run, output) pair once and is iterative, so chains of any depth work.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ntrk.record import FileRef, Record

# A position after every record: where a record known from nowhere but its sidecar sits.
END = "\uffff"


@dataclass(frozen=True, slots=True)
class Produced:
    """A file as a recorded run left it: the run (and its place in the order), the path it
    wrote, and the bytes. For a member of a directory output, `output` is the directory and
    `md5` the member's bytes (None when no manifest can tell)."""

    key: str
    record: Record
    path: str
    md5: str | None
    output: str

    @property
    def verified(self) -> bool:
        return self.md5 is not None


@dataclass(frozen=True, slots=True)
class Step:
    """One run in a lineage, the file of it that the lineage passes through, and that file's
    recorded bytes (None for a directory member no manifest can vouch for)."""

    record: Record
    output: str | None
    md5: str | None = None


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


class History(Protocol):
    """What the rules ask of the recorded runs (`store.index` answers)."""

    def key_of(self, record_id: str) -> str | None:
        """The record's place in the order, or None when no source holds it."""
        ...

    def writers(
        self, path: str, before: str = END, md5: str | None = None, exclude: str = ""
    ) -> Iterator[Produced]:
        """Runs before `before` that wrote `path` (with bytes `md5`), newest first."""
        ...

    def with_md5(self, md5: str, before: str = END, exclude: str = "") -> Iterator[Produced]:
        """Runs before `before` that wrote bytes `md5` at any path, newest first."""
        ...

    def directories_holding(self, path: str) -> list[str]:
        """The directories holding `path` that some run wrote as a directory, deepest first."""
        ...

    def manifest(self, produced: Produced) -> Mapping[str, str] | None:
        """The member md5s of directory output `produced`, when its sidecar still has them."""
        ...

    def committed_md5(self, commit: str, path: str, size: int) -> str | None:
        """The md5 of `path` as committed at `commit`, if git has it there with `size` bytes."""
        ...


def producer(history: History, source: FileRef, consumer: Record, key: str) -> Produced | None:
    """The run that made input `source` of run `consumer` (at `key`): see the module rule."""
    exclude = consumer.id
    same = next(history.writers(source.path, key, source.md5, exclude), None)
    if same is not None:
        return same
    for directory in history.directories_holding(source.path):
        holder = next(history.writers(directory, key, None, exclude), None)
        if holder is not None:
            return member_of(history, holder, source.path, source.md5)
    if next(history.writers(source.path, key, None, exclude), None) is not None:
        return None
    if history.committed_md5(consumer.commit, source.path, source.size) == source.md5:
        return None
    return next(history.with_md5(source.md5, key, exclude), None)


def member_of(history: History, holder: Produced, path: str, md5: str | None) -> Produced | None:
    """File `path` inside directory output `holder`: verified against its manifest when there
    is one (None when the manifest says other bytes), unverified when there is none."""
    manifest = history.manifest(holder)
    if manifest is None:
        return Produced(holder.key, holder.record, path, None, holder.path)
    member = manifest.get(path[len(holder.path) + 1 :])
    if member is None or (md5 is not None and member != md5):
        return None
    return Produced(holder.key, holder.record, path, member, holder.path)


def latest(history: History, path: str) -> Produced | None:
    """The newest run that wrote `path`, or the directory output holding it (a member)."""
    direct = next(history.writers(path), None)
    if direct is not None:
        return direct
    for directory in history.directories_holding(path):
        holder = next(history.writers(directory), None)
        if holder is not None:
            return member_of(history, holder, path, None)
    return None


def walk(history: History, start: Produced) -> list[Step]:
    """The steps that made `start`, raw inputs first, `start`'s run last."""
    steps: list[Step] = []
    visited: set[tuple[str, str]] = set()
    pending = [start]
    # Depth-first, preorder, inputs in recorded order: the order 0.1.0's recursion printed.
    while pending:
        current = pending.pop()
        rec = current.record
        if (rec.id, current.path) in visited:
            continue
        visited.add((rec.id, current.path))
        steps.append(Step(rec, current.path, current.md5))
        found = [producer(history, source, rec, current.key) for source in rec.inputs]
        pending.extend(reversed([made for made in found if made is not None]))
    steps.reverse()
    return steps
