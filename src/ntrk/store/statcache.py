"""The stat cache: a file whose stat data is unchanged since ntrk hashed it is not hashed again.

Like git's index and DVC's state database, an entry is keyed by path (its bytes: a file name
need not be UTF-8) and trusted only while
size, mtime, ctime, inode and device are all unchanged. Without git's "racy" trap: a file
modified within `RACY_NS` of the moment it was hashed could change again without its mtime
moving, so such an entry is never trusted and the file is hashed again.

It lives in the work tree's git directory (`.git/ntrk/stat-cache.sqlite`), never in the work
tree, and like the index it is derived: deleting it changes no answer. A cache that cannot be
opened or written is simply not used. New entries are written together, in one transaction,
when the cache is closed (or every `_FLUSH_EVERY` entries): a transaction per file cost a
journal sync each, 2 ms per output of a run with thousands.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from ntrk.hashing import Digest
from ntrk.layout import STAT_CACHE_NAME

_FLUSH_EVERY = 1000
RACY_NS = 2_000_000_000  # coarser than any common file system's timestamps (FAT: 2 s)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS hashes (
    path BLOB PRIMARY KEY, size INTEGER, mtime INTEGER, ctime INTEGER, ino INTEGER,
    dev INTEGER, hashed_at INTEGER, md5 TEXT);
"""


class StatCache:
    """md5s of regular files, keyed by their stat data."""

    def __init__(self, cache_dir: Path | None) -> None:
        self._db: sqlite3.Connection | None = None
        # Entries not yet written, by path: (size, mtime, ctime, ino, dev, hashed_at, md5).
        self._pending: dict[bytes, tuple[int, int, int, int, int, int, str]] = {}
        if cache_dir is None:
            return
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(cache_dir / STAT_CACHE_NAME, timeout=5, isolation_level=None)
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error):
            self._db = None

    def lookup(self, path: Path, info: os.stat_result) -> Digest | None:
        """The cached digest of `path`, if its stat data says it cannot have changed."""
        if self._db is None:
            return None
        key = os.fsencode(path)
        row = self._pending.get(key)
        if row is None:
            try:
                row = self._db.execute(
                    "SELECT size, mtime, ctime, ino, dev, hashed_at, md5 FROM hashes "
                    "WHERE path = ?",
                    (key,),
                ).fetchone()
            except sqlite3.Error:
                return None
        if row is None or tuple(row[:5]) != _stat_key(info):
            return None
        if info.st_mtime_ns + RACY_NS >= row[5]:
            return None  # modified too close to when it was hashed: verify again (git's rule)
        return Digest(md5=row[6], size=info.st_size)

    def store(self, path: Path, info: os.stat_result, digest: Digest, hashed_at: int) -> None:
        """Remember a digest computed from the file `info` describes, starting at `hashed_at`."""
        if self._db is None:
            return
        self._pending[os.fsencode(path)] = (*_stat_key(info), hashed_at, digest.md5)
        if len(self._pending) >= _FLUSH_EVERY:
            self._flush()

    def close(self) -> None:
        if self._db is not None:
            self._flush()
            self._db.close()
            self._db = None

    def _flush(self) -> None:
        if self._db is None or not self._pending:
            return
        with contextlib.suppress(sqlite3.Error), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(path, *entry) for path, entry in self._pending.items()],
            )
        self._pending.clear()


def _stat_key(info: os.stat_result) -> tuple[int, int, int, int, int]:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)
