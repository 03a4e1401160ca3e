"""Runs in flight: siblings see each other's outputs; dead runs' registrations are removed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from ntrk.store import inflight


def dead_pid() -> int:
    """The pid of a process that has exited (and been waited for)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_live_run_is_seen_and_its_own_registration_ignored(tmp_path: Path) -> None:
    mine = inflight.register(tmp_path, ["out/a.csv"])
    assert mine.path is not None and mine.path.exists()
    assert inflight.others(tmp_path).covers("out/a.csv")  # seen by a sibling
    assert inflight.others(tmp_path).covers("out/a.csv/inner")
    assert not inflight.others(tmp_path, mine).covers("out/a.csv")  # not by itself
    assert [p.name for p in (tmp_path / "inflight").iterdir()] == [mine.path.name]


def test_a_dead_runs_registration_is_removed(tmp_path: Path) -> None:
    directory = tmp_path / "inflight"
    directory.mkdir()
    pid = dead_pid()
    entry = {"pid": pid, "start": None, "outputs": ["gone.csv"]}
    (directory / f"{pid}-00000000.json").write_text(json.dumps(entry))
    assert not inflight.others(tmp_path).covers("gone.csv")
    assert list(directory.iterdir()) == []


def test_a_registration_being_written_is_left_alone_until_its_writer_is_gone(
    tmp_path: Path,
) -> None:
    """A sibling that lists the directory while a run writes its registration must neither
    read it (half-written) nor remove it; one left by a crashed writer is removed."""
    directory = tmp_path / "inflight"
    directory.mkdir()
    writing = directory / f".{os.getpid()}-00000000.json"
    writing.write_text('{"pid": ')  # half-written, by a live process (this one)
    crashed = directory / f".{dead_pid()}-00000000.json"
    crashed.write_text('{"pid": ')
    assert inflight.others(tmp_path).paths == set()
    assert writing.exists()
    assert not crashed.exists()
