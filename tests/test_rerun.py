"""`nt rerun`: the plan first, consent, each step an ordinary nt track, --verify."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conftest import NT, commit_all, read_log


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
