"""Attacks on ntrk: crashes, hostile records, odd git states. Nothing lost, nothing hostile in.

The fast subset runs by default; NTRK_SOAK=1 runs the long versions (hundreds of kills, twenty
rounds of 32 concurrent runs), which .ci/run also runs.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pygit2
import pytest
from conftest import (
    NT,
    commit_all,
    git,
    give_to_nobody,
    hash_object,
    ignore_outputs,
    make_repo,
    nt,
    read_log,
    start_tracks,
)
from history import log_line, v1_record
from hypothesis import given
from hypothesis import strategies as st

from ntrk import layout, record
from ntrk.store import notes

SOAK = os.environ.get("NTRK_SOAK") == "1"


# --- hooks folders: shared, read-only (issue 13, cases 3 and 15) ------------------------------


@pytest.mark.parametrize("folder", [".githooks", ".husky"])
def test_13_03_a_tracked_hooks_folder_is_changed_only_on_request_and_portably(
    repo: Path, folder: str, tmp_path: Path
) -> None:
    """core.hooksPath at a committed folder: installing rewrites what everyone runs."""
    hooks = repo / folder
    hooks.mkdir()
    team_log = tmp_path / "team.log"
    team_hook = f"#!/bin/sh\necho team-hook-ran >> '{team_log}'\n"
    (hooks / "pre-commit").write_text(team_hook)
    (hooks / "pre-commit").chmod(0o755)
    commit_all(repo, "the team's hooks")
    git(repo, "config", "core.hooksPath", folder)

    refused = nt(repo, "install-hooks")
    assert refused.code == 1, refused.err
    assert refused.err.count("\n") == 1 and refused.err.startswith("nt: ")
    assert "--tracked" in refused.err and "pre-commit.before-ntrk" in refused.err
    assert git(repo, "status", "--porcelain") == ""  # nothing renamed or written
    assert (hooks / "pre-commit").read_text() == team_hook

    chosen = nt(repo, "install-hooks", "--tracked")
    assert chosen.code == 0, chosen.err
    assert f"git add {folder} && git commit" in chosen.err
    for script in hooks.glob("p*-commit"):  # nothing of this machine's in what everyone runs
        text = script.read_text()
        assert "NTRK_PYTHON=''" in text and str(Path(NT).parent) not in text
    commit_all(repo, "ntrk's hooks for everyone")

    # Another machine: ntrk reachable only as `python3 -m ntrk`, no `nt` on PATH.
    elsewhere = tmp_path / "bin"
    elsewhere.mkdir()
    (elsewhere / "python3").write_text(f'#!/bin/sh\nexec {Path(NT).with_name("python")} "$@"\n')
    (elsewhere / "python3").chmod(0o755)
    env = {**os.environ, "PATH": f"{elsewhere}{os.pathsep}/usr/bin:/bin"}
    assert nt(repo, "track", "python", "step.py", "-i", "raw.csv", "-o", "clean.csv").code == 0
    git(repo, "add", "clean.csv")
    subprocess.run(["git", "commit", "-q", "-m", "results"], cwd=repo, env=env, check=True)
    assert team_log.read_text().splitlines()[-1] == "team-hook-ran"  # still chained
    shown = git(repo, "show", "HEAD:.ntrk/runs.jsonl")
    assert len(shown.splitlines()) == 1


def test_13_15_install_hooks_where_the_hooks_cannot_be_written(unprivileged) -> None:
    """A read-only .git/hooks, and a shared core.hooksPath: one line, never an internal error."""
    base, prefix = unprivileged
    root = make_repo(base / "mine")
    (base / "home").mkdir()
    for path in (root, base / "home"):
        give_to_nobody(path)
    env = {"HOME": str(base / "home"), "PATH": "/usr/bin:/bin"}
    hooks = root / ".git" / "hooks"
    hooks.chmod(0o555)
    done = subprocess.run(
        [*prefix, NT, "install-hooks"], cwd=root, capture_output=True, text=True, env=env
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "internal error" not in done.stderr
    assert "cannot change the hooks in .git/hooks: permission denied" in done.stderr
    assert not (hooks / "pre-commit").exists()

    shared = base / "team-hooks"  # set up by someone else, for everyone
    shared.mkdir(mode=0o755)
    shared.chmod(0o555)
    git(root, "config", "--file", ".git/config", "core.hooksPath", str(shared))
    done = subprocess.run(
        [*prefix, NT, "install-hooks"], cwd=root, capture_output=True, text=True, env=env
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "internal error" not in done.stderr
    assert f"cannot change the hooks in {shared} (core.hooksPath)" in done.stderr


# --- crashes ---------------------------------------------------------------------------------


def check_consistent(root: Path, finished: set[str]) -> dict[str, int]:
    """The invariants a crash must never break; returns what was found."""
    log = root / ".ntrk" / "runs.jsonl"
    lines = log.read_bytes().split(b"\n") if log.exists() else [b""]
    torn = 0
    ids = set()
    for number, line in enumerate(lines):
        if not line:
            continue
        try:
            ids.add(json.loads(line)["id"])
        except ValueError:
            torn += 1
            assert number == len(lines) - 1, f"a torn line that is not the last: {line[:60]!r}"
    repo = pygit2.Repository(str(root))
    noted = {ln.record.id for _, ln in notes.read_records(repo) if ln.record}
    if layout.NOTES_REF in repo.references:
        assert notes.notes_commit(repo) is not None, "the notes ref points at no commit"
    for side in root.glob(".*.ntrk"):
        json.loads(side.read_text())  # never half-written
    missing = {rid for rid in finished if rid not in ids}
    assert not missing, f"completed runs lost: {missing}"
    return {"records": len(ids), "torn": torn, "notes": len(noted)}


def test_kill_9_at_random_moments_loses_nothing(repo: Path) -> None:
    ignore_outputs(repo)
    rng = random.Random(1234)
    kills = 400 if SOAK else 25
    finished: set[str] = set()
    torn_lines = 0
    for round_number in range(kills):
        code = f"import time; time.sleep({rng.random() * 0.05}); open('out{round_number}','w')"
        proc = subprocess.Popen(
            [NT, "track", "python", "-c", code, "-o", f"out{round_number}"],
            cwd=repo,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.random() * 0.5)
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == 0 and "recorded " in err:  # it finished before the kill landed
            finished.add(err.split("recorded ")[1][:8])
        torn_lines += check_consistent(repo, set())["torn"]
    assert finished <= {rec["id"][:8] for rec in read_log(repo)}
    # After the storm, a normal run appends cleanly behind whatever was torn.
    result = nt(repo, "track", "python", "-c", "open('outlast','w')", "-o", "outlast")
    assert result.code == 0, result.err
    final = check_consistent(repo, set())
    assert final["torn"] == 0
    assert nt(repo, "trace", "outlast").code == 0
    print(
        f"kill -9 x{kills}: {final['records']} records, {len(finished)} completed runs kept, "
        f"{torn_lines} torn-line sightings, 0 left after the next append"
    )


def test_thirty_two_concurrent_runs_repeatedly(repo: Path) -> None:
    ignore_outputs(repo)
    rounds = 20 if SOAK else 2
    for round_number in range(rounds):
        procs = start_tracks(repo, [f"out{round_number}_{i}" for i in range(32)])
        assert all(proc.wait(timeout=180) == 0 for proc in procs)
        state = check_consistent(repo, set())
        assert state["records"] == state["notes"] == 32 * (round_number + 1)
        assert len(list(repo.glob(".out*.ntrk"))) == 32 * (round_number + 1)


# --- hostile records -------------------------------------------------------------------------

HOSTILE_OUTPUTS = ["../../etc/passwd", "/dev/zero", "/etc/passwd", "a/../../b", "", ".", "x\0y"]


def hostile_log(root: Path) -> list[dict[str, object]]:
    good = v1_record(0, [], [("good.csv", b"g")])
    records: list[dict[str, object]] = [good]
    for index, path in enumerate(HOSTILE_OUTPUTS, start=1):
        rec = v1_record(index, [("good.csv", b"g")], [("placeholder", b"p")])
        rec["outputs"] = [{"path": path, "md5": "d" * 32, "size": 1}]
        records.append(rec)
    records.append(
        {
            **v1_record(50, [], [("typed.csv", b"t")]),
            "outputs": [{"path": "typed.csv", "md5": "d" * 32, "size": "1"}],
        }
    )
    records.append({**v1_record(51, [], [("big.csv", b"b")]), "command": ["x" * 5_000_000]})
    records.append(v1_record(0, [], [("dup.csv", b"d")]))  # a duplicate id
    (root / ".ntrk").mkdir(exist_ok=True)
    with (root / ".ntrk" / "runs.jsonl").open("w") as log:
        for rec in records:
            log.write(json.dumps(rec) + "\n")
        log.write("[" * 100_000 + "\n")  # nested too deeply for any parser
        log.write('{"v": 1, "id": "\\udcff"}\n')
        log.buffer.write(b"\xff\xfe not utf-8\n") if hasattr(log, "buffer") else None
    return records


def test_hostile_log_never_escapes_the_work_tree(repo: Path) -> None:
    hostile_log(repo)
    (repo / "good.csv").write_bytes(b"g")
    first = nt(repo, "trace", "good.csv")  # the first reader indexes the log, and says so once
    assert first.out == "(no tracked inputs) -> step.py @ aaaaaaa -> good.csv\n"
    assert "names a path outside the repository" in first.err
    assert "nested too deeply" in first.err or "more invalid lines skipped" in first.err
    for argv in (
        ["trace", "good.csv"],
        ["status"],
        ["log"],
        ["trace", "good.csv", "--format", "json"],
        ["rerun", "good.csv", "--all", "--dry-run"],
    ):
        done = subprocess.run([NT, *argv], cwd=repo, capture_output=True, text=True, timeout=60)
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
        assert "/etc/passwd" not in done.stdout and "dup.csv" not in done.stdout


def test_symlink_and_fifo_outputs_are_never_read(repo: Path, cli, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("outside")
    (repo / "link.csv").symlink_to(secret)
    os.mkfifo(repo / "fifo.csv")
    records = [v1_record(1, [("link.csv", b"outside")], [("fifo.csv", b"f")])]
    (repo / ".ntrk").mkdir()
    (repo / ".ntrk" / "runs.jsonl").write_text("".join(map(log_line, records)))
    # trace by path: the FIFO is not hashed (it would hang), the link is not followed outside.
    result = cli("trace", "fifo.csv")
    assert result.code == 0
    assert result.out == "link.csv -> step.py @ aaaaaaa -> fifo.csv\n"  # no marker: not trusted
    status = json.loads(cli("status", "--json").out)
    assert status[0]["state"] == "modified"


def test_cycle_and_self_loop_finish(repo: Path, cli) -> None:
    loop = v1_record(1, [("x", b"1")], [("x", b"1")])
    (repo / ".ntrk").mkdir()
    (repo / ".ntrk" / "runs.jsonl").write_text(
        log_line(loop) + log_line(v1_record(2, [("x", b"1")], [("x", b"1")]))
    )
    (repo / "x").write_bytes(b"1")
    assert cli("trace", "x").code == 0
    assert cli("status").code == 0
    assert cli("rerun", "x", "--all", "--dry-run").code == 0


def test_trace_status_and_log_never_execute_record_commands(repo: Path, cli) -> None:
    evil = v1_record(1, [], [("o", b"o")])
    evil["command"] = ["sh", "-c", "touch PWNED"]
    (repo / ".ntrk").mkdir()
    (repo / ".ntrk" / "runs.jsonl").write_text(log_line(evil))
    (repo / "o").write_bytes(b"o")
    for argv in (["trace", "o"], ["status"], ["log"], ["rerun", "o", "--all", "--dry-run"]):
        cli(*argv)
    assert not (repo / "PWNED").exists()


@given(st.binary(max_size=300))
def test_any_note_line_is_a_record_or_a_clean_rejection(raw: bytes) -> None:
    parsed = notes.parse_line(raw.decode("utf-8", errors="replace"))
    assert (parsed.record is None) != (parsed.problem is None)


def test_foreign_notes_and_notes_on_blobs(repo: Path, cli) -> None:
    blob = hash_object(repo, "data")
    git(repo, "notes", "--ref=ntrk", "add", "-m", "a person's own words", "HEAD")
    head = git(repo, "rev-parse", "HEAD").strip()
    line = notes.format_line(record.parse(v1_record(5, [], [("n.csv", b"n")], commit=head)))
    git(repo, "notes", "--ref=ntrk", "add", "-m", line, blob)  # a note on a blob, not a commit
    (repo / "n.csv").write_bytes(b"n")
    result = cli("trace", "n.csv")
    assert result.code == 0 and result.out.endswith("-> n.csv\n")
    assert "not an ntrk note line" in result.err


# --- git states ------------------------------------------------------------------------------


def test_repository_owned_by_another_user_names_safe_directory(unprivileged) -> None:
    base, prefix = unprivileged
    if not prefix:
        pytest.skip("needs root to create a repository owned by someone else")
    root = make_repo(base / "theirs")
    (base / "home").mkdir()
    give_to_nobody(base / "home")
    done = subprocess.run(
        [*prefix, NT, "track", "true"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"HOME": str(base / "home"), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1
    assert f"the repository at {root} is owned by another user" in done.stderr
    assert f"git config --global --add safe.directory {root}" in done.stderr
    assert done.stderr.count("\n") == 1


def test_submodule_work_tree(repo: Path, tmp_path: Path) -> None:
    inner = make_repo(tmp_path / "inner")
    (inner / "in.txt").write_text("i")
    commit_all(inner, "an input")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(inner), "mod")
    commit_all(repo, "submodule")
    sub = repo / "mod"
    result = nt(sub, "track", "python", "step.py", "-i", "in.txt", "-o", "out.txt")
    assert result.code == 0, result.err
    assert (sub / ".ntrk" / "runs.jsonl").exists()  # the submodule's own lineage
    assert not (repo / ".ntrk").exists()
    assert nt(sub, "trace", "out.txt").out.startswith("in.txt -> step.py @ ")


def test_branch_without_upstream_syncs_to_origin(repo: Path, tmp_path: Path) -> None:
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    git(repo, "remote", "add", "origin", str(server))
    git(repo, "checkout", "-q", "-b", "feature")
    result = nt(repo, "sync")
    assert result.code == 0 and "from origin" in result.out
