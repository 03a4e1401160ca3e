"""Bringing the lineage index up to date with its sources: the log, the notes, the sidecars.

The index must be a pure function of its sources: whatever happened to them (appends,
rewrites, notes added or removed, a notes ref rewound, a sidecar replaced), its answer equals
that of an index built from scratch. So it keeps, for every record, each place the record was
found (an *occurrence*: a log line, a line of a note under one ref, a sidecar), and a record
lives exactly as long as it has one. Removing a source removes its occurrences; a record left
with none is gone.

**Which text a record has** when its places disagree (a forgery, a hand edit): the best-ranked
occurrence's, in this order: the log, `refs/notes/ntrk`, fetched notes refs (by name), then
sidecars; within a source, the first place. A record known only from sidecars (whose recent
ones each list only their own output) is assembled: the first sidecar's fields, every
sidecar's output. Occurrences whose text differs from the record's keep their own text, so a
record never has to be read back from a source.

**Work proportional to the change.**
- The log is remembered by its stat identity, the byte offset read to, and a digest of each
  1 MiB block of those bytes. Appends that `nt track` journaled (see `runlog`) are read from
  the offset; any other change first compares the digests of the old length: same bytes,
  read on; else the log's occurrences are dropped and it is read again.
- Each notes ref is remembered by its commit; a move (forward, backward, sideways) is a tree
  diff that descends only into subtrees that differ.
- Sidecars are those git's index lists (committed or staged), remembered by stat identity;
  the list is read again only when git's index file changed.

**At C speed.** Lines go into a staging table as text; SQLite's JSON functions pick the id,
outputs, inputs and times. Python validates a record fully only when a query uses it (see
`index`). Lines whose paths hold surrogate escapes (file names that are not UTF-8) are the
exception: SQLite cannot hand such strings back, so their paths are read in Python.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2

from ntrk import layout
from ntrk.console import CappedWarnings, Progress
from ntrk.errors import InvalidRecord
from ntrk.record import is_md5, parse_json
from ntrk.repo import Repo
from ntrk.safeio import write_atomic
from ntrk.store import notes, runlog, sidecar
from ntrk.text import json_dumps, json_loads

SCHEMA_VERSION = "8"
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (
    rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, text TEXT NOT NULL,
    best TEXT NOT NULL, special INTEGER NOT NULL, key TEXT NOT NULL DEFAULT '',
    time TEXT, outs TEXT, ins TEXT);
CREATE TABLE occ (
    rid INTEGER NOT NULL, source TEXT NOT NULL, place TEXT NOT NULL, sort TEXT NOT NULL,
    text TEXT);
CREATE TABLE outputs (
    rid INTEGER NOT NULL, path TEXT NOT NULL, md5 TEXT NOT NULL, dir INTEGER NOT NULL);
CREATE TABLE inputs (rid INTEGER NOT NULL, path TEXT NOT NULL);
CREATE TABLE blob_md5 (oid TEXT PRIMARY KEY, md5 TEXT NOT NULL);
CREATE TABLE stage (
    id TEXT, source TEXT NOT NULL, place TEXT NOT NULL, sort TEXT NOT NULL,
    special INTEGER NOT NULL, text TEXT NOT NULL, time TEXT, outs TEXT, ins TEXT);
CREATE TABLE touched (rid INTEGER PRIMARY KEY);
"""
# Made after the first (bulk) load: building an index by one sort is far cheaper than keeping it
# up to date through 100,000 inserts in random order. Later refreshes find them in place.
_PLACE_INDEXES = """
CREATE INDEX IF NOT EXISTS occ_rid ON occ (rid, sort);
CREATE INDEX IF NOT EXISTS occ_source ON occ (source, place);
"""
_LOOKUP_INDEXES = """
CREATE INDEX IF NOT EXISTS records_key ON records (key);
CREATE INDEX IF NOT EXISTS outputs_path ON outputs (path);
CREATE INDEX IF NOT EXISTS outputs_md5 ON outputs (md5);
CREATE INDEX IF NOT EXISTS inputs_path ON inputs (path);
CREATE INDEX IF NOT EXISTS outputs_dirs ON outputs (path) WHERE dir;
"""

LOG_SOURCE = "log"
RANK_LOG, RANK_OWN_NOTES, RANK_FETCHED_NOTES, RANK_SIDECAR = 0, 1, 2, 3
_BATCH = 5_000
_MD5_GLOB = "[0-9a-f]" * 32
# What the index takes from a record's text, each JSON value extracted once (SQLite keeps the
# parse of a text for the other JSON functions of the same row): the fields below, from `j`.
_EXTRACT = """SELECT j ->> '$.id' AS i, j ->> '$.v' AS v, json_type(j, '$.v') AS vt,
    j ->> '$.order' AS o, j ->> '$.start' AS s, j ->> '$.ts' AS t,
    j -> '$.outputs' AS outs, j -> '$.inputs' AS ins"""
# A line is a record as far as the index needs one: strict JSON (SQLite's json_valid refuses NaN
# and Infinity), an object, schema v1, a well-formed id. Checked in C, once per line;
# `record.parse` checks the rest in Python when a query first uses the record, and skips it
# there with one warning when it fails.
_IS_RECORD = """vt = 'integer' AND v = 1 AND typeof(i) = 'text'
    AND length(i) BETWEEN 1 AND 128 AND i NOT GLOB '*[^0-9A-Za-z_.-]*'"""
# A time as records hold it: `2026-11-25T14:05:05Z`, or with one to nine fraction digits.
_DATE_TIME = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]"


def _as_time(value: str) -> str:
    """SQL: `value` as a comparable time with nine fraction digits, or NULL when it is not a
    real time of that form. `date(…, '+0 days')` rewrites an impossible date (February 31)
    to another or to NULL (month 13), so comparing it with its own text keeps only real
    ones: a forged time no clock can reach must not sort after every real one."""
    fraction = f"substr({value}, 21, length({value}) - 21)"
    return f"""CASE
      WHEN typeof({value}) != 'text' OR substr({value}, 1, 19) NOT GLOB '{_DATE_TIME}'
        OR substr({value}, 12, 2) > '23'
        OR date(substr({value}, 1, 10), '+0 days') IS NOT substr({value}, 1, 10) THEN NULL
      WHEN length({value}) = 20 AND substr({value}, 20) = 'Z'
        THEN substr({value}, 1, 19) || '.000000000Z'
      WHEN length({value}) BETWEEN 22 AND 30 AND substr({value}, 20, 1) = '.'
        AND substr({value}, -1) = 'Z' AND {fraction} NOT GLOB '*[^0-9]*'
        THEN substr({value}, 1, 20) || substr({fraction} || '000000000', 1, 9) || 'Z'
      END"""


# When the run ran: `order`, else `start`, else `ts` (see `lineage`).
_TIME = f"coalesce({_as_time('o')}, {_as_time('s')}, {_as_time('t')}, '')"


def _derived_from(json: str) -> str:
    """SQL: (id or NULL, time, outputs, inputs) of the record text `json`, one row."""
    return (
        f"SELECT CASE WHEN {_IS_RECORD} THEN i END AS id, {_TIME} AS time, outs, ins"
        # CASE is lazy: json_type never sees text that is not JSON (it would raise), and a
        # line that is not a JSON object becomes NULL, whose fields are all NULL.
        f" FROM ({_EXTRACT} FROM (SELECT CASE WHEN json_valid({json}) THEN"
        f" CASE WHEN json_type({json}) = 'object' THEN {json} END END AS j))"
    )


def path_key(path: str) -> str:
    """How a path is stored and looked up: itself, or for a name that is not UTF-8 (held as
    surrogate escapes) NUL and the hex of its bytes, which no real path can begin with."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "\0" + path.encode("utf-8", "surrogateescape").hex()
    return path


def path_of_key(key: str) -> str:
    """The path a stored key stands for (see `path_key`)."""
    if key.startswith("\0"):
        return bytes.fromhex(key[1:]).decode("utf-8", "surrogateescape")
    return key


@dataclass
class Indexer:
    """One refresh of an index database, inside the caller's write transaction."""

    db: Any  # sqlite3.Connection
    repo: Repo | None
    staged: int = 0
    _pending: list[tuple[str, str, str, str]] = field(default_factory=list)
    _warnings: dict[str, CappedWarnings] = field(default_factory=dict)

    # --- the whole refresh ------------------------------------------------------------

    def run(self) -> None:
        """Bring every source up to date, then the records they changed."""
        with Progress("indexing lineage", "record(s)") as progress:
            self.progress = progress
            if self.repo is not None:
                self._log()
                self._notes()
                self._sidecars()
            self._flush()
            _script(self.db, _PLACE_INDEXES)
            self._settle()
            _script(self.db, _LOOKUP_INDEXES)
        for collected in self._warnings.values():
            collected.close()

    def changed(self) -> bool:
        """Whether any source may differ from what the index last read (reads, no writes)."""
        if self.repo is None:
            return False
        if self._meta("schema") is None or self._meta("notes") is None:
            return True  # never brought up to date
        known = self._meta_json("log")
        now = _lstat_identity(layout.log_path(self.repo.root))
        if (known.get("id"), known.get("offset")) != (now, now[0] if now else None):
            return True
        return (
            json.dumps(self._tips()) != self._meta("notes")
            or self._sidecar_list_identity() != self._meta_json("sidecars").get("gitindex")
            or self._sidecars_touched()
        )

    # --- the log ----------------------------------------------------------------------

    def _log(self) -> None:
        assert self.repo is not None
        known = self._meta_json("log")
        stream = runlog.open_log(self.repo.root)
        if stream is None:
            if known:
                self._remove(LOG_SOURCE)
            self._set_meta("log", "")
            return
        with stream:
            now = runlog.identity(os.fstat(stream.fileno()))
            offset, lineno, prefix = self._resume_point(stream, known, now)
            if offset == 0 and known:
                self._remove(LOG_SOURCE)
            stream.seek(offset)
            warnings = self._warner(layout.LOG_RELPATH)
            torn = None
            for raw, length in runlog.raw_lines(stream):
                if raw is not None and not raw.endswith(b"\n"):
                    torn = lineno if raw.strip() else None  # read again once it is closed
                    break
                if raw is not None:
                    prefix.update(raw)
                    self._stage_log_line(raw, lineno, warnings)
                else:
                    warnings.add(f"{layout.LOG_RELPATH}:{lineno}: skipped, longer than a record")
                    prefix.update_from(stream, offset, length)
                offset += length
                lineno += 1
            after = runlog.identity(os.fstat(stream.fileno()))
        self._flush()
        if torn is not None:
            warnings.add(
                f"{layout.LOG_RELPATH}:{torn}: skipped, not a valid record "
                "(an interrupted write, repaired on the next append)"
            )
        state = {"id": list(after), "offset": offset, "lineno": lineno, "blocks": prefix.digests()}
        self._set_meta("log", json.dumps(state))

    def _resume_point(
        self, stream: Any, known: dict[str, Any], now: runlog.Identity
    ) -> tuple[int, int, BlockDigests]:
        """Where to read the log from: where the index stopped, when the bytes before that are
        still the ones it read; else from the start."""
        assert self.repo is not None
        start = 0, 1, BlockDigests()
        if not known:
            return start
        try:
            offset, lineno, blocks = int(known["offset"]), int(known["lineno"]), known["blocks"]
            was = runlog.identity_of(known["id"])
        except (KeyError, TypeError, ValueError):
            return start
        if now[0] < offset or not isinstance(blocks, list):
            return start
        # Same file, or only ntrk's own appends since: the prefix is as read. Else it is
        # read again and compared, block by block.
        trusted = was == now or self._journaled(was, now)
        prefix = BlockDigests.resumed(stream, offset, blocks, verify=not trusted)
        return start if prefix is None else (offset, lineno, prefix)

    def _journaled(self, start: runlog.Identity, end: runlog.Identity) -> bool:
        """Whether ntrk's own journaled appends lead from identity `start` to `end`."""
        assert self.repo is not None
        chain = runlog.journal(self.repo.cache_dir)
        current, steps = start, 0
        while current != end and current in chain and steps <= len(chain):
            current, steps = chain[current], steps + 1
        return current == end

    def _stage_log_line(self, raw: bytes, lineno: int, warnings: CappedWarnings) -> None:
        text = raw.strip()
        if not text:
            return
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError:
            warnings.add(f"{layout.LOG_RELPATH}:{lineno}: skipped, not a valid record (not UTF-8)")
            return
        self._stage(LOG_SOURCE, f"{lineno:012d}", RANK_LOG, 0, decoded)

    # --- the notes --------------------------------------------------------------------

    def _notes(self) -> None:
        assert self.repo is not None
        known: dict[str, str] = json.loads(self._meta("notes") or "{}")
        sizes: dict[str, int] = self._meta_json("notes_bytes")
        tips = self._tips()
        for ref in sorted(known.keys() | tips.keys()):
            old, new = known.get(ref), tips.get(ref)
            if old == new:
                continue
            if new is None:
                self._remove(f"n:{ref}")
                sizes.pop(ref, None)
                continue
            # A ref whose notes were not read last time (or never) is read whole.
            size = self._read_ref(ref, old if ref in sizes else None, new, sizes.get(ref, 0))
            if size is None:
                sizes.pop(ref, None)
            else:
                sizes[ref] = size
        self._set_meta("notes", json.dumps(tips))
        self._set_meta("notes_bytes", json.dumps(sizes))

    def _read_ref(self, ref: str, old: str | None, new: str, size: int) -> int | None:
        """Bring one notes ref's occurrences from tip `old` (None: none read) to `new`, and
        return how many bytes its notes hold, `size` being what they held at `old`.

        A ref is read whole or not at all (with one warning): not when its tree repeats its
        own subtrees or holds more than notes.MAX_NOTES notes, nor when its notes hold more
        than notes.MAX_REF_BYTES, a note counted once per object it annotates. The total is
        kept up to date through each diff, so the outcome is the same whatever order the
        notes arrived in. Each blob is read once, however many notes share it.
        """
        assert self.repo is not None
        git = self.repo.git
        source = f"n:{ref}"
        warnings = self._warner(ref)
        old_tree = _tree_of(git, old)
        if old_tree is None:
            self._remove(source)  # nothing read, or the old notes commit is gone
            size = 0
        try:
            try:
                gone, came = notes.diff(git, old_tree, _tree_of(git, new))
            except notes.HostileTree:
                if old_tree is None:
                    raise
                self._remove(source)  # the old tree may be the hostile one: read the new whole
                gone, came, size = {}, notes.diff(git, None, _tree_of(git, new))[1], 0
        except notes.HostileTree as exc:
            self._remove(source)
            warnings.add(f"{ref} not read: its notes tree {exc} — {notes.HOSTILE_HINT}")
            return None
        for annotated, blob_id in gone.items():
            self._remove(source, annotated)
            size -= notes.blob_size(git, blob_id)
        sharing: dict[Any, list[str]] = {}
        for annotated in sorted(came):
            sharing.setdefault(came[annotated], []).append(annotated)
        rank = RANK_OWN_NOTES if ref == layout.NOTES_REF else RANK_FETCHED_NOTES
        for blob_id, annotated_ids in sharing.items():
            size += notes.blob_size(git, blob_id) * len(annotated_ids)
            if size > notes.MAX_REF_BYTES:
                self._remove(source)
                warnings.add(
                    f"{ref} not read: its notes hold more than {notes.MAX_REF_BYTES:,} bytes"
                    f" — {notes.HOSTILE_HINT}"
                )
                return None
            self._stage_note(source, rank, annotated_ids, blob_id, warnings)
        return size

    def _stage_note(
        self,
        source: str,
        rank: int,
        annotated_ids: list[str],
        blob_id: Any,
        warnings: CappedWarnings,
    ) -> None:
        """Stage the lines of one note blob, for every object it annotates."""
        assert self.repo is not None
        where = f"{source[2:]}: the note on {annotated_ids[0][:8]}"
        try:
            lines, truncated = notes.note_lines(self.repo.git, blob_id)
        except notes.NoteUnreadable as exc:
            if notes.first_warning(blob_id):
                fetch = " — nt sync fetches it" if exc.missing else ""
                warnings.add(f"{where} skipped, {exc}{fetch}")
            return
        if truncated:
            warnings.add(f"{where}: lines after the first {notes.MAX_NOTE_LINES:,} skipped")
        payloads = []
        for number, line in enumerate(lines, start=1):
            _, tab, payload = line.partition("\t")
            if not tab or len(payload) > runlog.MAX_LINE_BYTES:
                reason = "not an ntrk note line" if not tab else "longer than a record"
                warnings.add(f"{where}, line {number} skipped ({reason})")
                continue
            payloads.append((number, payload))
        del lines
        for annotated in annotated_ids:
            for number, payload in payloads:
                self._stage(source, annotated, rank, number, payload)

    def _tips(self) -> dict[str, str]:
        return notes.tips(self.repo.git) if self.repo is not None else {}

    # --- sidecars ---------------------------------------------------------------------

    def _sidecars(self) -> None:
        """Read the sidecars git's index lists whose files changed since the last refresh.

        The list is kept apart from the files found at its paths: a listed sidecar that is
        gone for a while (moved away, being restored) is read again when it comes back,
        though git's index never changed.
        """
        assert self.repo is not None
        known = self._meta_json("sidecars")
        files: dict[str, list[int]] = known.get("files", {})
        listed = self._listed_sidecars(known)
        now: dict[str, list[int]] = {}
        warnings = self._warner("sidecars")
        for relpath in listed:
            identity = _lstat_identity(self.repo.root / relpath)
            if identity is None:
                continue
            now[relpath] = identity
            if files.get(relpath) != identity:
                self._remove(_sidecar_source(relpath))
                self._stage_sidecar(relpath, warnings)
        for relpath in files.keys() - now.keys():
            self._remove(_sidecar_source(relpath))
        state = {"gitindex": self._sidecar_list_identity(), "listed": listed, "files": now}
        self._set_meta("sidecars", json.dumps(state))

    def _listed_sidecars(self, known: dict[str, Any]) -> list[str]:
        """The sidecars git's index lists: remembered, or read again when it changed."""
        listed = known.get("listed")
        if known.get("gitindex") == self._sidecar_list_identity() and isinstance(listed, list):
            return [path for path in listed if isinstance(path, str)]
        return sorted(set(self._committed_sidecars()))

    def _sidecars_touched(self) -> bool:
        assert self.repo is not None
        known = self._meta_json("sidecars")
        files = known.get("files", {})
        return any(
            _lstat_identity(self.repo.root / path) != files.get(path)
            for path in self._listed_sidecars(known)
        )

    def _stage_sidecar(self, relpath: str, warnings: CappedWarnings) -> None:
        assert self.repo is not None
        folder, _, name = relpath.rpartition("/")
        output = (f"{folder}/" if folder else "") + name[1:].removesuffix(".ntrk")
        try:
            found = sidecar.read(self.repo.root, output)
        except InvalidRecord as exc:
            warnings.add(f"{relpath}: skipped, not a valid record ({exc})")
            return
        if found is not None:
            self._stage(_sidecar_source(relpath), "", RANK_SIDECAR, 0, found.record.line)

    def _committed_sidecars(self) -> list[str]:
        """The sidecars in git's index (committed or staged), not their temporary names."""
        assert self.repo is not None
        try:
            entries = self.repo.git.index
        except pygit2.GitError:
            return []
        found = []
        for entry in entries:
            name = entry.path.rsplit("/", 1)[-1]
            if name.endswith(".ntrk") and layout.is_sidecar_name(name):
                found.append(entry.path)
        return found

    def _sidecar_list_identity(self) -> list[int] | None:
        assert self.repo is not None
        return _lstat_identity(Path(self.repo.git.path) / "index")

    # --- staging and settling -----------------------------------------------------------

    def _stage(self, source: str, place: str, rank: int, seq: int, text: str) -> None:
        self._pending.append((source, place, f"{rank}\t{source}\t{place}\t{seq:06d}", text))
        if len(self._pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        """Merge the staged lines into the records (one batch)."""
        if not self._pending:
            return
        db = self.db
        # A line that is a record (checked in C, once) gets its id and what the index derives
        # from it, in the same parse; any other line gets NULL.
        db.executemany(
            "INSERT INTO stage (source, place, sort, text, special, id, time, outs, ins)"
            " SELECT ?1, ?2, ?3, ?4, instr(?4, '\\ud') > 0 OR instr(?4, '\\uD') > 0, d.*"
            f" FROM ({_derived_from('?4')}) d",
            self._pending,
        )
        self.staged += len(self._pending)
        self.progress.update(self.staged - self.staged % 1000)
        self._pending.clear()
        for source, place, sort, text in db.execute(
            "SELECT source, place, sort, text FROM stage WHERE id IS NULL"
        ).fetchall():
            self._warn_invalid(source, place, sort, text)
        db.execute("DELETE FROM stage WHERE id IS NULL")
        db.execute(
            "INSERT INTO records (id, text, best, special, time, outs, ins)"
            " SELECT id, text, sort, special, time, outs, ins FROM stage ORDER BY sort"
            " ON CONFLICT (id) DO NOTHING"
        )
        # A better place for a record already known: its text comes from there now.
        better = db.execute(
            "SELECT r.rid, s.text, s.sort, s.special FROM records r JOIN"
            " (SELECT id, min(sort) AS sort FROM stage GROUP BY id) b ON b.id = r.id"
            " JOIN stage s ON s.id = b.id AND s.sort = b.sort WHERE b.sort < r.best"
        ).fetchall()
        for rid, text, sort, special in better:
            self._set_text(rid, text, sort, special)
        db.execute(
            "INSERT INTO occ (rid, source, place, sort, text)"
            " SELECT r.rid, s.source, s.place, s.sort,"
            " CASE WHEN s.text = r.text AND s.source NOT LIKE 's:%' THEN NULL ELSE s.text END"
            " FROM stage s JOIN records r ON r.id = s.id"
        )
        db.execute(
            "INSERT OR IGNORE INTO touched SELECT r.rid FROM stage s JOIN records r USING (id)"
        )
        db.execute("DELETE FROM stage")

    def _remove(self, source: str, place: str | None = None) -> None:
        """Forget every occurrence in `source` (at `place`)."""
        self._flush()
        where, params = (
            ("source = ?", (source,))
            if place is None
            else (
                "source = ? AND place = ?",
                (source, place),
            )
        )
        self.db.execute(f"INSERT OR IGNORE INTO touched SELECT rid FROM occ WHERE {where}", params)
        self.db.execute(f"DELETE FROM occ WHERE {where}", params)

    def _settle(self) -> None:
        """Bring the touched records in line with their occurrences: gone, re-texted, and
        their outputs, inputs and place in the order derived again."""
        db = self.db
        orphans = (
            "SELECT rid FROM touched"
            " WHERE NOT EXISTS (SELECT 1 FROM occ WHERE occ.rid = touched.rid)"
        )
        for table in ("outputs", "inputs", "records"):
            db.execute(f"DELETE FROM {table} WHERE rid IN ({orphans})")
        db.execute("DELETE FROM touched WHERE rid NOT IN (SELECT rid FROM records)")
        rebest = db.execute(
            "SELECT o.rid, o.sort, o.text FROM occ o JOIN touched t USING (rid)"
            " JOIN records r USING (rid)"
            " WHERE o.sort = (SELECT min(sort) FROM occ WHERE occ.rid = o.rid)"
            " AND (o.sort != r.best OR (o.text IS NOT NULL AND o.text != r.text))"
        ).fetchall()
        for rid, sort, text in rebest:
            if text is None:  # the record's own text: only where it comes from changes
                db.execute("UPDATE records SET best = ? WHERE rid = ?", (sort, rid))
            else:
                self._set_text(rid, text, sort, int("\\ud" in text or "\\uD" in text))
        for (rid,) in db.execute(
            "SELECT rid FROM records JOIN touched USING (rid) WHERE best LIKE ?",
            (f"{RANK_SIDECAR}\t%",),
        ).fetchall():
            self._assemble(rid)
        self._derive()
        db.execute("DELETE FROM touched")
        newest = (db.execute("SELECT max(key) FROM records").fetchone()[0] or "").split("\0")[0]
        if newest != self._meta("clock"):
            self._set_meta("clock", newest)
            if self.repo is not None:
                with contextlib.suppress(OSError):
                    write_atomic(self.repo.cache_dir / layout.CLOCK_NAME, newest.encode("ascii"))

    def _set_text(self, rid: int, text: str, best: str, special: int) -> None:
        """Give record `rid` another text, keeping the old one with every place that had it.

        A place whose text is NULL holds the record's own text (the usual case: every source
        has the same line), so the old text is written out to those places first.
        """
        self.db.execute(
            "UPDATE occ SET text = (SELECT text FROM records WHERE rid = ?)"
            " WHERE rid = ? AND text IS NULL",
            (rid, rid),
        )
        self.db.execute(
            "UPDATE records SET text = ?1, best = ?2, special = ?3, (time, outs, ins) ="
            f" (SELECT time, outs, ins FROM ({_derived_from('?1')})) WHERE rid = ?4",
            (text, best, special, rid),
        )
        self.db.execute(
            "UPDATE occ SET text = NULL WHERE rid = ? AND text = ? AND source NOT LIKE 's:%'",
            (rid, text),
        )

    def _assemble(self, rid: int) -> None:
        """A record known only from sidecars: the first one's fields, every one's outputs."""
        texts = [
            text
            for (text,) in self.db.execute(
                "SELECT coalesce(o.text, r.text) FROM occ o JOIN records r USING (rid)"
                " WHERE rid = ? ORDER BY o.sort",
                (rid,),
            )
        ]
        parts = [json_loads(text) for text in texts]
        base = parts[0]
        if not isinstance(base, dict):
            return
        outputs: dict[str, Any] = {}
        for part in parts:
            entries = part.get("outputs") if isinstance(part, dict) else None
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                    outputs.setdefault(entry["path"], entry)
        text = json_dumps({**base, "outputs": [outputs[path] for path in sorted(outputs)]})
        best = f"{RANK_SIDECAR}\t*assembled"
        self._set_text(rid, text, best, int("\\ud" in text or "\\uD" in text))

    def _derive(self) -> None:
        """Outputs, inputs and order keys of the touched records (from what staging derived)."""
        db = self.db
        touched = "SELECT rid FROM touched"
        db.execute(f"DELETE FROM outputs WHERE rid IN ({touched})")
        db.execute(f"DELETE FROM inputs WHERE rid IN ({touched})")
        for table, source, columns, extra in (
            (
                "outputs",
                "outs",
                "rid, path, md5, dir",
                ", e.value ->> '$.md5', e.value ->> '$.files' IS NOT NULL",
            ),
            ("inputs", "ins", "rid, path", ""),
        ):
            # A path that is not text, or an md5 that is not one, is never looked up: the
            # record fails validation when a query uses it.
            db.execute(
                f"INSERT INTO {table} ({columns}) SELECT r.rid, e.value ->> '$.path'{extra}"
                f" FROM records r JOIN touched USING (rid), json_each(r.{source}) e"
                " WHERE NOT r.special AND e.type = 'object' AND e.value ->> '$.md5' GLOB :md5",
                {"md5": _MD5_GLOB},
            )
        for rid, text in db.execute(
            "SELECT rid, text FROM records JOIN touched USING (rid) WHERE special"
        ).fetchall():
            self._derive_in_python(rid, text)
        db.execute(
            "UPDATE records SET key = time || char(0) || coalesce("
            "(SELECT min(place) FROM occ"
            # `+occ.source`: look the record's own places up by rid, never scan a source.
            f" WHERE occ.rid = records.rid AND +occ.source = '{LOG_SOURCE}'), '')"
            " || char(0) || id WHERE rid IN (SELECT rid FROM touched)",
        )

    def _derive_in_python(self, rid: int, text: str) -> None:
        try:
            data = json_loads(text)
        except (ValueError, RecursionError):
            return
        if not isinstance(data, dict):
            return
        for table in ("outputs", "inputs"):
            entries = data.get(table)
            rows = []
            for entry in entries if isinstance(entries, list) else []:
                if not isinstance(entry, dict):
                    continue
                path, md5 = entry.get("path"), entry.get("md5")
                if isinstance(path, str) and isinstance(md5, str) and is_md5(md5):
                    rows.append((rid, path_key(path), md5, entry.get("files") is not None))
            if table == "outputs":
                self.db.executemany(
                    "INSERT INTO outputs (rid, path, md5, dir) VALUES (?, ?, ?, ?)", rows
                )
            else:
                self.db.executemany(
                    "INSERT INTO inputs (rid, path) VALUES (?, ?)", [r[:2] for r in rows]
                )

    # --- helpers ------------------------------------------------------------------------

    def _warn_invalid(self, source: str, place: str, sort: str, text: str) -> None:
        group, where = where_found(source, place, sort)

        def message() -> str:
            try:  # the precise reason, from the one parser every record passes through
                parse_json(text)
                return f"{where}: skipped, not a valid record"
            except InvalidRecord as exc:
                return f"{where}: skipped, not a valid record ({exc})"

        self._warner(group).add(message)

    def _warner(self, source: str) -> CappedWarnings:
        if source not in self._warnings:
            self._warnings[source] = CappedWarnings(source)
        return self._warnings[source]

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _meta_json(self, key: str) -> dict[str, Any]:
        value = self._meta(key)
        if not value:
            return {}
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def _script(db: Any, statements: str) -> None:
    """Run SQL statements one by one (executescript would commit the open transaction)."""
    for statement in statements.split(";"):
        if statement.strip():
            db.execute(statement)


def where_found(source: str, place: str, sort: str) -> tuple[str, str]:
    """The source a line came from (for capping warnings) and how to name the line to people:
    `.ntrk/runs.jsonl:7`, `refs/notes/ntrk: the note on 1a2b3c4d, line 2`, `.out.csv.ntrk`."""
    if source == LOG_SOURCE:
        return layout.LOG_RELPATH, f"{layout.LOG_RELPATH}:{int(place)}"
    if source.startswith("n:"):
        line = int(sort.rsplit("\t", 1)[1])
        return source[2:], f"{source[2:]}: the note on {place[:8]}, line {line}"
    return "sidecars", path_of_key(source[2:])


def _sidecar_source(relpath: str) -> str:
    return "s:" + path_key(relpath)


def _tree_of(git: pygit2.Repository, commit_id: str | None) -> pygit2.Tree | None:
    if commit_id is None:
        return None
    try:
        tree: pygit2.Tree = git[commit_id].peel(pygit2.Commit).tree
    except (KeyError, ValueError, pygit2.GitError):
        return None
    return tree


def _lstat_identity(path: Path) -> list[int] | None:
    try:
        return list(runlog.identity(os.lstat(path)))
    except OSError:
        return None


class BlockDigests:
    """Fingerprints of a file's first bytes, to tell whether they changed since the index read
    them: a BLAKE2b digest per 1 MiB block, the last block partial. A CRC would not do:
    someone who rewrites a pushed log can choose bytes that keep it."""

    BLOCK = 1 << 20

    def __init__(self, done: list[str] | None = None) -> None:
        self.done = done or []  # the digests of the full blocks
        self.hasher = hashlib.blake2b(digest_size=16)
        self.filled = 0

    @classmethod
    def resumed(
        cls, stream: Any, length: int, known: list[Any], verify: bool
    ) -> BlockDigests | None:
        """The digests of the first `length` bytes of `stream`, ready to take more, or None
        when they differ from `known` (with `verify`, every block is read again; without,
        only the partial last one, to go on hashing it)."""
        full = length // cls.BLOCK
        if len(known) != full + 1 or not all(isinstance(digest, str) for digest in known):
            return None
        if verify:
            digests = cls()
            digests.update_from(stream, 0, length)
        else:
            digests = cls(list(known[:full]))
            digests.update_from(stream, full * cls.BLOCK, length - full * cls.BLOCK)
        return digests if digests.digests() == known else None

    def update(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            take = min(len(view), self.BLOCK - self.filled)
            self.hasher.update(view[:take])
            self.filled += take
            view = view[take:]
            if self.filled == self.BLOCK:
                self.done.append(self.hasher.hexdigest())
                self.hasher, self.filled = hashlib.blake2b(digest_size=16), 0

    def update_from(self, stream: Any, start: int, length: int) -> None:
        """Take `length` bytes of `stream` from `start` (it is left after them)."""
        stream.seek(start)
        remaining = length
        while remaining > 0:
            chunk = stream.read(min(remaining, self.BLOCK))
            if not chunk:
                break
            self.update(chunk)
            remaining -= len(chunk)

    def digests(self) -> list[str]:
        return [*self.done, self.hasher.hexdigest()]
