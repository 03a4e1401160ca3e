"""The run record (schema v1): one value type, validated wherever a record is read.

Records arrive from the log, from sidecars and (later) from git notes, and some of those come
from other people's clones. `parse` checks a record once, at that edge; the rest of ntrk trusts
the typed fields. A record keeps its canonical JSON text so that writing it anywhere reproduces
the exact record, including fields that a newer ntrk added and this one does not know.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard

from ntrk.errors import InvalidRecord
from ntrk.text import json_dumps, json_loads

SCHEMA_VERSION = 1
MAX_RECORD_CHARS = 4 * 1024 * 1024

_MD5 = re.compile(r"[0-9a-f]{32}\Z")
_OBJECT_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?\Z")
_RECORD_ID = re.compile(r"[0-9A-Za-z_.-]{1,128}\Z")
# A name that is not UTF-8 is held as surrogate escapes U+DC80-U+DCFF (one per byte, as Python
# decodes file names), which JSON writes as \udcXX; any other lone surrogate is no text at all.
_LONE_SURROGATE = re.compile(
    r"(?<!\\)(?:\\\\)*\\u(?:[dD][89abAB][0-9a-fA-F]{2}|[dD][cC][0-7][0-9a-fA-F])"
)


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file (or directory) as a run saw it: repo-relative posix path, md5 and size."""

    path: str
    md5: str
    size: int
    files: int | None = None  # a directory: how many files its tree hash covers
    observed: bool = False  # found by `nt track --observe`, not named by flag or declaration

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "md5": self.md5, "size": self.size}
        if self.files is not None:
            entry["files"] = self.files
        if self.observed:
            entry["observed"] = True
        return entry


@dataclass(frozen=True, slots=True)
class Script:
    """The script a run executed; blob and md5 are None when it lay outside the repository."""

    path: str
    blob: str | None
    md5: str | None


_CENTURY = 100 * 366 * 86400


@dataclass(frozen=True, slots=True)
class Record:
    """One recorded run."""

    id: str
    ts: str
    commit: str
    branch: str | None
    cwd: str
    script: Script | None
    command: tuple[str, ...]
    inputs: tuple[FileRef, ...]
    outputs: tuple[FileRef, ...]
    start: str | None
    data: Mapping[str, Any] = field(repr=False, hash=False)  # as read; never mutated
    # How `nt track` was told about files beyond the command's flags (`nt rerun` repeats it):
    # declared paths or patterns, repository-relative, and the observer, when there was one.
    declared_inputs: tuple[str, ...] = ()
    declared_outputs: tuple[str, ...] = ()
    observed_by: str | None = None

    @property
    def line(self) -> str:
        """Canonical JSON, the form every sink writes: sorted keys, UTF-8, one line."""
        return json_dumps(self.data)

    @property
    def duration(self) -> float | None:
        """The seconds the run took, when the record says so in a way that can be shown: a
        number from zero to a century (a merged record may hold 10**400, or a string)."""
        value = self.data.get("duration")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if 0 <= value <= _CENTURY else None  # NaN compares false

    def to_dict(self) -> dict[str, Any]:
        """A copy of the record as plain JSON data, unknown fields included."""
        result: dict[str, Any] = json.loads(self.line)
        return result

    def output_md5(self, path: str | None) -> str | None:
        """The recorded md5 of output `path` (the sole output when `path` is None), as 0.1.0."""
        for output in self.outputs:
            if output.path == path:
                return output.md5
        if path is None and len(self.outputs) == 1:
            return self.outputs[0].md5
        return None


def now_iso() -> str:
    """The current UTC time in schema v1's `ts` format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_precise() -> str:
    """The current UTC time with microseconds (the optional `start` field)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    """A fresh record id (uuid4 hex): made before the run, so events about it can name it."""
    return uuid.uuid4().hex


def create(
    *,
    run_id: str | None = None,
    commit: str,
    branch: str | None,
    cwd: str,
    script: Script | None,
    command: Sequence[str],
    inputs: Sequence[FileRef],
    outputs: Sequence[FileRef],
    start: str,
    duration: float,
    context: Mapping[str, Any] | None = None,
    newest_known: str | None = None,
    declared_inputs: Sequence[str] = (),
    declared_outputs: Sequence[str] = (),
    observed_by: str | None = None,
) -> Record:
    """Build a new record for a run that just finished successfully.

    `run_id` is the id from `new_id` when it was made before the run (a new one otherwise);
    `context` adds optional fields describing where it ran (platform, python, hostname, env).
    `newest_known` is the latest time of any record this work tree had indexed: when it is not
    before `start`, the record gets `order` just after it (see `lineage`), so that it counts as
    newer than everything known here, whatever clocks those records came from.
    Declared paths go into `declared` and the observer's name into `observe`, only when given.
    """
    data: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "id": run_id or new_id(),
        "ts": now_iso(),
        "git": {"commit": commit, "branch": branch},
        "cwd": cwd,
        "script": None
        if script is None
        else {"path": script.path, "blob": script.blob, "md5": script.md5},
        "command": list(command),
        "inputs": [entry.to_dict() for entry in inputs],
        "outputs": [entry.to_dict() for entry in outputs],
        "start": start,
        "duration": round(duration, 6),
        "exit": 0,
        **(context or {}),
    }
    order = _order_after(newest_known, start)
    if order is not None:
        data["order"] = order
    if declared_inputs or declared_outputs:
        data["declared"] = {"inputs": list(declared_inputs), "outputs": list(declared_outputs)}
    if observed_by is not None:
        data["observe"] = observed_by
    return parse(data)


# The index's form of a time (see `indexer`): nine fraction digits, a real date, UTC.
_CLOCK = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.(\d{9})Z")


def _order_after(newest_known: str | None, start: str) -> str | None:
    """The time a nanosecond after `newest_known`, or None when `start` is later.

    Digits only, no calendar: `newest_known` came from the index, which keeps only real
    times, and a fraction already at .999999999 stays as it is (equal times then fall back to
    the log's order, where this run comes last).
    """
    found = _CLOCK.fullmatch(newest_known or "")
    if found is None or newest_known is None or newest_known < start[:-1] + "000Z":
        return None
    fraction = int(found.group(1))
    if fraction == 999_999_999:
        return newest_known
    return f"{newest_known[:20]}{fraction + 1:09d}Z"


def parse_json(text: str | bytes) -> Record:
    """Parse one record from JSON text; raise InvalidRecord on anything untrustworthy."""
    if len(text) > MAX_RECORD_CHARS:
        raise InvalidRecord(f"longer than {MAX_RECORD_CHARS} characters")
    try:
        data = json_loads(text)
    except UnicodeDecodeError as exc:
        raise InvalidRecord("not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"not JSON ({exc.msg}: column {exc.colno})") from exc
    except ValueError as exc:
        raise InvalidRecord(f"not strict JSON ({str(exc)[:80]})") from exc
    except RecursionError as exc:
        raise InvalidRecord("JSON nested too deeply") from exc
    # Text that decoded as UTF-8 without \\u escapes cannot hold a lone surrogate.
    escaped = (b"\\u" in text) if isinstance(text, bytes) else ("\\u" in text)
    return parse(data, check_text=escaped)


def parse(data: object, check_text: bool = True) -> Record:
    """Validate decoded JSON data as a schema v1 record."""
    if not isinstance(data, Mapping):
        raise InvalidRecord("not a JSON object")
    version = data.get("v")
    if not _is_count(version) or version != SCHEMA_VERSION:
        if _is_count(version) and version > SCHEMA_VERSION:
            raise InvalidRecord(f"schema v{version} is newer than this ntrk reads (upgrade ntrk)")
        raise InvalidRecord("missing or unknown schema version 'v'")
    record_id = _string(data, "id")
    if not _RECORD_ID.match(record_id):
        raise InvalidRecord("'id' has characters a record id cannot have")
    git = data.get("git")
    if not isinstance(git, Mapping):
        raise InvalidRecord("'git' is not an object")
    commit = _string(git, "commit")
    if not _OBJECT_ID.match(commit):
        raise InvalidRecord("'git.commit' is not a full commit id")
    branch = git.get("branch")
    if branch is not None and not isinstance(branch, str):
        raise InvalidRecord("'git.branch' is not a string")
    cwd = _string(data, "cwd")
    if cwd != "." and not is_safe_relpath(cwd):
        raise InvalidRecord("'cwd' is not a path inside the repository")
    command = data.get("command")
    if (
        not isinstance(command, list)
        or not command
        or not all(isinstance(token, str) for token in command)
    ):
        raise InvalidRecord("'command' is not a non-empty list of strings")
    start = data.get("start")
    if start is not None and not isinstance(start, str):
        raise InvalidRecord("'start' is not a string")
    if check_text:
        try:
            line = json_dumps(data)
            line.encode("utf-8")
        except (TypeError, ValueError, RecursionError) as exc:
            raise InvalidRecord("holds values that are not plain JSON text") from exc
        if len(line) > MAX_RECORD_CHARS:
            raise InvalidRecord(f"longer than {MAX_RECORD_CHARS} characters")
        if _LONE_SURROGATE.search(line):
            raise InvalidRecord("holds a lone surrogate that is no byte of a file name")
    declared_inputs, declared_outputs = _declared(data.get("declared"))
    observed_by = data.get("observe")
    if observed_by is not None and not (isinstance(observed_by, str) and observed_by):
        raise InvalidRecord("'observe' is not a string")
    return Record(
        id=record_id,
        ts=_string(data, "ts"),
        commit=commit,
        branch=branch,
        cwd=cwd,
        script=_script(data.get("script")),
        command=tuple(command),
        inputs=_file_refs(data, "inputs"),
        outputs=_file_refs(data, "outputs"),
        start=start,
        data=data,
        declared_inputs=declared_inputs,
        declared_outputs=declared_outputs,
        observed_by=observed_by,
    )


def is_md5(text: str) -> bool:
    """Whether `text` is an md5 as records hold it: 32 lowercase hex digits."""
    return _MD5.match(text) is not None


def is_safe_relpath(path: str) -> bool:
    """True for a relative posix path that stays inside the directory it is relative to."""
    if not path or path.startswith("/") or "\0" in path:
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


def _string(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRecord(f"'{key}' is missing or not a string")
    return value


def _script(data: object) -> Script | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise InvalidRecord("'script' is not an object")
    path, blob, md5 = data.get("path"), data.get("blob"), data.get("md5")
    if not isinstance(path, str) or not path:
        raise InvalidRecord("'script.path' is missing or not a string")
    if blob is not None and not (isinstance(blob, str) and _OBJECT_ID.match(blob)):
        raise InvalidRecord("'script.blob' is not an object id")
    if md5 is not None and not (isinstance(md5, str) and _MD5.match(md5)):
        raise InvalidRecord("'script.md5' is not an md5")
    return Script(path=path, blob=blob, md5=md5)


def _file_refs(data: Mapping[str, Any], key: str) -> tuple[FileRef, ...]:
    entries = data.get(key)
    if not isinstance(entries, list):
        raise InvalidRecord(f"'{key}' is not a list")
    refs = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise InvalidRecord(f"an entry of '{key}' is not an object")
        path, md5, size = entry.get("path"), entry.get("md5"), entry.get("size")
        files, observed = entry.get("files"), entry.get("observed", False)
        if not isinstance(path, str) or not is_safe_relpath(path):
            raise InvalidRecord(f"'{key}' names a path outside the repository: {path!r:.80}")
        if not isinstance(md5, str) or not _MD5.match(md5):
            raise InvalidRecord(f"'{key}' entry {path!r:.80} has no valid md5")
        if not _is_count(size):
            raise InvalidRecord(f"'{key}' entry {path!r:.80} has no valid size")
        if files is not None and not _is_count(files):
            raise InvalidRecord(f"'{key}' entry {path!r:.80} has an invalid file count")
        if not isinstance(observed, bool):
            raise InvalidRecord(f"'{key}' entry {path!r:.80} has a non-boolean 'observed'")
        refs.append(FileRef(path=path, md5=md5, size=size, files=files, observed=observed))
    return tuple(refs)


def _declared(data: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The optional `declared` field: `inputs` and `outputs`, lists of paths or patterns."""
    if data is None:
        return (), ()
    if not isinstance(data, Mapping):
        raise InvalidRecord("'declared' is not an object")
    found = []
    for key in ("inputs", "outputs"):
        paths = data.get(key, [])
        if not isinstance(paths, list) or not all(
            isinstance(path, str) and is_safe_relpath(path) for path in paths
        ):
            raise InvalidRecord(f"'declared.{key}' is not a list of paths inside the repository")
        found.append(tuple(paths))
    return found[0], found[1]


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
