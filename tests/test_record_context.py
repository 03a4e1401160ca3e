"""Where a run happened: platform, Python, timing, and the opt-in hostname and environment."""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path

from conftest import STEP, commit_all, nt, read_log


def test_records_carry_platform_python_and_timing(chain: Path) -> None:
    for rec in read_log(chain):
        # ntrk derives it without the platform module on Linux; it must say the same.
        assert rec["platform"] == platform.platform(terse=True)
        assert re.fullmatch(r"3\.\d+\.\d+.*", rec["python"])
        assert rec["exit"] == 0 and rec["duration"] >= 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", rec["start"])
        assert "hostname" not in rec and "env" not in rec


def test_hostname_and_environment_fingerprint_are_opt_in(repo: Path, cli, monkeypatch) -> None:
    (repo / "ntrk.toml").write_text(
        '[record]\nhostname = true\nenv_vars = ["NTRK_TEST_A"]\nenv_command = "echo hi"\n'
    )
    commit_all(repo, "config")
    assert "record.env_command = echo hi" in cli("trust").out
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


def test_a_committed_env_command_runs_only_once_trusted(repo: Path, cli) -> None:
    marker = repo.parent / "ran"
    (repo / "ntrk.toml").write_text(f'[record]\nenv_command = "touch {marker}"\n')
    commit_all(repo, "config")
    untrusted = cli("track", *STEP, "-i", "raw.csv", "-o", "a.csv")
    assert untrusted.code == 0 and not marker.exists()
    assert "only once you trust it (nt trust)" in untrusted.err
    assert "env" not in read_log(repo)[0]
    plan = cli("rerun", "a.csv", "--all", "--dry-run").out
    assert "touch" not in plan  # it would not run, so the plan does not list it
    assert cli("trust").code == 0
    assert f"each step also runs touch {marker}" in cli("rerun", "a.csv", "--all", "--dry-run").out
    cli("track", *STEP, "-i", "raw.csv", "-o", "b.csv")
    assert marker.exists() and "command_md5" in read_log(repo)[1]["env"]
    marker.unlink()
    (repo / "ntrk.toml").write_text(f'[record]\nenv_command = "touch {marker}" # edited\n')
    commit_all(repo, "edit config")
    cli("track", *STEP, "-i", "raw.csv", "-o", "c.csv")
    assert not marker.exists()  # an edited file needs a new approval


def test_the_users_own_env_command_needs_no_approval(repo: Path, cli) -> None:
    from conftest import git

    git(repo, "config", "ntrk.envCommand", "echo mine")
    assert cli("track", *STEP, "-i", "raw.csv", "-o", "a.csv").code == 0
    assert read_log(repo)[0]["env"]["command"] == "echo mine"
