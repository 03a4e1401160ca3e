"""`nt log`: recorded runs newest first, filtered by path, as lines or JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import read_log
from history import log_line, v1_record


def test_log_newest_first_and_filtered(chain: Path, cli) -> None:
    lines = cli("log").out.splitlines()
    assert len(lines) == 2
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d"
    command = r"python step\.py -i clean\.csv -o final\.csv -> final\.csv"
    assert re.fullmatch(rf"[0-9a-f]{{8}} {when} [0-9a-f]{{7}} +\d+\.\d\ds {command}", lines[0])
    assert cli("log", "raw.csv").out.count("\n") == 1
    assert cli("log", "clean.csv").out.count("\n") == 2
    assert cli("log", "-n", "1").out == lines[0] + "\n"


def test_log_json(chain: Path, cli) -> None:
    data = json.loads(cli("log", "--json").out)
    assert [rec["id"] for rec in data] == [rec["id"] for rec in reversed(read_log(chain))]


def test_no_recorded_run_is_said(repo: Path, cli) -> None:
    result = cli("log")
    assert result.code == 0 and result.out == ""
    assert result.err.startswith("nt: no recorded runs yet — record one with nt track COMMAND")
    assert "nt sync" in result.err


def test_no_run_for_a_path_is_said(chain: Path, cli) -> None:
    result = cli("log", "step.py")
    assert result.code == 0 and result.out == ""
    assert result.err == "nt: no recorded run read or wrote step.py\n"


def test_a_history_longer_than_a_page_is_listed_whole_in_time_order(repo: Path, cli) -> None:
    """The index lists records a page at a time: every record comes once, newest first,
    whatever order the log holds them in."""
    records = [
        {
            **v1_record(n, [], [(f"out{n}.csv", b"%d" % n)]),
            "start": f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}.000000Z",
        }
        for n in range(150)
    ]
    shuffled = records[75:] + records[:75]  # a union merge: theirs after ours
    (repo / ".ntrk").mkdir()
    (repo / ".ntrk" / "runs.jsonl").write_text("".join(map(log_line, shuffled)))
    listed = json.loads(cli("log", "--json").out)
    assert [rec["id"] for rec in listed] == [rec["id"] for rec in reversed(records)]
    assert [rec["id"] for rec in json.loads(cli("log", "--json", "-n", "70").out)] == [
        rec["id"] for rec in reversed(records[80:])
    ]
