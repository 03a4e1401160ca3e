"""The run log: serialized appends, torn-line repair, clean failure when the disk is full."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

from history import v1_record

from ntrk import layout, record
from ntrk.store import runlog


def make(index: int) -> record.Record:
    return record.parse(v1_record(index, [("in", b"i" * index)], [(f"out{index}", b"o")]))


def _append_many(root: str, start: int, count: int) -> None:
    for index in range(start, start + count):
        runlog.append(Path(root), [make(index)])


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    workers = [
        multiprocessing.get_context("fork").Process(
            target=_append_many, args=(str(tmp_path), w * 25, 25)
        )
        for w in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    entries = list(runlog.read(tmp_path))
    assert sorted(int(e.record.id, 16) for e in entries) == list(range(200))
    lines = layout.log_path(tmp_path).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 200 and all(json.loads(line) for line in lines)


def test_read_reports_offsets_and_line_numbers(tmp_path: Path) -> None:
    runlog.append(tmp_path, [make(1), make(2)])
    entries = list(runlog.read(tmp_path))
    assert [e.lineno for e in entries] == [1, 2]
    raw = layout.log_path(tmp_path).read_bytes()
    assert raw[entries[1].offset :].startswith(b'{"command"')
    again = list(runlog.read(tmp_path, start=entries[1].offset, first_lineno=2))
    assert [e.record.id for e in again] == [entries[1].record.id]


def test_valid_last_line_without_newline_is_read_and_closed(tmp_path: Path) -> None:
    runlog.ensure_store(tmp_path)
    layout.log_path(tmp_path).write_text(make(1).line, encoding="utf-8")
    assert len(list(runlog.read(tmp_path))) == 1
    runlog.append(tmp_path, [make(2)])
    assert [e.record.id for e in runlog.read(tmp_path)] == [make(1).id, make(2).id]


def test_many_invalid_lines_are_summarised(tmp_path: Path, capfd) -> None:
    runlog.ensure_store(tmp_path)
    layout.log_path(tmp_path).write_text("x\n" * 12 + make(1).line + "\n", encoding="utf-8")
    assert len(list(runlog.read(tmp_path))) == 1
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 6 and err[-1].endswith("7 more invalid lines skipped")
    # Issue 17, item 4: json's message ends "at line 1 column 1"; said once, not "at at".
    assert err[0] == (
        "nt: warning: .ntrk/runs.jsonl:1: skipped, not a valid record "
        "(not JSON (Expecting value: column 1))"
    ), err[0]


FULL_DISK = """
import resource, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from history import v1_record
from ntrk import layout, record
from ntrk.store import runlog
from ntrk.errors import NtrkError
root = Path(sys.argv[1])
size = layout.log_path(root).stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 10, size + 10))
try:
    runlog.append(root, [record.parse(v1_record(9, [], [("big", b"b")]))])
except NtrkError as error:
    print(error)
"""


def test_full_disk_leaves_nothing_half_written(tmp_path: Path) -> None:
    runlog.append(tmp_path, [make(1)])
    before = layout.log_path(tmp_path).read_bytes()
    script = FULL_DISK.format(tests=str(Path(__file__).parent))
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True
    )
    assert "cannot write .ntrk/runs.jsonl: " in done.stdout
    assert "nothing was recorded" in done.stdout
    assert layout.log_path(tmp_path).read_bytes() == before
