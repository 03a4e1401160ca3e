"""Atomic writes: old bytes or new, never through a planted link, no temporary left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ntrk.safeio import NotRegular, read_regular, write_atomic


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


@pytest.fixture
def linked_tree(tmp_path: Path) -> tuple[Path, Path]:
    """A work tree whose `data` is a link to a directory outside it holding `f`."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("precious")
    tree = tmp_path / "tree"
    (tree / "real").mkdir(parents=True)
    (tree / "real" / "f").write_text("mine")
    (tree / "data").symlink_to(outside)
    return tree, outside


def test_within_the_tree_no_directory_link_is_followed(linked_tree: tuple[Path, Path]) -> None:
    tree, outside = linked_tree
    assert read_regular(tree / "real" / "f", 100, within=tree) == b"mine"
    assert read_regular(tree / "data" / "f", 100) == b"precious"  # without `within`: followed
    with pytest.raises(NotRegular):
        read_regular(tree / "data" / "f", 100, within=tree)
    with pytest.raises(NotRegular):
        read_regular(tree / "real" / ".." / "data" / "f", 100, within=tree)
    with pytest.raises(NotRegular):
        write_atomic(tree / "data" / "g", b"new", within=tree)
    assert sorted(p.name for p in outside.iterdir()) == ["f"]
    with pytest.raises(NotRegular):
        read_regular(outside / "f", 100, within=tree)  # not under it at all
    write_atomic(tree / "real" / "g", b"new", within=tree)
    assert (tree / "real" / "g").read_bytes() == b"new"


def test_a_tracked_output_under_a_linked_directory_gets_no_sidecar_outside(
    repo: Path, tmp_path: Path
) -> None:
    """`nt track -o data/out.csv` where the committed `data` links out of the tree: whatever
    the command writes there, ntrk writes nothing outside the work tree."""
    from conftest import commit_all, nt

    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "data").symlink_to(outside)
    commit_all(repo, "a link out")
    program = "open('data/out.csv', 'w').write('x')"
    done = nt(repo, "track", "python", "-c", program, "-o", "data/out.csv")
    assert "internal error" not in done.err, done.err
    assert sorted(p.name for p in outside.iterdir()) == ["out.csv"]
