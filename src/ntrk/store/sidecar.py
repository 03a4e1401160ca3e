"""Sidecars: `.NAME.ntrk` beside each output, the whole record plus `sidecar_for`.

A sidecar lets a file be traced wherever it is copied, even outside any repository. It is
written to a temporary file and renamed over the old one, so it is never seen half-written.
"""

from __future__ import annotations

import json
from pathlib import Path

from ntrk import record as record_mod
from ntrk.errors import InvalidRecord
from ntrk.layout import sidecar_path
from ntrk.record import Record, is_safe_relpath
from ntrk.safeio import write_atomic

MAX_SIDECAR_BYTES = record_mod.MAX_RECORD_CHARS * 2


def write(output: Path, output_relpath: str, rec: Record) -> None:
    """Write (or replace) the sidecar of `output` atomically."""
    data = rec.to_dict()
    data["sidecar_for"] = output_relpath
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, indent=2)
    write_atomic(sidecar_path(output), text.encode("utf-8"))


def read(output: Path) -> tuple[Record, str | None] | None:
    """The record and `sidecar_for` path in `output`'s sidecar; None when absent.

    Raises InvalidRecord when the sidecar exists but cannot be trusted.
    """
    path = sidecar_path(output)
    try:
        if not path.is_file():
            return None
        with path.open("rb") as stream:
            raw = stream.read(MAX_SIDECAR_BYTES + 1)
    except OSError:
        return None
    if len(raw) > MAX_SIDECAR_BYTES:
        raise InvalidRecord("sidecar is too large")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidRecord("sidecar is not valid JSON") from exc
    if not isinstance(data, dict):
        raise InvalidRecord("sidecar is not a JSON object")
    sidecar_for = data.pop("sidecar_for", None)
    if sidecar_for is not None and not (
        isinstance(sidecar_for, str) and is_safe_relpath(sidecar_for)
    ):
        raise InvalidRecord("sidecar_for is not a path inside the repository")
    return record_mod.parse(data), sidecar_for
