"""`nt status`: is every recorded output still what its last run made, from today's inputs?

For the newest run that wrote each output (or the directory output that holds it):

- `missing`: the output is gone;
- `modified`: the output's bytes differ from what the run wrote;
- `stale`: an input now differs from what the run read (or is gone), the script's blob at HEAD
  differs from the one that ran, or an input's producer (the rule in `lineage`) is not `ok`:
  staleness flows down the chain, with the reason;
- `unverified`: a file inside a directory output whose run left no manifest to check it by;
- `ok`: none of that.

A file that is both an input and an output of the same run (an edit in place) is judged as
the output: the run was meant to change it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from ntrk import lineage
from ntrk.lineage import Produced
from ntrk.record import Record
from ntrk.repo import Repo
from ntrk.store import index
from ntrk.worktree import WorkTree

# The order `nt status` lists outputs in: what needs attention first.
STATES = ("unknown", "missing", "modified", "stale", "unverified", "ok")


@dataclass
class OutputStatus:
    """The state of one recorded output, and why."""

    path: str
    state: str
    record: Record | None
    reasons: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "state": self.state,
            "reasons": self.reasons,
            "record": self.record.id if self.record else None,
        }


def status(repo: Repo, paths: Sequence[str] | None = None) -> list[OutputStatus]:
    """The state of the named outputs (repo-relative), or of every recorded output."""
    with (
        closing(index.open_index(repo)) as history,
        closing(WorkTree.with_cache(repo.root, repo.cache_dir)) as worktree,
    ):
        checker = _Checker(repo, history, worktree)
        wanted = list(paths) if paths is not None else [p.path for p in history.latest_outputs()]
        results = [checker.evaluate(path) for path in wanted]
    return sorted(results, key=lambda s: (STATES.index(s.state), s.path))


@dataclass
class _Checker:
    repo: Repo
    history: index.LineageIndex
    worktree: WorkTree
    memo: dict[str, OutputStatus] = field(default_factory=dict)
    _made: dict[str, Produced | None] = field(default_factory=dict)
    _upstream: dict[str, list[tuple[str, Produced]]] = field(default_factory=dict)

    def evaluate(self, path: str) -> OutputStatus:
        """The status of `path`, its upstream outputs first (iteratively: chains may be deep)."""
        pending = [(path, False)]
        on_path: set[str] = set()
        while pending:
            current, expanded = pending.pop()
            if current in self.memo:
                continue
            if expanded:
                self.memo[current] = self._check(current)
                on_path.discard(current)
                continue
            on_path.add(current)
            pending.append((current, True))
            for _, made in self._upstream_of(current):
                if made.path not in self.memo and made.path not in on_path:  # a cycle: cut
                    pending.append((made.path, False))
        return self.memo[path]

    def _made_by(self, path: str) -> Produced | None:
        if path not in self._made:
            self._made[path] = lineage.latest(self.history, path)
        return self._made[path]

    def _upstream_of(self, path: str) -> list[tuple[str, Produced]]:
        """(input path, the file its producer made) for each input of the run that made
        `path`, leaving out inputs the run itself wrote (edits in place)."""
        if path not in self._upstream:
            found = []
            made = self._made_by(path)
            if made is not None:
                rec = made.record
                written = {entry.path for entry in rec.outputs}
                for source in rec.inputs:
                    if source.path in written:
                        continue
                    producer = lineage.producer(self.history, source, rec, made.key)
                    if producer is not None:
                        found.append((source.path, producer))
            self._upstream[path] = found
        return self._upstream[path]

    def _check(self, path: str) -> OutputStatus:
        made = self._made_by(path)
        if made is None:
            return OutputStatus(path, "unknown", None, ["no recorded run wrote it"])
        rec = made.record
        if not self.worktree.exists(path):
            return OutputStatus(path, "missing", rec)
        current = self.worktree.digest(path)
        if made.md5 is not None and (current is None or current.md5 != made.md5):
            return OutputStatus(path, "modified", rec, ["changed since its run wrote it"])
        reasons = []
        written = {entry.path for entry in rec.outputs}
        upstream_of = dict(self._upstream_of(path))
        for source in rec.inputs:
            if source.path in written:
                continue
            now = self.worktree.digest(source.path)
            producer = upstream_of.get(source.path)
            upstream = self.memo.get(producer.path) if producer is not None else None
            if now is None:
                reasons.append(f"input {source.path} is missing")
            elif now.md5 != source.md5:
                reasons.append(f"input {source.path} changed")
            elif upstream is not None and upstream.state != "ok":
                reasons.append(f"upstream {source.path} is {upstream.state}")
        script = rec.script
        if script and script.blob and self.repo.blob_at_head(script.path) != script.blob:
            reasons.append(f"script {script.path} changed since the run")
        if reasons:
            return OutputStatus(path, "stale", rec, reasons)
        if made.md5 is None:
            why = f"no manifest of {made.output} says what bytes its run wrote here"
            return OutputStatus(path, "unverified", rec, [why])
        return OutputStatus(path, "ok", rec)
