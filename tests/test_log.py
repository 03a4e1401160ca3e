"""`nt log`: recorded runs newest first, filtered by path, as lines or JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import read_log


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
