"""The lineage index: every known record in SQLite, `.ntrk/index.sqlite`, kept up to date.

The index is derived, never a source of truth: deleting it is always safe and changes no
answer. `nt trace` and `nt track` bring it up to date on every call, doing work proportional
to what changed:

- the log is append-only, so the index remembers the byte offset it has read to, plus a
  fingerprint of what lies before it (its length and 16 sampled windows); new lines after the
  offset are added, and a log that was rewritten (a merge, an edit) is read again from the
  start;
- each notes ref is remembered by its commit id; when it moved forward, only the note blobs
  that changed since are read; any other move rebuilds the index.

A corrupt index, one from another schema version, or one that cannot be written (a read-only
`.ntrk/`) is rebuilt or replaced by an in-memory one: the answer is the same, only slower.

Walk order (defined in `lineage`): log records are at positions 1, 2, 3... in log order; a
record known only from notes sits just before the first log record that started later than
it, at a fractional position between that record and the one before.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pygit2

from ntrk import layout
from ntrk import record as record_mod
from ntrk.console import Progress, warn
from ntrk.lineage import Produced, order_key, place_note_only
from ntrk.record import Record
from ntrk.store import notes, runlog

SCHEMA_VERSION = "1"
_WINDOWS = 16
_WINDOW_BYTES = 256
_BUSY_TIMEOUT_MS = 30_000
_BATCH = 5_000
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (
    rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, pos REAL NOT NULL,
    from_log INTEGER NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL);
CREATE INDEX records_pos ON records (pos);
CREATE TABLE by_md5 (md5 TEXT NOT NULL, rid INTEGER NOT NULL, path TEXT NOT NULL);
CREATE INDEX by_md5_md5 ON by_md5 (md5);
CREATE TABLE by_path (path TEXT NOT NULL, rid INTEGER NOT NULL, md5 TEXT NOT NULL);
CREATE INDEX by_path_path ON by_path (path);
"""


class LineageIndex:
    """Records in walk order, queried by output md5 and output path (see `lineage.walk`)."""

    end = math.inf  # the position of a record known from nowhere but its sidecar

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._cache: dict[float, Record] = {}

    def close(self) -> None:
        """Release the database (and its locks) now rather than at garbage collection."""
        self._db.close()

    def position(self, record_id: str) -> float | None:
        row = self._db.execute("SELECT pos FROM records WHERE id = ?", (record_id,)).fetchone()
        return None if row is None else float(row[0])

    def record_at(self, position: float) -> Record:
        if position not in self._cache:
            row = self._db.execute("SELECT json FROM records WHERE pos = ?", (position,)).fetchone()
            self._cache[position] = record_mod.parse_json(row[0])
        return self._cache[position]

    def producer_before(self, md5: str, before: float, exclude_id: str) -> Produced | None:
        rows = self._db.execute(
            "SELECT r.pos, m.path FROM by_md5 m JOIN records r ON r.rid = m.rid"
            " WHERE m.md5 = ? AND r.pos < ? AND r.id != ? ORDER BY r.pos DESC LIMIT 1",
            (md5, before, exclude_id),
        ).fetchone()
        return None if rows is None else Produced(float(rows[0]), rows[1], md5)

    def newest_with_md5(self, md5: str) -> Produced | None:
        return self.producer_before(md5, math.inf, "")

    def newest_at_path(self, path: str, md5: str | None = None) -> Produced | None:
        query = (
            "SELECT r.pos, p.md5 FROM by_path p JOIN records r ON r.rid = p.rid WHERE p.path = ?"
        )
        params: tuple[str, ...] = (path,)
        if md5 is not None:
            query += " AND p.md5 = ?"
            params += (md5,)
        row = self._db.execute(query + " ORDER BY r.pos DESC LIMIT 1", params).fetchone()
        return None if row is None else Produced(float(row[0]), path, row[1])

    def records(self, newest_first: bool = False) -> Iterator[Record]:
        """Every record, in walk order (parses each: for listings and tests, not the walk)."""
        order = "DESC" if newest_first else "ASC"
        for (text,) in self._db.execute(f"SELECT json FROM records ORDER BY pos {order}"):
            yield record_mod.parse_json(text)

    def latest_outputs(self) -> list[Produced]:
        """For every path any run wrote, the newest run that wrote it."""
        rows = self._db.execute(
            "SELECT p.path, max(r.pos), p.md5 FROM by_path p JOIN records r ON r.rid = p.rid"
            " GROUP BY p.path ORDER BY p.path"
        )
        return [Produced(float(pos), path, md5) for path, pos, md5 in rows]


def empty() -> LineageIndex:
    """An index with no records (tracing outside any repository)."""
    return LineageIndex(_connect(":memory:"))


def open_index(root: Path, git: pygit2.Repository | None) -> LineageIndex:
    """The repository's index, brought up to date with its log and notes."""
    path = layout.store_dir(root) / layout.INDEX_NAME
    db = None
    if layout.store_dir(root).is_dir():
        try:
            runlog.ensure_store(root)  # its .gitignore keeps the index out of `git add .ntrk`
            db = _open_file(path)
        except OSError:
            db = None
    if db is None:
        db = _connect(":memory:")
    try:
        _Updater(db, root, git).run()
    except sqlite3.DatabaseError as exc:
        # A corrupt file, or a disk that cannot take the update: answer from memory instead.
        warn(f"{path} is unusable ({exc}); using a temporary index (delete it to rebuild)")
        db = _connect(":memory:")
        _Updater(db, root, git).run()
    return LineageIndex(db)


def _open_file(path: Path) -> sqlite3.Connection | None:
    try:
        db = _connect(str(path))
        version = _meta(db, "schema")
        if version != SCHEMA_VERSION:
            db.close()
            path.unlink()
            db = _connect(str(path))
        return db
    except sqlite3.DatabaseError:
        path.unlink(missing_ok=True)
        try:
            return _connect(str(path))
        except sqlite3.DatabaseError:
            return None
    except OSError:
        return None


def _connect(target: str) -> sqlite3.Connection:
    db = sqlite3.connect(target, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
    db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
        db.execute("PRAGMA journal_mode = WAL") if target != ":memory:" else None
        db.executescript(_SCHEMA)
        db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
    return db


def _meta(db: sqlite3.Connection, key: str) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None else str(row[0])


@dataclass
class _Updater:
    """One refresh of the index, inside one write transaction."""

    db: sqlite3.Connection
    root: Path
    git: pygit2.Repository | None

    def run(self) -> None:
        tips = notes.tips(self.git) if self.git is not None else {}
        known = json.loads(_meta(self.db, "log") or "null")
        if (
            known
            and _meta(self.db, "notes") == json.dumps(tips)
            and _log_unchanged(self.root, known)
        ):
            return  # the warm path: nothing changed since the last call
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._update(tips)  # reads the state again: another process may have updated it
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _update(self, tips: dict[str, str]) -> None:
        known_log = json.loads(_meta(self.db, "log") or "null")
        known_tips: dict[str, str] = json.loads(_meta(self.db, "notes") or "{}")
        rebuild = not _log_continues(self.root, known_log) or any(
            not self._notes_moved_forward(known_tips.get(ref), tips.get(ref))
            for ref in set(known_tips) | set(tips)
        )
        if rebuild:
            self.db.executescript("DELETE FROM records; DELETE FROM by_md5; DELETE FROM by_path;")
            known_log, known_tips = None, {}
        start = int(known_log["offset"]) if known_log else 0
        lineno = int(known_log["lineno"]) if known_log else 1
        reached = runlog.Position(start, lineno)
        appended = self._add_log(runlog.read(self.root, start, lineno, reached))
        from_notes = self._add_notes(known_tips, tips)
        if from_notes or (appended and self._note_only_placement_changed(appended)):
            self._place_note_only_records()
        state = {
            "offset": reached.offset,
            "lineno": reached.lineno,
            "windows": _fingerprint(self.root, reached.offset),
        }
        self._set_meta("log", json.dumps(state))
        self._set_meta("notes", json.dumps(tips))

    # -- the log --------------------------------------------------------------------------

    def _add_log(self, entries: Iterable[runlog.LogEntry]) -> list[str]:
        """Add log records after the last one; return the order keys of those added."""
        seq = self.db.execute("SELECT coalesce(max(pos), 0) FROM records WHERE from_log").fetchone()
        next_seq = math.floor(seq[0]) + 1
        was_empty = self.db.execute("SELECT count(*) FROM records").fetchone()[0] == 0
        keys: list[str] = []
        pending: list[tuple[int, Record, str, float, bool]] = []
        seen: set[str] = set()
        with Progress("indexing the log", "record(s)") as progress:
            for entry in entries:
                rec = entry.record
                if rec.id in seen:
                    continue  # the same id twice in the log: the first one stands
                seen.add(rec.id)
                # A log record keeps rid = its sequence number; notes-only records get rids
                # below zero, so the two never collide.
                existing = None if was_empty else self._existing(rec.id)
                if existing is not None and existing[1]:
                    continue
                if existing is not None:  # known from notes until now: the log places it
                    self.db.execute(
                        "UPDATE records SET pos = ?, from_log = 1 WHERE rid = ?",
                        (next_seq, existing[0]),
                    )
                else:
                    pending.append((next_seq, rec, entry.text, float(next_seq), True))
                keys.append(order_key(rec))
                next_seq += 1
                if len(pending) >= _BATCH:
                    self._insert_many(pending)
                    pending.clear()
                progress.update(len(keys))
            self._insert_many(pending)
        return keys

    def _existing(self, record_id: str) -> tuple[int, int] | None:
        row = self.db.execute("SELECT rid, from_log FROM records WHERE id = ?", (record_id,))
        found = row.fetchone()
        return None if found is None else (int(found[0]), int(found[1]))

    # -- the notes ------------------------------------------------------------------------

    def _notes_moved_forward(self, old: str | None, new: str | None) -> bool:
        if old == new or old is None:
            return True
        if new is None or self.git is None:
            return False
        try:
            return bool(self.git.descendant_of(new, old))
        except (pygit2.GitError, ValueError):
            return False

    def _add_notes(self, known: dict[str, str], tips: dict[str, str]) -> int:
        """Add records from notes that changed since `known`; return how many were new."""
        if self.git is None:
            return 0
        added = 0
        for ref, tip in tips.items():
            if known.get(ref) == tip:
                continue
            for annotated, line in notes.changed_lines(self.git, known.get(ref), tip):
                if line.record is None:
                    warn(f"{ref}: note on {annotated[:8]} skipped, not a record ({line.problem})")
                    continue
                exists = self.db.execute(
                    "SELECT 1 FROM records WHERE id = ?", (line.record.id,)
                ).fetchone()
                if exists is None:
                    rid = self.db.execute("SELECT min(0, coalesce(min(rid), 0)) - 1 FROM records")
                    self._insert_many(
                        [(rid.fetchone()[0], line.record, line.text, math.inf, False)]
                    )
                    added += 1
        return added

    def _note_only_placement_changed(self, appended_keys: list[str]) -> bool:
        """Whether new log records started before a note-only record placed at the end."""
        row = self.db.execute(
            "SELECT max(key) FROM records WHERE NOT from_log AND pos > "
            "(SELECT coalesce(max(pos), 0) FROM records WHERE from_log) - ?",
            (len(appended_keys),),
        ).fetchone()
        return row[0] is not None and min(appended_keys) <= row[0]

    def _place_note_only_records(self) -> None:
        """Give every note-only record its position before the first later log record."""
        log_rows = self.db.execute("SELECT key, pos FROM records WHERE from_log").fetchall()
        note_only = self.db.execute("SELECT key, rid FROM records WHERE NOT from_log").fetchall()
        positions = place_note_only(log_rows, note_only)
        self.db.executemany(
            "UPDATE records SET pos = ? WHERE rid = ?",
            [(position, rid) for rid, position in positions.items()],
        )

    # -- rows -----------------------------------------------------------------------------

    def _insert_many(self, rows: list[tuple[int, Record, str, float, bool]]) -> None:
        """Insert records (rid, record, JSON text, position, from the log?) with their outputs."""
        self.db.executemany(
            "INSERT INTO records (rid, id, pos, from_log, key, json) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (rid, rec.id, pos, int(log), order_key(rec), text)
                for rid, rec, text, pos, log in rows
            ],
        )
        by_md5 = []
        by_path = []
        for rid, rec, *_ in rows:
            seen: set[str] = set()
            for output in rec.outputs:
                if output.md5 not in seen:  # within one run, the first output with given bytes
                    seen.add(output.md5)
                    by_md5.append((output.md5, rid, output.path))
                by_path.append((output.path, rid, output.md5))
        self.db.executemany("INSERT INTO by_md5 VALUES (?, ?, ?)", by_md5)
        self.db.executemany("INSERT INTO by_path VALUES (?, ?, ?)", by_path)

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


# --- the log's fingerprint -------------------------------------------------------------------


def _fingerprint(root: Path, offset: int) -> str:
    """The fingerprint of the log's first `offset` bytes (see `_windows`)."""
    try:
        with layout.log_path(root).open("rb") as stream:
            return _windows(stream, offset)
    except OSError:
        return _windows(None, 0)


def _windows(stream: BinaryIO | None, offset: int) -> str:
    """md5 of the length and of 16 evenly spread 256-byte windows of the first `offset` bytes."""
    digest = hashlib.md5(str(offset).encode(), usedforsecurity=False)
    if stream is not None and offset:
        for index in range(_WINDOWS):
            at = max(0, min(offset - _WINDOW_BYTES, offset * index // (_WINDOWS - 1)))
            stream.seek(at)
            digest.update(stream.read(min(_WINDOW_BYTES, offset)))
    return digest.hexdigest()


def _log_continues(root: Path, known: dict[str, Any] | None) -> bool:
    """Whether the log still begins with the bytes the index has read."""
    if known is None:
        return True
    offset = int(known["offset"])
    return _log_size(root) >= offset and _fingerprint(root, offset) == known["windows"]


def _log_unchanged(root: Path, known: dict[str, Any]) -> bool:
    """Whether the log is exactly as long as what the index read, with the same fingerprint."""
    offset = int(known["offset"])
    return _log_size(root) == offset and _fingerprint(root, offset) == known["windows"]


def _log_size(root: Path) -> int:
    try:
        return layout.log_path(root).stat().st_size
    except OSError:
        return 0
