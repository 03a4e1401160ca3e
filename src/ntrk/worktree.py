"""Reading files that records name, without ever leaving the work tree.

Paths in records may come from other people's clones. ntrk only hashes what resolves (symbolic
links followed) to a regular file or directory inside the work tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ntrk.hashing import Digest, hash_path
from ntrk.layout import store_dir
from ntrk.store.statcache import StatCache

MISSING = " [missing]"
MODIFIED = " [modified]"


@dataclass
class WorkTree:
    """The files of a work tree, hashed at most once per path per command."""

    root: Path
    cache: StatCache | None = None
    _digests: dict[str, Digest | None] = field(default_factory=dict)

    @classmethod
    def with_cache(cls, root: Path) -> WorkTree:
        """A work tree whose files are hashed through the repository's stat cache."""
        return cls(root, StatCache(store_dir(root)))

    def inside(self, relpath: str) -> Path | None:
        """The absolute path of `relpath` if it stays inside the work tree, else None."""
        path = (self.root / relpath).resolve()
        return path if path.is_relative_to(self.root) else None

    def digest(self, relpath: str) -> Digest | None:
        """The current digest of `relpath`, or None when it is missing or unreadable."""
        if relpath not in self._digests:
            self._digests[relpath] = self._hash(relpath)
        return self._digests[relpath]

    def exists(self, relpath: str) -> bool:
        path = self.inside(relpath)
        return path is not None and path.exists()

    def marker(self, relpath: str | None, recorded_md5: str | None) -> str:
        """` [missing]`, ` [modified]` or nothing: how the file now compares to the record."""
        path = None if relpath is None or recorded_md5 is None else self.inside(relpath)
        if path is None or relpath is None:
            return ""
        if not path.exists():
            return MISSING
        current = self.digest(relpath)
        if current is None:
            return ""
        return "" if current.md5 == recorded_md5 else MODIFIED

    def _hash(self, relpath: str) -> Digest | None:
        path = self.inside(relpath)
        if path is None:
            return None
        try:
            return hash_path(path, self.cache)
        except OSError:
            return None
