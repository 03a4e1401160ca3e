"""Reading files that records name, without ever leaving the work tree.

Paths in records may come from other people's clones. ntrk only hashes what resolves (symbolic
links followed) to a regular file or directory inside the work tree.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ntrk.hashing import Digest, hash_path
from ntrk.lineage import Step
from ntrk.store.statcache import StatCache


@dataclass
class WorkTree:
    """The files of a work tree, hashed at most once per path per command."""

    root: Path
    cache: StatCache | None = None
    _digests: dict[str, Digest | None] = field(default_factory=dict)

    @classmethod
    def with_cache(cls, root: Path, cache_dir: Path) -> WorkTree:
        """A work tree whose files are hashed through the stat cache in `cache_dir`."""
        return cls(root, StatCache(cache_dir))

    def close(self) -> None:
        """Write what the stat cache learned."""
        if self.cache is not None:
            self.cache.close()

    def inside(self, relpath: str) -> Path | None:
        """The absolute path of `relpath` if it stays inside the work tree, else None."""
        try:
            path = (self.root / relpath).resolve()
        except (OSError, RuntimeError):  # a name the system refuses; a loop of links
            return None
        return path if path.is_relative_to(self.root) else None

    def digest(self, relpath: str) -> Digest | None:
        """The current digest of `relpath`, or None when it is missing or unreadable."""
        if relpath not in self._digests:
            self._digests[relpath] = self._hash(relpath)
        return self._digests[relpath]

    def exists(self, relpath: str) -> bool:
        path = self.inside(relpath)
        # os.path.exists: False for a name longer than the system allows (Path.exists raises).
        return path is not None and os.path.exists(path)

    def state(self, relpath: str, recorded_md5: str) -> str | None:
        """`missing`, `modified`, or None (unchanged, or outside the tree): how the file now
        compares to what a record says."""
        path = self.inside(relpath)
        if path is None:
            return None
        if not os.path.exists(path):
            return "missing"
        current = self.digest(relpath)
        if current is None:
            return None
        return None if current.md5 == recorded_md5 else "modified"

    def states(self, steps: Iterable[Step]) -> dict[tuple[str, str], str]:
        """The state of every file the steps read or wrote, for rendering a lineage."""
        found = {}
        for step in steps:
            files = [(entry.path, entry.md5) for entry in step.record.inputs + step.record.outputs]
            if step.output and step.md5:
                files.append((step.output, step.md5))  # a member of a directory output
            for key in files:
                if key not in found:
                    state = self.state(*key)
                    if state is not None:
                        found[key] = state
        return found

    def _hash(self, relpath: str) -> Digest | None:
        path = self.inside(relpath)
        if path is None:
            return None
        try:
            return hash_path(path, self.cache)
        except OSError:
            return None
