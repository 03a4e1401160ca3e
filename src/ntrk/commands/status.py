"""`nt status`: is every recorded output still what its last run made, from today's inputs?

For the newest run that wrote each output:

- `missing`: the output is gone;
- `modified`: the output's bytes differ from what the run wrote;
- `stale`: an input now differs from what the run read (or is gone), the script's blob at HEAD
  differs from the one that ran, or an input's own producer is not `ok` (staleness flows
  down the chain, with the reason);
- `ok`: none of that.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from ntrk.lineage import Produced
from ntrk.record import Record
from ntrk.repo import Repo
from ntrk.store import index
from ntrk.worktree import WorkTree

# The order `nt status` lists outputs in: what needs attention first.
STATES = ("unknown", "missing", "modified", "stale", "ok")


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
    with closing(index.open_index(repo.root, repo.git)) as history:
        latest = {produced.path: produced for produced in history.latest_outputs()}
        checker = _Checker(repo, history, latest, WorkTree.with_cache(repo.root))
        wanted = list(paths) if paths is not None else sorted(latest)
        results = []
        for path in wanted:
            if path not in latest:
                results.append(OutputStatus(path, "unknown", None, ["no recorded run wrote it"]))
            else:
                results.append(checker.evaluate(path))
    return sorted(results, key=lambda s: (STATES.index(s.state), s.path))


@dataclass
class _Checker:
    repo: Repo
    history: index.LineageIndex
    latest: dict[str, Produced]
    worktree: WorkTree
    memo: dict[str, OutputStatus] = field(default_factory=dict)

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
            for source in self._record(current).inputs:
                known = source.path in self.latest and source.path not in self.memo
                if known and source.path not in on_path:  # on_path: a cycle; cut it
                    pending.append((source.path, False))
        return self.memo[path]

    def _record(self, path: str) -> Record:
        return self.history.record_at(self.latest[path].position)

    def _check(self, path: str) -> OutputStatus:
        rec = self._record(path)
        if not self.worktree.exists(path):
            return OutputStatus(path, "missing", rec)
        current = self.worktree.digest(path)
        if current is None or current.md5 != self.latest[path].md5:
            return OutputStatus(path, "modified", rec, ["changed since its run wrote it"])
        reasons = []
        for source in rec.inputs:
            now = self.worktree.digest(source.path)
            upstream = self.memo.get(source.path)
            if now is None:
                reasons.append(f"input {source.path} is missing")
            elif now.md5 != source.md5:
                reasons.append(f"input {source.path} changed")
            elif upstream is not None and upstream.state != "ok":
                reasons.append(f"upstream {source.path} is {upstream.state}")
        script = rec.script
        if script and script.blob and self.repo.blob_at_head(script.path) != script.blob:
            reasons.append(f"script {script.path} changed since the run")
        return OutputStatus(path, "stale" if reasons else "ok", rec, reasons)
