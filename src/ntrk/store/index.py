"""The lineage index: every known record in SQLite, kept up to date, answering the walk.

The index is derived, never a source of truth: deleting it is always safe and changes no
answer (`indexer` says how it follows its sources). This module owns the file and the
queries:

- It lives in this work tree's git directory (`.git/ntrk/index.sqlite`, per worktree): a
  clone without `.ntrk/` keeps it between commands, it is never committed, and an
  `index.sqlite` found in the work tree is never read.
- Writers (a refresh, a rebuild) hold `index.lock`; a refresh is one transaction. A rebuild
  (a new schema, or a damaged file) writes a complete new database beside the old one and
  renames it into place, so a reader sees the old index or the new one, never a mix.
- A database error during any query rebuilds the index once; if that fails too, the command
  answers from an index built in memory, with one warning.
- A record is validated in Python when a query first uses it; an invalid one is skipped (with
  a warning, once) and the query moves on to the next candidate.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pygit2

from ntrk import layout
from ntrk import record as record_mod
from ntrk.console import CappedWarnings, warn
from ntrk.errors import InvalidRecord
from ntrk.lineage import END, Produced
from ntrk.record import Record
from ntrk.repo import Repo
from ntrk.store import sidecar
from ntrk.store.indexer import (
    SCHEMA,
    SCHEMA_VERSION,
    Indexer,
    path_key,
    path_of_key,
    where_found,
)

_BUSY_TIMEOUT_MS = 30_000
_PAGE = 64
_LOCK_NAME = "index.lock"
# A tree of path components: the directory outputs, each marked with the key _HELD (no path
# component is empty, so it is never a component's name).
_PathTree = dict[str, "_PathTree"]
_HELD = ""


class LineageIndex:
    """Records in walk order, queried by output path and md5 (see `lineage.History`)."""

    def __init__(self, db: sqlite3.Connection, repo: Repo | None, path: Path | None) -> None:
        self._db = db
        self._repo = repo
        self._path = path
        self._records: dict[int, Record | None] = {}
        self._manifests: dict[tuple[str, str], Mapping[str, str] | None] = {}
        self._directory_tree: _PathTree | None = None
        self._recovered = False
        self._invalid = CappedWarnings("records", "invalid records skipped")

    def close(self) -> None:
        """Release the database (and its locks) now rather than at garbage collection."""
        self._db.close()
        self._invalid.close()

    # --- what the lineage rules ask -----------------------------------------------------

    def key_of(self, record_id: str) -> str | None:
        rows = self._rows("SELECT key FROM records WHERE id = ?", (record_id,))
        return str(rows[0][0]) if rows else None

    def writers(
        self, path: str, before: str = END, md5: str | None = None, exclude: str = ""
    ) -> Iterator[Produced]:
        query = (
            "SELECT r.rid, r.key, o.md5, o.path FROM outputs o JOIN records r ON r.rid = o.rid"
            " WHERE o.path = ? AND r.key < ? AND r.id != ?"
        )
        params: tuple[str, ...] = (path_key(path), before, exclude)
        if md5 is not None:
            query += " AND o.md5 = ?"
            params += (md5,)
        return self._produced(query, params)

    def directories_holding(self, path: str) -> list[str]:
        """The directories holding `path` that some run wrote as a directory output, deepest
        first: one query per command, then a walk down a tree of path components, so a path
        a thousand directories deep costs one lookup per component, not one query."""
        if self._directory_tree is None:
            self._directory_tree = {}
            for (key,) in self._rows("SELECT DISTINCT path FROM outputs WHERE dir", ()):
                node = self._directory_tree
                for part in path_of_key(key).split("/"):
                    node = node.setdefault(part, {})
                node[_HELD] = {}
        node, depths, parts = self._directory_tree, [], path.split("/")
        for depth, part in enumerate(parts[:-1], start=1):
            if part not in node:
                break
            node = node[part]
            if _HELD in node:
                depths.append(depth)
        return ["/".join(parts[:depth]) for depth in reversed(depths)]

    def with_md5(self, md5: str, before: str = END, exclude: str = "") -> Iterator[Produced]:
        query = (
            "SELECT r.rid, r.key, o.md5, o.path FROM outputs o JOIN records r ON r.rid = o.rid"
            " WHERE o.md5 = ? AND r.key < ? AND r.id != ?"
        )
        return self._produced(query, (md5, before, exclude))

    def manifest(self, produced: Produced) -> Mapping[str, str] | None:
        """Member md5s of a directory output, from the directory's sidecar in the work tree
        when that sidecar is this very run's."""
        key = (produced.record.id, produced.output)
        if key not in self._manifests:
            found = None
            if self._repo is not None:
                with contextlib.suppress(InvalidRecord):
                    found = sidecar.read(self._repo.root, produced.output)
            same_run = found is not None and found.record.id == produced.record.id
            self._manifests[key] = found.manifest if found is not None and same_run else None
        return self._manifests[key]

    def committed_md5(self, commit: str, path: str, size: int) -> str | None:
        """The md5 of `path` as committed at `commit`, when git has it there with `size` bytes
        (a blob missing from a partial clone counts as unknown: None)."""
        if self._repo is None:
            return None
        git = self._repo.git
        try:
            blob_id = git[commit].peel(pygit2.Commit).tree[path].id
            kind, blob_size = git.odb.read_header(blob_id)
        except (KeyError, ValueError, pygit2.GitError):
            return None
        if kind != pygit2.enums.ObjectType.BLOB or blob_size != size:
            return None
        known = self._rows("SELECT md5 FROM blob_md5 WHERE oid = ?", (str(blob_id),))
        if known:
            return str(known[0][0])
        try:
            digest = hashlib.md5(usedforsecurity=False)
            with pygit2.BlobIO(git[blob_id].peel(pygit2.Blob)) as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(chunk)
        except (KeyError, OSError, pygit2.GitError):
            return None
        md5 = digest.hexdigest()
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("INSERT OR REPLACE INTO blob_md5 VALUES (?, ?)", (str(blob_id), md5))
        return md5

    # --- listings -----------------------------------------------------------------------

    def latest_outputs(self) -> list[Produced]:
        """For every path a valid record wrote, the newest run that wrote it."""
        found: dict[str, Produced] = {}
        rows = self._rows(
            "SELECT o.path, r.rid, r.key, o.md5 FROM outputs o JOIN records r ON r.rid = o.rid"
            " ORDER BY o.path, r.key DESC"
        )
        for stored, rid, key, md5 in rows:
            path = path_of_key(stored)
            if path in found:
                continue
            rec = self._record(rid)
            if rec is not None:
                found[path] = Produced(key, rec, path, md5, path)
        return [found[path] for path in sorted(found)]

    def records(self, newest_first: bool = False) -> Iterator[Record]:
        """Every valid record, in walk order; read a page at a time (keys are unique), so
        `nt log -n 1` of a million records holds one page, not a million ids."""
        order, beyond = ("DESC", "<") if newest_first else ("ASC", ">")
        rows = self._rows(f"SELECT rid, key FROM records ORDER BY key {order} LIMIT ?", (_PAGE,))
        while rows:
            for rid, _ in rows:
                rec = self._record(rid)
                if rec is not None:
                    yield rec
            if len(rows) < _PAGE:
                return
            rows = self._rows(
                f"SELECT rid, key FROM records WHERE key {beyond} ? ORDER BY key {order} LIMIT ?",
                (rows[-1][1], _PAGE),
            )

    def touching(self, path: str) -> Iterator[Record]:
        """Runs that read or wrote `path`, a file under it, or a directory holding it; newest
        first."""
        key = path_key(path.rstrip("/"))
        query = """
            SELECT rid FROM records WHERE rid IN (
              SELECT rid FROM outputs WHERE path = :p OR substr(path, 1, length(:p) + 1) = :p || '/'
                OR substr(:p, 1, length(path) + 1) = path || '/'
              UNION
              SELECT rid FROM inputs WHERE path = :p OR substr(path, 1, length(:p) + 1) = :p || '/'
                OR substr(:p, 1, length(path) + 1) = path || '/')
            ORDER BY key DESC"""
        for (rid,) in self._rows(query, {"p": key}):
            rec = self._record(rid)
            if rec is not None:
                yield rec

    # --- internals ------------------------------------------------------------------------

    def _produced(self, query: str, params: tuple[str, ...]) -> Iterator[Produced]:
        """Rows (rid, key, md5, path) newest first, a page at a time, skipping invalid runs."""
        bound = params[1]
        while True:
            page = self._rows(
                query + f" ORDER BY r.key DESC LIMIT {_PAGE}",
                (params[0], bound, *params[2:]),
            )
            for rid, key, md5, stored in page:
                rec = self._record(rid)
                if rec is not None:
                    path = path_of_key(stored)
                    yield Produced(key, rec, path, md5, path)
            if len(page) < _PAGE:
                return
            bound = page[-1][1]

    def _record(self, rid: int) -> Record | None:
        if rid not in self._records:
            rows = self._rows("SELECT text FROM records WHERE rid = ?", (rid,))
            rec = None
            if rows:
                try:
                    rec = record_mod.parse_json(rows[0][0])
                except InvalidRecord as exc:
                    reason = exc
                    self._invalid.add(
                        lambda: f"{self._where(rid)}: skipped, not a valid record ({reason})"
                    )
            self._records[rid] = rec
        return self._records[rid]

    def _where(self, rid: int) -> str:
        """Where the text of record `rid` comes from, named for people."""
        rows = self._rows(
            "SELECT source, place, sort FROM occ WHERE rid = ? ORDER BY sort LIMIT 1", (rid,)
        )
        return where_found(*rows[0])[1] if rows else "a recorded run"

    def _rows(self, query: str, params: Any = ()) -> list[Any]:
        """Run a query; a damaged database is rebuilt once, then replaced by one in memory."""
        try:
            return self._db.execute(query, params).fetchall()
        except sqlite3.DatabaseError as exc:
            if self._recovered:
                raise
            self._recover(exc)
            return self._db.execute(query, params).fetchall()

    def _recover(self, error: sqlite3.DatabaseError) -> None:
        self._recovered = True
        self._records.clear()
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        db = None
        if self._path is not None:
            with contextlib.suppress(sqlite3.Error, OSError):
                db = _rebuild(self._path, self._repo)
        if db is None:
            warn(f"the lineage index is unusable ({error}); answering from memory this time")
            db = _in_memory(self._repo)
        self._db = db


def empty() -> LineageIndex:
    """An index with no records (tracing outside any repository)."""
    return LineageIndex(_in_memory(None), None, None)


def open_index(repo: Repo) -> LineageIndex:
    """The repository's index, brought up to date with its log, notes and sidecars."""
    path = repo.cache_dir / layout.INDEX_NAME
    try:
        repo.cache_dir.mkdir(parents=True, exist_ok=True)
        db = _open_current(path, repo)
    except (OSError, sqlite3.Error):
        db = None  # a read-only git directory: slower, from memory, the same answer
    if db is None:
        return LineageIndex(_in_memory(repo), repo, None)
    return LineageIndex(db, repo, path)


def _open_current(path: Path, repo: Repo) -> sqlite3.Connection:
    """The index at `path`, rebuilt if absent, damaged or of another schema, then refreshed."""
    try:
        db = _connect(path)
        if _schema(db) != SCHEMA_VERSION:
            db.close()
            return _rebuild(path, repo)
        if Indexer(db, repo).changed():
            with _locked(path):
                db.execute("BEGIN IMMEDIATE")
                try:
                    Indexer(db, repo).run()
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
        return db
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            raise
        return _rebuild(path, repo)


def _rebuild(path: Path, repo: Repo | None) -> sqlite3.Connection:
    """Build a complete new index beside `path` and rename it into place, under the lock."""
    with _locked(path):
        temporary = path.with_name(f"{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            db = sqlite3.connect(temporary, isolation_level=None)
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            _create(db)
            db.execute("BEGIN")
            Indexer(db, repo).run()
            db.execute("COMMIT")
            db.close()
            # A journal left by a writer that crashed belongs to the old file; with the lock
            # held no writer is alive, and the journal must not be applied to the new file.
            for suffix in ("-journal", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{path}{suffix}")
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
    return _connect(path)


def _in_memory(repo: Repo | None) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    _create(db)
    Indexer(db, repo).run()
    return db


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
    db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    return db


def _create(db: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)  # not executescript: it would commit an open transaction
    db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))


def _schema(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None else str(row[0])


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """The index writers' lock (readers need none: SQLite's own locks serve them)."""
    fd = os.open(path.with_name(_LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
