"""`nt status`: missing, modified, stale (and why), ok; exit codes for CI."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import commit_all, git, read_log, states


def test_status_all_ok_exits_0(chain: Path, cli) -> None:
    result = cli("status")
    assert result.code == 0
    assert result.out == "ok        clean.csv\nok        final.csv\n"


def test_stale_by_input_and_upstream(chain: Path, cli) -> None:
    (chain / "raw.csv").write_text("new,data\n")
    commit_all(chain, "new raw")
    result = cli("status")
    assert result.code == 1
    assert result.out == (
        "stale     clean.csv  (input raw.csv changed)\n"
        "stale     final.csv  (upstream clean.csv is stale)\n"
    )


def test_stale_by_script(chain: Path, cli) -> None:
    (chain / "step.py").write_text((chain / "step.py").read_text() + "# tweak\n")
    commit_all(chain, "tweak")
    result = cli("status", "clean.csv")
    assert result.code == 1
    assert result.out == "stale     clean.csv  (script step.py changed since the run)\n"


def test_modified_and_missing(chain: Path, cli) -> None:
    (chain / "final.csv").write_text("edited\n")
    (chain / "clean.csv").unlink()
    assert states(cli) == {"clean.csv": "missing", "final.csv": "modified"}
    assert cli("status").out.splitlines()[0] == "missing   clean.csv"


def test_status_of_an_unknown_path(chain: Path, cli) -> None:
    result = cli("status", "raw.csv")
    assert result.code == 1 and result.out == "unknown   raw.csv  (no recorded run wrote it)\n"


def test_status_json_names_records(chain: Path, cli) -> None:
    data = json.loads(cli("status", "--json").out)
    ids = {rec["id"] for rec in read_log(chain)}
    assert {entry["record"] for entry in data} == ids
    assert all(entry["reasons"] == [] for entry in data)


def test_status_of_a_deep_chain(repo: Path, cli) -> None:
    from history import log_line, v1_record

    depth = 2000
    (repo / ".ntrk").mkdir()
    records = [
        v1_record(i, [(f"f{i}", b"%d" % i)], [(f"f{i + 1}", b"%d" % (i + 1))]) for i in range(depth)
    ]
    (repo / ".ntrk" / "runs.jsonl").write_text("".join(map(log_line, records)))
    for i in range(depth + 1):
        (repo / f"f{i}").write_bytes(b"%d" % i)
    (repo / "f0").write_bytes(b"changed")
    result = cli("status", f"f{depth}")
    assert result.out == f"stale     f{depth}  (upstream f{depth - 1} is stale)\n"


def test_no_recorded_run_is_said_and_fails_the_gate(repo: Path, cli, tmp_path: Path) -> None:
    """A clone where nothing was recorded or fetched: status checked nothing, so it says so
    and exits 1 (a CI gate must not pass on nothing)."""
    result = cli("status")
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("nt: no recorded runs yet — record one with nt track COMMAND")
    assert "nt sync fetches the runs recorded in other clones" in result.err
    assert json.loads(cli("status", "--json").out) == []
    git(repo, "remote", "add", "origin", str(tmp_path / "elsewhere.git"))
    assert "nt sync origin fetches the runs" in cli("status").err  # the remote never fetched
