"""Lineage in git notes: every record mirrored under `refs/notes/ntrk`, one record per line.

Notes travel with `git push`/`git fetch` of the notes ref and show in `git log --notes=ntrk`.
This module is the only one that touches notes refs.

**Note format.** A note holds one line per run recorded at that commit:

    ntrk 1c324cea raw.csv@b1946ac9 -> clean.csv@00844677 :: python step.py -i raw.csv ...<TAB>{json}

Everything before the first TAB is for people (`git log --notes=ntrk` shows it first); the
JSON after it is the exact record. The summary never contains a TAB or newline, and JSON text
never contains a raw one, so a line splits unambiguously. Because a line is a whole record,
git's own `cat_sort_uniq` notes merge and ntrk's merge both combine notes without loss.

**Tree layout.** libgit2's `create_note` keeps the notes tree flat and rewrites all of it on
every call (O(n) per note). ntrk writes notes the way git lays them out, in 2-hex fan-out
directories (`ab/cdef…`), and rebuilds only the subtrees on the path of a change. It reads any
layout git produces (flat, `ab/cdef…`, `ab/cd/ef…`, or mixed).

**Concurrency.** Writers serialize on a lock file in the common git directory, and the ref is
moved with a compare-and-swap, so a concurrent `git notes` or fetch is never overwritten: the
read-modify-write is retried from the new tip.

**Merging is a union.** Merging another notes commit never drops a line this one has, whatever
the commits' ancestry: a fast-forward is taken only when the other side already holds every
record this side has. So a clone that pruned its notes, or a remote someone rewound, can never
erase records elsewhere through `nt sync`.

**Reading is bounded.** Fetched notes are written by others. A note blob's size is read from
the object header before the blob itself: a note over `MAX_NOTE_BYTES` (64 MiB) is skipped
unread (a 100 MB note of `x\n` lines packs into half a megabyte), and at most
`MAX_NOTE_LINES` lines of a note are read, so memory stays bounded whatever a remote holds. A
note that cannot be read whole is never rewritten by ntrk: a merge keeps it as it is. Lines are
split on `\n` only, never at U+2028 and the other characters `str.splitlines()` breaks at.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pygit2

from ntrk import record as record_mod
from ntrk.console import CappedWarnings
from ntrk.errors import InvalidRecord
from ntrk.layout import NOTES_LOCK_NAME, NOTES_REF, is_tracking_ref
from ntrk.record import FileRef, Record
from ntrk.text import visible

T = TypeVar("T")
FALLBACK_IDENTITY = ("ntrk", "ntrk@localhost")
_HEX = re.compile(r"[0-9a-f]+\Z")
_SUMMARY_COMMAND_CHARS = 100
_CAS_ATTEMPTS = 20
FANOUT_LIMIT = 256  # notes in one directory before it is split a level deeper
# A note holds one line per run recorded at one commit: 64 MiB is some 90,000 runs there.
MAX_NOTE_BYTES = 16 * record_mod.MAX_RECORD_CHARS
MAX_NOTE_LINES = 200_000
# Notes in one notes tree (one per annotated commit): far more commits than any history has.
MAX_NOTES = 1_000_000
# What the notes under one ref may hold in all, a blob counted once per note that names it: some
# 1.5 million records, fifteen times the largest history ntrk is measured on.
MAX_REF_BYTES = 1 << 30


class NotesError(Exception):
    """The notes could not be written (read-only repository, lock, moved ref...)."""


class HostileTree(NotesError):
    """A notes tree ntrk will not read: one that names a subtree twice (a few objects could
    then stand for billions of notes) or holds more than MAX_NOTES notes. The message
    completes "its notes tree ..."."""


HOSTILE_HINT = "ask whoever pushed it to replace it; the records it holds are left out"


class _Walk:
    """What one walk over notes trees has seen, to refuse a tree that repeats itself."""

    def __init__(self) -> None:
        self.trees: set[pygit2.Oid] = set()
        self.notes = 0

    def enter(self, tree_id: pygit2.Oid) -> None:
        if tree_id in self.trees:
            raise HostileTree(f"names subtree {str(tree_id)[:8]} twice")
        self.trees.add(tree_id)

    def count(self) -> None:
        self.notes += 1
        if self.notes > MAX_NOTES:
            raise HostileTree(f"holds more than {MAX_NOTES:,} notes")


class NoteUnreadable(Exception):
    """A note blob that is not read: missing from this clone, or larger than MAX_NOTE_BYTES."""

    def __init__(self, message: str, missing: bool) -> None:
        super().__init__(message)
        self.missing = missing


# Note blobs this process has warned about. After a sync the fetched and the local ref name the
# same unreadable blob, and `nt sync` reads it as it merges and again as it indexes: one warning.
_WARNED: set[str] = set()


def first_warning(blob_id: pygit2.Oid) -> bool:
    """Whether this is the first time this process reports the unreadable blob `blob_id`."""
    key = str(blob_id)
    if key in _WARNED:
        return False
    _WARNED.add(key)
    return True


@dataclass(frozen=True)
class NoteLine:
    """One line of a note, parsed: a record, or why it was not one."""

    record: Record | None
    problem: str | None = None
    text: str = ""  # the record's JSON as the note holds it


# --- the line format ---------------------------------------------------------------------


def format_line(rec: Record) -> str:
    """The note line of a record: a summary for people, a TAB, then the record's JSON."""
    sources = ", ".join(_short(entry) for entry in rec.inputs) or "(no inputs)"
    products = ", ".join(_short(entry) for entry in rec.outputs)
    command = " ".join(rec.command)
    if len(command) > _SUMMARY_COMMAND_CHARS:
        command = command[: _SUMMARY_COMMAND_CHARS - 1] + "…"
    summary = visible(f"ntrk {rec.id[:8]} {sources} -> {products} :: {command}")
    return f"{summary}\t{rec.line}"


def parse_line(line: str) -> NoteLine:
    """Parse one note line back into its record."""
    _, tab, payload = line.partition("\t")
    if not tab:
        return NoteLine(None, "not an ntrk note line")
    try:
        return NoteLine(record_mod.parse_json(payload), text=payload)
    except InvalidRecord as exc:
        return NoteLine(None, str(exc))


def _short(entry: FileRef) -> str:
    return f"{entry.path}@{entry.md5[:8]}"


# --- reading ------------------------------------------------------------------------------


def notes_refs(git: pygit2.Repository) -> list[str]:
    """The notes refs ntrk reads: its own, then fetched copies `refs/notes/remotes/*/ntrk`."""
    fetched = sorted(name for name in git.references if is_tracking_ref(name))
    return ([NOTES_REF] if NOTES_REF in git.references else []) + fetched


def notes_commit(git: pygit2.Repository, ref: str = NOTES_REF) -> pygit2.Commit | None:
    """The commit a notes ref points at, or None (absent, or not pointing at a commit)."""
    reference = git.references.get(ref)
    if reference is None:
        return None
    try:
        return reference.peel(pygit2.Commit)
    except (pygit2.GitError, ValueError, KeyError):
        return None


def iter_notes(
    git: pygit2.Repository, tree: pygit2.Tree, prefix: str = "", walk: _Walk | None = None
) -> Iterator[tuple[str, pygit2.Oid]]:
    """(annotated object id, note blob id) for every note in a notes tree, any fan-out;
    `prefix` is the fan-out path of `tree` itself when it is a subtree.

    Raises HostileTree for a tree that names one subtree twice or holds too many notes
    (`walk` carries that knowledge across the subtrees of one diff).
    """
    walk = walk or _Walk()
    walk.enter(tree.id)
    pending: list[tuple[pygit2.Tree, str]] = [(tree, prefix)]
    while pending:
        current, prefix = pending.pop()
        for entry in current:
            name = entry.name or ""
            if not _HEX.match(name):
                continue
            path = prefix + name
            if entry.type_str == "blob" and len(path) in (40, 64):
                walk.count()
                yield path, entry.id
            elif entry.type_str == "tree" and len(name) == 2 and len(path) < 40:
                walk.enter(entry.id)
                pending.append((git[entry.id].peel(pygit2.Tree), path))


def note_lines(git: pygit2.Repository, blob_id: pygit2.Oid) -> tuple[list[str], bool]:
    """A note's non-empty lines, and whether there were more than MAX_NOTE_LINES (only that
    many are returned). Invalid UTF-8 is replaced, and those lines then fail to parse.

    Raises NoteUnreadable for a blob this clone lacks or one over MAX_NOTE_BYTES.
    """
    # The object database directly: half the cost of building a Blob object per note.
    try:
        kind, size = git.odb.read_header(blob_id)
        if kind != pygit2.enums.ObjectType.BLOB:
            return [], False
        if size > MAX_NOTE_BYTES:
            raise NoteUnreadable(f"larger than {MAX_NOTE_BYTES:,} bytes ({size:,})", False)
        _, data = git.odb.read(blob_id)
    except (KeyError, pygit2.GitError) as exc:
        raise NoteUnreadable("not in this clone (a partial clone?)", True) from exc
    parts = data.split(b"\n", MAX_NOTE_LINES)
    truncated = len(parts) > MAX_NOTE_LINES
    lines = [part.decode("utf-8", errors="replace") for part in parts[:MAX_NOTE_LINES]]
    return [line for line in lines if line.strip()], truncated


def blob_size(git: pygit2.Repository, blob_id: pygit2.Oid) -> int:
    """The size of a note blob from its header (0 when this clone lacks it)."""
    try:
        return int(git.odb.read_header(blob_id)[1])
    except (KeyError, pygit2.GitError):
        return 0


def tips(git: pygit2.Repository) -> dict[str, str]:
    """The commit every notes ref ntrk reads points at, by ref name."""
    found = {}
    for ref in notes_refs(git):
        commit = notes_commit(git, ref)
        if commit is not None:
            found[ref] = str(commit.id)
    return found


def diff(
    git: pygit2.Repository, old: pygit2.Tree | None, new: pygit2.Tree | None
) -> tuple[dict[str, pygit2.Oid], dict[str, pygit2.Oid]]:
    """The notes that differ between two notes trees, any fan-out on either side.

    Returns (annotated object → blob) for the notes of `old` that `new` lacks or holds with
    other content, and the same for `new`. Subtrees with equal ids are never descended into,
    so the cost follows the change, not the number of notes.
    """
    gone: dict[str, pygit2.Oid] = {}
    came: dict[str, pygit2.Oid] = {}
    walks = (_Walk(), _Walk())  # each side's trees, to refuse a side that repeats itself
    pending: list[tuple[pygit2.Tree | None, pygit2.Tree | None, str]] = [(old, new, "")]
    while pending:
        left, right, prefix = pending.pop()
        left_entries = _hex_entries(left)
        right_entries = _hex_entries(right)
        for name in left_entries.keys() | right_entries.keys():
            a, b = left_entries.get(name), right_entries.get(name)
            if a is not None and b is not None and a.id == b.id:
                continue
            if (
                a is not None
                and b is not None
                and a.type_str == "tree"
                and b.type_str == "tree"
                and len(name) == 2
            ):
                walks[0].enter(a.id)
                walks[1].enter(b.id)
                pending.append((_tree(git, a), _tree(git, b), prefix + name))
                continue
            if a is not None:
                gone.update(_notes_under(git, a, prefix + name, walks[0]))
            if b is not None:
                came.update(_notes_under(git, b, prefix + name, walks[1]))
    for annotated in gone.keys() & came.keys():  # moved by a fan-out change, same blob
        if gone[annotated] == came[annotated]:
            del gone[annotated], came[annotated]
    return gone, came


def _hex_entries(tree: pygit2.Tree | None) -> dict[str, pygit2.Object]:
    if tree is None:
        return {}
    return {entry.name: entry for entry in tree if entry.name and _HEX.match(entry.name)}


def _tree(git: pygit2.Repository, entry: pygit2.Object) -> pygit2.Tree:
    tree: pygit2.Tree = git[entry.id].peel(pygit2.Tree)
    return tree


def _notes_under(
    git: pygit2.Repository, entry: pygit2.Object, path: str, walk: _Walk
) -> dict[str, pygit2.Oid]:
    if entry.type_str == "blob":
        if len(path) not in (40, 64):
            return {}
        walk.count()
        return {path: entry.id}
    if entry.type_str == "tree" and len(path) < 40:
        return dict(iter_notes(git, _tree(git, entry), path, walk))
    return {}


def record_ids(git: pygit2.Repository, ref: str = NOTES_REF) -> set[str]:
    """The ids of every record in the readable notes under `ref` (each blob read once,
    however many notes share it). Raises HostileTree for a tree ntrk will not read."""
    commit = notes_commit(git, ref)
    return set() if commit is None else ids_in(git, iter_notes(git, commit.tree))


def ids_in(
    git: pygit2.Repository,
    found: Iterable[tuple[str, pygit2.Oid]],
    warnings: CappedWarnings | None = None,
) -> set[str]:
    """The ids of the records in the notes `found` (annotated object, blob), each blob read
    once; a note that cannot be read whole is named in `warnings` when given."""
    ids: set[str] = set()
    seen: set[pygit2.Oid] = set()
    for annotated, blob_id in found:
        if blob_id in seen:
            continue
        seen.add(blob_id)
        try:
            lines, truncated = note_lines(git, blob_id)
        except NoteUnreadable as exc:
            if warnings is not None and first_warning(blob_id):
                warnings.add(
                    f"{warnings.source}: the note on {annotated[:8]}"
                    f" (blob {str(blob_id)[:8]}) skipped, {exc}"
                )
            continue
        if truncated and warnings is not None:
            warnings.add(
                f"{warnings.source}: the note on {annotated[:8]}:"
                f" lines after {MAX_NOTE_LINES:,} skipped"
            )
        ids.update(line.record.id for line in map(parse_line, lines) if line.record)
    return ids


# --- writing ------------------------------------------------------------------------------


def add(repo_git: pygit2.Repository, records: Sequence[Record], message: str | None = None) -> int:
    """Mirror records into the notes on their commits, in one notes commit; return how many
    were new (records already in the notes are skipped)."""
    if not records:
        return 0
    by_commit: dict[str, list[str]] = {}
    for rec in records:
        by_commit.setdefault(rec.commit, []).append(format_line(rec))
    if message is None:
        message = _message(records)
    return _retrying(repo_git, lambda: _try_add(repo_git, by_commit, message), "update")


def merge_tips(
    git: pygit2.Repository, theirs: pygit2.Oid, message: str
) -> tuple[str, pygit2.Oid | None]:
    """Merge the notes commit `theirs` into the local notes ref: the union of records.

    Returns what happened ("up to date", "fast-forward", "merged", "created") and the new tip.
    """
    return _retrying(git, lambda: _try_merge(git, theirs, message), "merge into")


def _retrying(git: pygit2.Repository, attempt: Callable[[], T | None], verb: str) -> T:
    """Run a read-modify-write of the notes ref under the lock, again while the ref moves."""
    try:
        with _notes_lock(git):
            for _ in range(_CAS_ATTEMPTS):
                outcome = attempt()
                if outcome is not None:
                    return outcome
    except (OSError, pygit2.GitError) as exc:
        raise NotesError(str(exc)) from exc
    raise NotesError(f"{NOTES_REF} kept moving while ntrk tried to {verb} it")


def _try_add(git: pygit2.Repository, by_commit: dict[str, list[str]], message: str) -> int | None:
    reference = git.references.get(NOTES_REF)
    parent = notes_commit(git)
    tree_id, added = _apply(git, parent.tree if parent else None, by_commit, top=True)
    if parent is not None and tree_id == parent.tree_id:
        return 0
    commit_id = _commit(git, tree_id, [parent.id] if parent else [], message)
    if not _move_ref(git, reference, commit_id, message):
        return None
    return added


def _try_merge(
    git: pygit2.Repository, theirs: pygit2.Oid, message: str
) -> tuple[str, pygit2.Oid | None] | None:
    reference = git.references.get(NOTES_REF)
    ours = notes_commit(git)
    their_commit = git[theirs].peel(pygit2.Commit)
    if ours is None:
        for _ in iter_notes(git, their_commit.tree):
            pass  # a tree ntrk will not read (HostileTree) never becomes ours
        return ("created", theirs) if _move_ref(git, reference, theirs, message) else None
    if ours.id == theirs:
        return "up to date", ours.id
    ours_differ, theirs_differ = diff(git, ours.tree, their_commit.tree)
    if git.descendant_of(theirs, ours.id) and _holds_all(git, theirs_differ, ours_differ):
        # Theirs is ours plus more, and nothing of ours is lost: take it as it is.
        return ("fast-forward", theirs) if _move_ref(git, reference, theirs, message) else None
    # Their notes go in as blob ids, each read only when its turn comes: memory holds one note
    # at a time, however many notes share or repeat a large blob.
    changes: dict[str, list[str] | pygit2.Oid] = dict(theirs_differ)
    tree_id, _ = _apply(git, ours.tree, changes, top=True)
    behind = not git.descendant_of(ours.id, theirs)
    if tree_id == ours.tree_id and not behind:
        return "up to date", ours.id  # theirs holds nothing ours lacks, and is our ancestor
    # A merge commit even when the tree is ours: a push from here must descend from theirs.
    parents = [ours.id, theirs] if behind else [ours.id]
    commit_id = _commit(git, tree_id, parents, message)
    return ("merged", commit_id) if _move_ref(git, reference, commit_id, message) else None


def _holds_all(
    git: pygit2.Repository, theirs: dict[str, pygit2.Oid], ours: dict[str, pygit2.Oid]
) -> bool:
    """Whether every line of each of our notes is in their note on the same object."""
    for annotated, blob_id in ours.items():
        their_lines = _whole_note(git, theirs[annotated]) if annotated in theirs else None
        our_lines = _whole_note(git, blob_id)
        if their_lines is None or our_lines is None:
            return False
        if not {_line_key(line) for line in our_lines} <= {_line_key(line) for line in their_lines}:
            return False
    return True


def _whole_note(git: pygit2.Repository, blob_id: pygit2.Oid) -> list[str] | None:
    """A note's lines, or None when it cannot be read whole (missing, too large, too long):
    such a note is never rewritten, only kept as it is."""
    try:
        lines, truncated = note_lines(git, blob_id)
    except NoteUnreadable:
        return None
    return None if truncated else lines


def _apply(
    git: pygit2.Repository,
    tree: pygit2.Tree | None,
    changes: Mapping[str, list[str] | pygit2.Oid],
    top: bool,
) -> tuple[pygit2.Oid, int]:
    """Write `tree` with lines added to the notes named by (remaining) object ids in `changes`.

    Only the subtrees on the path of a change are rebuilt. A note found at this level is
    updated where it is; otherwise it goes into (or creates, at the top level) a 2-hex
    fan-out directory, and at deeper levels stays here when no deeper fan-out exists. A
    deeper directory that would pass FANOUT_LIMIT notes is split one level further first, as
    git's own notes code splits crowded levels, so every tree on a lookup's path stays small.
    A change that is a blob id (another notes tree's note) is read when its turn comes and
    merged line by line; where no note exists yet it is added as it is, and one that cannot
    be read whole never replaces a note that exists. Returns the new tree and how many records
    it holds that `tree` did not.
    """
    if not top and tree is not None and _needs_split(tree, changes):
        tree = git[_split(git, tree)].peel(pygit2.Tree)
    builder = git.TreeBuilder(tree) if tree is not None else git.TreeBuilder()
    deeper: dict[str, dict[str, list[str] | pygit2.Oid]] = {}
    added = 0
    for rest, lines in changes.items():
        existing = _entry(tree, rest)
        if existing is not None and existing.type_str != "blob":
            existing = None  # not a note: a blob takes its place
        subtree = _entry(tree, rest[:2])
        if existing is None and (top or (subtree is not None and subtree.type_str == "tree")):
            deeper.setdefault(rest[:2], {})[rest[2:]] = lines
            continue
        if isinstance(lines, pygit2.Oid):  # their note, as a blob: read it now
            if existing is not None and existing.id == lines:
                continue
            theirs = _whole_note(git, lines)
            if theirs is None or existing is None:
                if existing is None:  # nothing to merge with: their blob as it is
                    builder.insert(rest, lines, pygit2.enums.FileMode.BLOB)
                continue  # one of two notes cannot be read whole: ours stays, theirs is in history
            lines = theirs
        before = _existing_lines(git, existing.id) if existing is not None else []
        merged, new = _union(before, lines)
        builder.insert(rest, git.create_blob(merged), pygit2.enums.FileMode.BLOB)
        added += new
    for prefix, sub_changes in deeper.items():
        entry = _entry(tree, prefix)
        subtree = (
            git[entry.id].peel(pygit2.Tree)
            if entry is not None and entry.type_str == "tree"
            else None
        )
        sub_id, new = _apply(git, subtree, sub_changes, top=False)
        builder.insert(prefix, sub_id, pygit2.enums.FileMode.TREE)
        added += new
    return builder.write(), added


def _existing_lines(git: pygit2.Repository, blob_id: pygit2.Oid) -> list[str]:
    """A note's lines before lines are added to it. One that cannot be read whole stops the
    write: replacing it would drop the records it holds."""
    lines = _whole_note(git, blob_id)
    if lines is None:
        raise NotesError("the note to add to cannot be read whole (missing or too large)")
    return lines


def _needs_split(tree: pygit2.Tree, changes: Mapping[str, list[str] | pygit2.Oid]) -> bool:
    if any(entry.type_str == "tree" for entry in tree):
        return False  # already fanned out below this level
    new = sum(1 for rest in changes if _entry(tree, rest) is None)
    return len(tree) + new > FANOUT_LIMIT and all(len(entry.name or "") > 2 for entry in tree)


def _split(git: pygit2.Repository, tree: pygit2.Tree) -> pygit2.Oid:
    """The same notes, each moved from `abcd…` into `ab/cd…` (blob ids unchanged)."""
    groups: dict[str, list[tuple[str, pygit2.Oid, int]]] = {}
    for entry in tree:
        name = entry.name or ""
        groups.setdefault(name[:2], []).append((name[2:], entry.id, entry.filemode))
    top = git.TreeBuilder()
    for prefix, members in groups.items():
        sub = git.TreeBuilder()
        for rest, oid, mode in members:
            sub.insert(rest, oid, mode)
        top.insert(prefix, sub.write(), pygit2.enums.FileMode.TREE)
    return top.write()


def _entry(tree: pygit2.Tree | None, name: str) -> pygit2.Object | None:
    if tree is None:
        return None
    try:
        return tree[name]
    except KeyError:
        return None


def _union(kept: list[str], lines: Iterable[str]) -> tuple[bytes, int]:
    """`kept` with the new lines appended, skipping lines whose record is already there;
    and how many were appended."""
    kept = list(kept)
    seen = {_line_key(line) for line in kept}
    added = 0
    for line in lines:
        key = _line_key(line)
        if line.strip() and key not in seen:
            seen.add(key)
            kept.append(line)
            added += 1
    return ("\n".join(kept) + "\n").encode("utf-8"), added


def _line_key(line: str) -> str:
    """Lines of the same record are the same line, whatever their summary says."""
    parsed = parse_line(line)
    return f"id:{parsed.record.id}" if parsed.record is not None else f"raw:{line}"


def _commit(
    git: pygit2.Repository, tree_id: pygit2.Oid, parents: list[pygit2.Oid], message: str
) -> pygit2.Oid:
    signature = identity(git)
    return git.create_commit(None, signature, signature, message, tree_id, parents)


def _move_ref(
    git: pygit2.Repository,
    expected: pygit2.Reference | None,
    target: pygit2.Oid,
    message: str,
) -> bool:
    """Point the notes ref at `target` only if it still is where we read it (CAS)."""
    try:
        if expected is None:
            git.create_reference_direct(NOTES_REF, target, False, message=message)
        else:
            expected.set_target(target, message)
    except pygit2.AlreadyExistsError:
        return False
    except pygit2.GitError as exc:
        if "does not match" in str(exc) or "locked" in str(exc):
            return False
        raise
    return True


def identity(git: pygit2.Repository) -> pygit2.Signature:
    """The user's git identity, else a fixed ntrk one (a notes commit must have an author)."""
    try:
        return git.default_signature
    except (KeyError, pygit2.GitError):
        return pygit2.Signature(*FALLBACK_IDENTITY)


def _message(records: Sequence[Record]) -> str:
    if len(records) == 1:
        (rec,) = records
        return f"ntrk: record {rec.id[:8]} ({visible(' '.join(rec.command))[:72]})"
    return f"ntrk: mirror {len(records)} records"


@contextmanager
def _notes_lock(git: pygit2.Repository) -> Iterator[None]:
    """An exclusive lock shared by every ntrk process writing this repository's notes."""
    fd = os.open(common_dir(git) / NOTES_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def common_dir(git: pygit2.Repository) -> Path:
    """The git directory shared by all worktrees (where refs/notes lives)."""
    git_dir = Path(git.path)
    pointer = git_dir / "commondir"
    if pointer.is_file():
        return (git_dir / pointer.read_text(encoding="utf-8").strip()).resolve()
    return git_dir


# --- plain git's view of the notes --------------------------------------------------------

REWRITE_REF_KEY = "notes.rewriteRef"
MERGE_STRATEGY_KEY = "notes.ntrk.mergeStrategy"


def configure(git: pygit2.Repository, dry_run: bool = False) -> list[str]:
    """Set, once, the local config that keeps notes healthy under plain git; say what changed.

    `notes.rewriteRef` makes `commit --amend` and `rebase` carry the notes to the new commits;
    `cat_sort_uniq` makes a user's own `git notes merge` lossless for one-record-per-line notes.
    Push refspecs are left alone: they would change what a plain `git push` does.

    Concurrent ntrk processes write under the notes lock, so only one writes `.git/config`;
    a plain git holding `config.lock` is waited for a moment, then reported as NotesError.
    """
    needed = _configure(git, dry_run=True)
    if dry_run or not needed:
        return needed
    try:
        with _notes_lock(git):
            for wait in _CONFIG_LOCK_WAITS:
                try:
                    return _configure(git, dry_run=False)
                except pygit2.GitError as exc:
                    if "lock" not in str(exc):
                        raise
                    if wait is None:
                        raise NotesError(
                            "cannot write .git/config: another process holds config.lock"
                        ) from exc
                    time.sleep(wait)
    except (OSError, pygit2.GitError) as exc:
        raise NotesError(f"cannot write .git/config: {str(exc).strip(' :')}") from exc
    raise AssertionError("unreachable: the last wait re-raises")


# Another git writing .git/config holds its lock for milliseconds; None ends the waiting.
_CONFIG_LOCK_WAITS = (0.05, 0.1, 0.2, 0.4, 0.8, None)


def _configure(git: pygit2.Repository, dry_run: bool) -> list[str]:
    config = git.config
    changes = []
    rewrite_refs = list(config.get_multivar(REWRITE_REF_KEY))
    if NOTES_REF not in rewrite_refs:
        if not dry_run:
            config.set_multivar(REWRITE_REF_KEY, f"^{re.escape(NOTES_REF)}$", NOTES_REF)
        changes.append(f"{REWRITE_REF_KEY}={NOTES_REF} (notes follow commit --amend and rebase)")
    if MERGE_STRATEGY_KEY not in config:
        if not dry_run:
            config[MERGE_STRATEGY_KEY] = "cat_sort_uniq"
        changes.append(f"{MERGE_STRATEGY_KEY}=cat_sort_uniq (git notes merge keeps every record)")
    return changes
