"""What the observed processes did to each file, gathered from any observer, bounded.

Both observers (the Python audit hook and strace) report the same few kinds of event against
absolute paths; `Events` keeps, per path, the set of kinds seen. Paths are not yet filtered
(the work tree, ntrk's own files) or resolved: `observe.settle` does that once, after the run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

READ = "R"  # opened for reading only
WRITTEN = "W"  # opened for writing, created, or renamed or linked into place
MOVED = "M"  # renamed away
REMOVED = "D"  # unlinked
KINDS = frozenset({READ, WRITTEN, MOVED, REMOVED})

# Distinct paths kept per run. A run that touches more is not one whose files belong in a
# record one by one (declare its directories instead); past this, new paths are counted only.
MAX_PATHS = 100_000


@dataclass
class Events:
    """Per absolute path, the kinds of access seen; and the programs no observer followed."""

    paths: dict[str, set[str]] = field(default_factory=dict)
    unfollowed: set[str] = field(default_factory=set)
    dropped: int = 0  # paths past MAX_PATHS, or an observer's own limit
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, path: str) -> None:
        """Note one access of `kind` to `path`."""
        with self.lock:
            kinds = self.paths.get(path)
            if kinds is None:
                if len(self.paths) >= MAX_PATHS:
                    self.dropped += 1
                    return
                kinds = self.paths[path] = set()
            kinds.add(kind)

    def overflowed(self) -> None:
        """Note that an observer saw more paths than it reported."""
        with self.lock:
            self.dropped += 1

    def program(self, name: str) -> None:
        """Note a program started that the observer could not follow into."""
        with self.lock:
            if len(self.unfollowed) < 64:
                self.unfollowed.add(name)

    def snapshot(self) -> Events:
        """A copy, safe to read while an observer thread may still be adding."""
        with self.lock:
            return Events(
                {path: set(kinds) for path, kinds in self.paths.items()},
                set(self.unfollowed),
                self.dropped,
            )
