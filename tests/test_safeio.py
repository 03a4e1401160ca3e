"""Atomic writes: old bytes or new, never through a planted link, no temporary left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ntrk.safeio import write_atomic


def test_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    write_atomic(target, b"new", durable=True)
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_a_link_at_the_target_is_replaced_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("precious")
    inside = tmp_path / "tree"
    inside.mkdir()
    (inside / "f").symlink_to(outside)
    write_atomic(inside / "f", b"new")
    assert outside.read_text() == "precious"
    assert not (inside / "f").is_symlink()
    assert (inside / "f").read_bytes() == b"new"


def test_mode_is_applied_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "hook", b"#!/bin/sh\n", mode=0o755)
    finally:
        os.umask(old)
    assert (tmp_path / "hook").stat().st_mode & 0o777 == 0o755


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
