"""Where records come from, and the one order they are walked in."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from ntrk import runlog
from ntrk.lineage import History
from ntrk.repo import Repo


def load_history(repo: Repo) -> History:
    """Every record the repository knows, oldest first (log order)."""
    with _bulk_allocation():
        return History.of(entry.record for entry in runlog.read(repo.root))


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
