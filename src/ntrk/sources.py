"""Where records come from, and the one order they are walked in."""

from __future__ import annotations

from ntrk import runlog
from ntrk.lineage import History
from ntrk.repo import Repo


def load_history(repo: Repo) -> History:
    """Every record the repository knows, oldest first (log order)."""
    return History.of(entry.record for entry in runlog.read(repo.root))
