"""`nt status`, `nt rerun`, `nt log`, trace's graph formats and the richer record fields."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import NT, commit_all, nt, read_log

STEP = ["python", "step.py"]


@pytest.fixture
def chain(repo: Path, cli) -> Path:
    """raw.csv -> clean.csv -> final.csv, recorded and committed."""
    assert cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv").code == 0
    assert cli("track", *STEP, "-i", "clean.csv", "-o", "final.csv").code == 0
    commit_all(repo, "results")
    return repo


def states(cli, *paths: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    result = cli("status", "--json", *paths)
    return {entry["path"]: entry["state"] for entry in json.loads(result.out)}


# --- status ----------------------------------------------------------------------------------


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


# --- rerun -----------------------------------------------------------------------------------


def test_rerun_dry_run_shows_the_plan_and_runs_nothing(chain: Path, cli) -> None:
    (chain / "raw.csv").write_text("new\n")
    commit_all(chain, "new raw")
    result = cli("rerun", "final.csv", "--dry-run")
    assert result.code == 0
    assert result.out == (
        "plan: 2 step(s) to make final.csv again\n"
        "  1. (in .) python step.py -i raw.csv -o clean.csv  [stale: input raw.csv changed]\n"
        "  2. (in .) python step.py -i clean.csv -o final.csv  "
        "[stale: upstream clean.csv is stale]\n"
    )
    assert len(read_log(chain)) == 2


def test_rerun_refuses_without_consent(chain: Path) -> None:
    done = subprocess.run(
        [NT, "rerun", "final.csv", "--all"],
        cwd=chain,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert "plan: 2 step(s)" in done.stdout
    assert done.stderr == (
        "nt: refusing to run commands from records without consent — read the plan above, "
        "then rerun with --yes\n"
    )
    assert len(read_log(chain)) == 2


def test_rerun_of_an_up_to_date_file_runs_nothing(chain: Path, cli) -> None:
    result = cli("rerun", "final.csv", "--yes")
    assert result.code == 0 and "is up to date; nothing to run" in result.out


def test_rerun_stale_steps_records_new_runs(chain: Path, cli) -> None:
    (chain / "raw.csv").write_text("new\n")
    commit_all(chain, "new raw")
    result = cli("rerun", "final.csv", "--yes")
    assert result.code == 0, result.err
    assert len(read_log(chain)) == 4
    assert (chain / "final.csv").read_text() == "NEW\n"
    assert cli("status").code == 0


def test_rerun_verify_reproduced(chain: Path, cli) -> None:
    result = cli("rerun", "final.csv", "--all", "--yes", "--verify")
    assert result.code == 0, result.err
    assert result.out.splitlines()[-2:] == ["reproduced clean.csv", "reproduced final.csv"]


def test_rerun_verify_differs_for_a_script_that_writes_the_time(repo: Path, cli) -> None:
    code = "import time; open('stamp.txt', 'w').write(repr(time.time()))"
    (repo / "stamp.py").write_text(code)
    commit_all(repo, "stamp")
    assert cli("track", "python", "stamp.py", "-o", "stamp.txt").code == 0
    result = cli("rerun", "stamp.txt", "--all", "--yes", "--verify")
    assert result.code == 1
    assert re.fullmatch(
        r"differs    stamp\.txt  \(recorded [0-9a-f]{8}, now [0-9a-f]{8}\)",
        result.out.splitlines()[-1],
    )


def test_rerun_runs_each_step_in_its_directory(repo: Path, cli, monkeypatch) -> None:
    sub = repo / "sub"
    sub.mkdir()
    (sub / "in.txt").write_text("x")
    commit_all(repo, "sub")
    monkeypatch.chdir(sub)
    code = "import os; open('out.txt', 'w').write(os.getcwd())"
    assert cli("track", "python", "-c", code, "-i", "in.txt", "-o", "out.txt").code == 0
    monkeypatch.chdir(repo)
    assert "(in sub) python -c" in cli("rerun", "sub/out.txt", "--all", "--dry-run").out
    assert cli("rerun", "sub/out.txt", "--all", "--yes", "--verify").code == 0


# --- trace formats ---------------------------------------------------------------------------


def test_trace_json_is_the_whole_graph(chain: Path, cli) -> None:
    (chain / "raw.csv").write_text("changed\n")
    graph = json.loads(cli("trace", "final.csv", "--format", "json").out)
    assert [f["path"] for f in graph["files"]] == ["raw.csv", "clean.csv", "final.csv"]
    assert graph["files"][0]["marker"] == "modified" and graph["files"][2]["marker"] is None
    assert [s["command"][-1] for s in graph["steps"]] == ["clean.csv", "final.csv"]
    assert all(isinstance(s["duration"], float) for s in graph["steps"])
    ids = {f["id"] for f in graph["files"]} | {s["id"] for s in graph["steps"]}
    assert len(graph["edges"]) == 4
    assert all(e["from"] in ids and e["to"] in ids for e in graph["edges"])


def test_trace_text_is_the_default(chain: Path, cli) -> None:
    assert cli("trace", "final.csv").out == cli("trace", "final.csv", "--format", "text").out


def test_trace_mermaid_structure(chain: Path, cli) -> None:
    lines = cli("trace", "final.csv", "--format", "mermaid").out.splitlines()
    assert lines[0] == "flowchart LR"
    assert lines[1:4] == ['  f0["raw.csv"]', '  f1["clean.csv"]', '  f2["final.csv"]']
    assert re.fullmatch(r'  s0\(\["step\.py @ [0-9a-f]{7}"\]\)', lines[4])
    assert lines[6:] == ["  f0 --> s0", "  s0 --> f1", "  f1 --> s1", "  s1 --> f2"]


def test_trace_dot_renders_with_graphviz(chain: Path, cli, tmp_path: Path) -> None:
    out = cli("trace", "final.csv", "--format", "dot").out
    assert out.startswith("digraph lineage {") and out.count(" -> ") == 4
    if shutil.which("dot") is None:
        pytest.skip("graphviz is not installed (CI installs it)")
    done = subprocess.run(["dot", "-Tsvg"], input=out, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "<svg" in done.stdout and "clean.csv" in done.stdout


def test_dot_and_mermaid_escape_quotes(repo: Path, cli) -> None:
    name = 'we"ird.csv'
    assert cli("track", "python", "-c", f"open('{name}','w').write('1')", "-o", name).code == 0
    assert '"file:we\\"ird.csv@' in cli("trace", name, "--format", "dot").out
    assert "we#quot;ird.csv" in cli("trace", name, "--format", "mermaid").out


# --- log -------------------------------------------------------------------------------------


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


# --- richer records --------------------------------------------------------------------------


def test_records_carry_platform_python_and_timing(chain: Path) -> None:
    for rec in read_log(chain):
        assert rec["platform"] and re.fullmatch(r"3\.\d+\.\d+.*", rec["python"])
        assert rec["exit"] == 0 and rec["duration"] >= 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", rec["start"])
        assert "hostname" not in rec and "env" not in rec


def test_hostname_and_environment_fingerprint_are_opt_in(repo: Path, cli, monkeypatch) -> None:
    (repo / "ntrk.toml").write_text(
        '[record]\nhostname = true\nenv_vars = ["NTRK_TEST_A"]\nenv_command = "echo hi"\n'
    )
    commit_all(repo, "config")
    monkeypatch.setenv("NTRK_TEST_A", "1")
    cli("track", *STEP, "-i", "raw.csv", "-o", "a.csv")
    monkeypatch.setenv("NTRK_TEST_A", "2")
    cli("track", *STEP, "-i", "raw.csv", "-o", "b.csv")
    first, second = read_log(repo)
    import socket

    assert first["hostname"] == socket.gethostname()
    assert first["env"]["vars"] == ["NTRK_TEST_A"]
    assert first["env"]["vars_md5"] != second["env"]["vars_md5"]  # values differ, not stored
    assert "1" not in json.dumps(first["env"]["vars"])
    assert first["env"]["command_md5"] == second["env"]["command_md5"]


def test_wrong_types_in_the_record_table(repo: Path, cli) -> None:
    (repo / "ntrk.toml").write_text("[record]\nhostname = 'yes'\n")
    commit_all(repo, "config")
    result = cli("track", "true")
    assert result.code == 1 and "record.hostname must be true or false" in result.err


def test_old_records_without_new_fields_still_work(repo: Path, cli) -> None:
    from history import log_line, v1_record

    (repo / ".ntrk").mkdir()
    (repo / ".ntrk" / "runs.jsonl").write_text(log_line(v1_record(1, [], [("o", b"o")])))
    (repo / "o").write_bytes(b"o")
    assert cli("log").out.split()[4] == "-"  # no duration recorded
    assert json.loads(cli("trace", "o", "--format", "json").out)["steps"][0]["duration"] is None
    assert cli("status").code == 0
    assert nt(repo, "log").code == 0
