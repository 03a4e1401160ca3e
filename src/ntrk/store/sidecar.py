"""Sidecars: `.NAME.ntrk` beside each output, so a file can be traced wherever it is copied.

A sidecar holds the record of the run that made its output, with `sidecar_for` (the output's
repository path) added and the other outputs' entries left out: `outputs` lists this output
alone and `outputs_total` says how many the run had. So a run with N outputs writes O(N)
bytes of sidecars, not O(N²), and a file copied out of the repository still carries its
inputs, command, script, commit and times. A directory output's sidecar also holds
`manifest`, the md5 of every member (up to `MAX_MANIFEST_MEMBERS`), so that a file inside it
can be checked against the bytes the run wrote.

Sidecars written by ntrk 0.1.0 and 0.2.0 hold the whole record and no `outputs_total`; they
are read as they are. A sidecar is written to a temporary file and renamed over the old one,
and read without following links, as a regular file of bounded size.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ntrk import record as record_mod
from ntrk.errors import InvalidRecord
from ntrk.layout import sidecar_path
from ntrk.record import Record, is_safe_relpath
from ntrk.safeio import read_regular, write_atomic
from ntrk.text import json_dumps, json_loads

MAX_SIDECAR_BYTES = 2 * record_mod.MAX_RECORD_CHARS
MAX_MANIFEST_MEMBERS = 50_000
_SIDECAR_KEYS = ("sidecar_for", "outputs_total", "manifest")


@dataclass(frozen=True)
class Sidecar:
    """What a sidecar says: the run's record (all of it, or with only this output), the
    output it sits beside, and for a directory the md5 of each member."""

    record: Record
    sidecar_for: str | None
    outputs_total: int | None  # None: `record` is the whole record (an older sidecar)
    manifest: Mapping[str, str] | None

    @property
    def complete(self) -> bool:
        """Whether the record lists every output of the run."""
        return self.outputs_total is None or self.outputs_total == len(self.record.outputs)


def write_all(
    root: Path, rec: Record, manifests: Mapping[str, Mapping[str, str]] | None = None
) -> Iterator[tuple[str, OSError]]:
    """Write (or replace) the sidecar of every output of `rec` in the work tree `root`, each
    atomically and never through a directory that is a symbolic link; directory outputs get
    their member manifest from `manifests` (by output path).

    Yields (output path, error) for each sidecar that could not be written, and goes on with
    the next: the log already holds the run. The run's own fields are copied once, not once
    per output, so N outputs cost O(N).
    """
    shared = rec.to_dict()
    entries = shared.pop("outputs")
    shared["outputs_total"] = len(entries)
    for entry in entries:
        relpath = entry["path"]
        data = {**shared, "outputs": [entry], "sidecar_for": relpath}
        manifest = manifests.get(relpath) if manifests else None
        if manifest is not None and len(manifest) <= MAX_MANIFEST_MEMBERS:
            data["manifest"] = dict(manifest)
        text = json_dumps(data, indent=2) + "\n"
        try:
            write_atomic(sidecar_path(root / relpath), text.encode("utf-8"), within=root)
        except OSError as exc:
            yield relpath, exc


def read(root: Path, output_relpath: str) -> Sidecar | None:
    """The sidecar of the output at `output_relpath` under `root`; None when there is none.

    Raises InvalidRecord when one exists but cannot be trusted (a link, or under a directory
    that is one; not a regular file; too large; not a record; a name the system refuses).
    """
    try:
        raw = read_regular(sidecar_path(root / output_relpath), MAX_SIDECAR_BYTES, within=root)
    except OSError as exc:
        raise InvalidRecord(f"cannot read it ({exc.strerror})") from exc
    return None if raw is None else parse(raw)


def parse(raw: bytes) -> Sidecar:
    """Parse a sidecar's bytes; raise InvalidRecord on anything untrustworthy."""
    try:
        data = json_loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidRecord("sidecar is not valid JSON") from exc
    if not isinstance(data, dict):
        raise InvalidRecord("sidecar is not a JSON object")
    sidecar_for, total, manifest = (data.pop(key, None) for key in _SIDECAR_KEYS)
    if sidecar_for is not None and not (
        isinstance(sidecar_for, str) and is_safe_relpath(sidecar_for)
    ):
        raise InvalidRecord("sidecar_for is not a path inside the repository")
    if total is not None and not (
        isinstance(total, int) and not isinstance(total, bool) and total >= 1
    ):
        raise InvalidRecord("outputs_total is not a count")
    rec = record_mod.parse(data)
    if total is not None and total < len(rec.outputs):
        raise InvalidRecord("outputs_total is smaller than the outputs listed")
    return Sidecar(rec, sidecar_for, total, _manifest(manifest))


def _manifest(value: object) -> Mapping[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_MANIFEST_MEMBERS:
        raise InvalidRecord("manifest is not a map of member paths to md5s")
    for member, md5 in value.items():
        if not (is_safe_relpath(member) and isinstance(md5, str) and record_mod.is_md5(md5)):
            raise InvalidRecord("manifest is not a map of member paths to md5s")
    return value
