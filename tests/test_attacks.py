"""Attacks on ntrk: crashes, hostile records, odd git states. Nothing lost, nothing hostile in.

The fast subset runs by default; NTRK_SOAK=1 runs the long versions (hundreds of kills, twenty
rounds of 32 concurrent runs), which .ci/run also runs.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pygit2
import pytest
from conftest import (
    NT,
    STEP,
    Outcome,
    bounded,
    clone,
    commit_all,
    git,
    give_to_nobody,
    hash_object,
    ignore_outputs,
    make_repo,
    make_server,
    nt,
    read_log,
    start_tracks,
)
from history import log_line, v1_record
from hypothesis import given
from hypothesis import strategies as st

from ntrk import layout, record
from ntrk.errors import InvalidRecord
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
    noted = notes.record_ids(repo)
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
    assert "nested too deeply" in first.err or "more invalid lines skipped" in first.err
    # Lines that are JSON records on the surface are checked whole when a command uses them:
    # a listing uses every one, and names each bad one by its line.
    listing = nt(repo, "log")
    assert re.search(r"\.ntrk/runs\.jsonl:\d+: skipped, not a valid record", listing.err)
    assert "names a path outside the repository" in listing.err
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


# === issue 13: what a clone, a remote or a record holds is data ===============================
# One test (or a small group) per numbered case, `test_13_NN_...`, through the installed `nt`,
# the `cli` fixture, git and files on disk. Cases 3 and 15's install-hooks half are at the top
# of this file.


def one_line(err: str) -> str:
    """The single `nt: ...` line on stderr (no traceback, no internal error)."""
    assert "internal error" not in err and "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nt: "), err
    return lines[0]


MARKER_PROGRAM = "open('ran.marker', 'w').write('the command ran')"


# --- 1. a store committed as a symbolic link ---------------------------------------------------


@pytest.mark.parametrize("linked", [".ntrk/runs.jsonl", ".ntrk"], ids=["log", "store"])
def test_13_01_a_store_committed_as_a_link_is_refused(
    repo: Path, tmp_path: Path, linked: str
) -> None:
    """Case 1: `.ntrk/runs.jsonl` (or `.ntrk`) committed as a link leading out of the tree:
    `nt track` refuses before running anything, and writes nothing outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "bashrc"
    victim.write_text("export PATH=/usr/bin\n")
    if linked == ".ntrk":
        (repo / ".ntrk").symlink_to(outside, target_is_directory=True)
    else:
        (repo / ".ntrk").mkdir()
        (repo / ".ntrk" / "runs.jsonl").symlink_to(victim)
    commit_all(repo, "a hostile store")
    before = sorted(path.name for path in outside.iterdir())
    done = nt(repo, "track", "python", "-c", MARKER_PROGRAM, "-o", "ran.marker")
    assert done.code == 1, done.err
    assert linked in one_line(done.err)
    assert not (repo / "ran.marker").exists(), "the command ran before the store was checked"
    assert victim.read_text() == "export PATH=/usr/bin\n"
    assert sorted(path.name for path in outside.iterdir()) == before


def test_13_01_a_log_linked_to_dev_zero_costs_bounded_memory(repo: Path) -> None:
    """Case 1: a log that is a link to /dev/zero never makes a reader eat memory."""
    (repo / ".ntrk").mkdir()
    (repo / ".ntrk" / "runs.jsonl").symlink_to("/dev/zero")
    commit_all(repo, "a log that never ends")
    for argv in (["log"], ["status"], ["trace", "raw.csv"]):
        done = bounded(repo, *argv)
        assert "internal error" not in done.err and "MemoryError" not in done.err, done.err
        assert done.code in (0, 1), done.err


# --- 2. planted temporary files and sidecars as links -------------------------------------------


def test_13_02_planted_links_at_sidecar_names_are_never_written_through(
    repo: Path, tmp_path: Path
) -> None:
    """Case 2: links at the temporary name of a sidecar (for the very pid `nt track` gets)
    and a sidecar committed as a link: no write goes through them."""
    keys = tmp_path / "authorized_keys"
    keys.write_text("ssh-ed25519 AAAA the owner's key\n")
    other = tmp_path / "other_secret"
    other.write_text("untouched\n")
    (repo / ".made.csv.ntrk").symlink_to(other)
    commit_all(repo, "a sidecar that is a link")
    # `exec` keeps the shell's pid, so the link is planted for exactly the pid of `nt`: a
    # repository cannot know it, but can commit one link per possible pid to the same effect.
    script = (
        'ln -s "$1" ".out.csv.ntrk.$$.tmp" && exec "$2" track python step.py -i raw.csv -o out.csv'
    )
    done = subprocess.run(
        ["sh", "-c", script, "sh", str(keys), NT], cwd=repo, capture_output=True, text=True
    )
    assert "internal error" not in done.stderr, done.stderr
    assert keys.read_text() == "ssh-ed25519 AAAA the owner's key\n", "written through a link"
    again = nt(repo, "track", "python", "-c", "open('made.csv', 'w').write('m')", "-o", "made.csv")
    assert "internal error" not in again.err, again.err
    assert other.read_text() == "untouched\n"
    assert keys.read_text() == "ssh-ed25519 AAAA the owner's key\n"


# --- 4. a committed configuration runs nothing until trusted --------------------------------------


def env_command_config(marker: Path) -> str:
    return f'[record]\nenv_command = "touch {marker}"\n'


def test_13_04_a_committed_env_command_runs_only_once_trusted(repo: Path, tmp_path: Path) -> None:
    """Case 4: `[record] env_command` in a committed ntrk.toml is a program of the
    repository's choosing: it runs only after `nt trust` of that exact content (again after an
    edit), or from the user's own `git config ntrk.envCommand`; the rerun plan names it."""
    first, second, own = tmp_path / "first", tmp_path / "second", tmp_path / "own"
    (repo / "ntrk.toml").write_text(env_command_config(first))
    commit_all(repo, "a configuration from a clone")
    untrusted = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "out.csv")
    assert "internal error" not in untrusted.err, untrusted.err  # it may run, or refuse
    assert not first.exists(), "a committed configuration ran a program without consent"

    before = git(repo, "status", "--porcelain", "--untracked-files=all")
    trusted = nt(repo, "trust")
    assert trusted.code == 0, trusted.err
    # Trust is this clone's: kept in the git directory, never in the work tree.
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == before
    assert nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "out.csv").code == 0
    assert first.exists(), "the trusted configuration's env_command did not run"
    first.unlink()
    plan = nt(repo, "rerun", "out.csv", "--all", "--dry-run")
    assert plan.code == 0, plan.err
    assert str(first) in plan.out + plan.err, "the plan does not name the program that will run"
    assert not first.exists()

    (repo / "ntrk.toml").write_text(env_command_config(second))
    commit_all(repo, "someone changed the configuration")
    edited = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "out.csv")
    assert "internal error" not in edited.err, edited.err
    assert not second.exists(), "trust survived an edit of the configuration"

    (repo / "ntrk.toml").unlink()
    commit_all(repo, "no configuration")
    git(repo, "config", "ntrk.envCommand", f"touch {own}")
    assert nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "out.csv").code == 0
    assert own.exists(), "the user's own ntrk.envCommand did not run"


# --- 5. control characters from records are shown, not obeyed ----------------------------------

HOSTILE = "\x1b[2K\r\x07\x08\t\x7f\x85\x9b\u2028\u2029\u202a\u202e\u2066\u2069"
# What must never reach a terminal raw: C0 (a line's own newline aside), DEL, C1, the line and
# paragraph separators, and the bidi embeddings, overrides and isolates.
INVISIBLE = (
    {chr(code) for code in range(0x20) if code != 0x0A}
    | {chr(code) for code in range(0x7F, 0xA0)}
    | {"\u2028", "\u2029"}
    | {chr(code) for code in range(0x202A, 0x202F)}
    | {chr(code) for code in range(0x2066, 0x206A)}
)
ESCAPED_ESC = ("\\x1b", "\\u001b", "\\033", "\\e", "^[")


def on_terminal(cwd: Path, *args: str) -> tuple[int, str]:
    """Run `nt ARGS` with stdout and stderr on a raw pseudo-terminal: exactly the bytes a
    terminal would get (click strips some escapes only when writing to a pipe)."""
    import pty
    import select
    import tty

    master, slave = pty.openpty()
    tty.setraw(slave)  # no output processing: a CR stays a CR, "\n" is not made "\r\n"
    proc = subprocess.Popen(
        [NT, *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([master], [], [], 1)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    code = proc.wait(timeout=60)
    return code, b"".join(chunks).decode("utf-8", errors="surrogateescape")


def test_13_05_strings_from_records_reach_the_terminal_visibly(repo: Path) -> None:
    """Case 5: a hostile record's command and paths carry terminal escapes, CR, C1 and bidi
    controls: the rerun plan, trace, log, status and errors show them escaped, never raw."""
    source, product = f"in{HOSTILE}.csv", f"out{HOSTILE}.csv"
    rec = v1_record(1, [(source, b"what it read")], [(product, b"O")], f"s{HOSTILE}.py")
    rec["command"] = ["sh", "-c", f"exit 3 # {HOSTILE}looks harmless", "-i", source]
    (repo / ".ntrk").mkdir()
    (repo / ".ntrk" / "runs.jsonl").write_text(log_line(rec))
    (repo / source).write_bytes(b"changed since")
    (repo / product).write_bytes(b"O")
    commit_all(repo, "a hostile record")
    shown = {
        "trace": on_terminal(repo, "trace", product),
        "log": on_terminal(repo, "log"),
        "status": on_terminal(repo, "status"),
        "plan": on_terminal(repo, "rerun", product, "--all", "--dry-run"),
        "error": on_terminal(repo, "rerun", product, "--all", "--yes"),
    }
    for name, (_, text) in shown.items():
        assert "internal error" not in text, text
        raw = sorted({f"U+{ord(ch):04X}" for ch in text if ch in INVISIBLE})
        assert not raw, f"{name} printed raw control characters {raw}: {text!r}"
        assert any(form in text for form in ESCAPED_ESC), f"{name} hid the escape: {text!r}"
    assert shown["error"][0] != 0


# --- 6. a huge note on the remote ---------------------------------------------------------------


def test_13_06_a_huge_note_on_the_remote_costs_bounded_memory(tmp_path: Path) -> None:
    """Case 6: a ~100 MB note of `x` lines (it packs to about 0.5 MB) on the remote: `nt sync`
    and the read commands stay within memory and time, with one warning naming that note."""
    server = make_server(tmp_path)
    mallory = clone(server, tmp_path / "mallory")
    made = nt(mallory, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert made.code == 0, made.err
    expected = nt(mallory, "trace", "clean.csv").out
    (mallory / "later.txt").write_text("another commit\n")
    later = commit_all(mallory, "another commit")
    git(mallory, "push", "-q", "origin", "main")
    bomb = tmp_path / "bomb.txt"
    with bomb.open("wb") as stream:
        for _ in range(100):
            stream.write(b"x\n" * 500_000)
    git(mallory, "notes", "--ref=ntrk", "add", "-F", str(bomb), later)
    bomb.unlink()
    blob = git(mallory, "notes", "--ref=ntrk", "list", later).strip()
    git(mallory, "push", "-q", "origin", "refs/notes/ntrk:refs/notes/ntrk")

    victim = clone(server, tmp_path / "victim")
    synced = bounded(victim, "sync", timeout=120)
    assert synced.code == 0, synced.err
    warnings = [line for line in synced.err.splitlines() if "warning" in line]
    assert len(warnings) == 1, synced.err
    assert later[:7] in warnings[0] or blob[:7] in warnings[0], "the warning names no note"
    (victim / "clean.csv").write_bytes((mallory / "clean.csv").read_bytes())
    traced = bounded(victim, "trace", "clean.csv", timeout=120)
    assert traced.code == 0, traced.err
    assert traced.out == expected
    for argv in (["log"], ["status"], ["sync"]):
        done = bounded(victim, *argv, timeout=120)
        assert "internal error" not in done.err and "MemoryError" not in done.err, done.err
        assert done.err.count("\n") <= 1, done.err
    # A cold index reads the note under both refs (local and fetched): still one warning.
    shutil.rmtree(victim / ".git" / "ntrk")
    rebuilt = bounded(victim, "log", timeout=120)
    assert rebuilt.err.count("warning") == 1, rebuilt.err


# --- 7. numbers and shapes JSON parsers choke on --------------------------------------------

BIG_INT = "9" * 5000  # Python refuses to convert more than 4,300 digits
HOSTILE_VALUES = {
    "big-int-size": ('"size": 1', f'"size": {BIG_INT}'),
    "big-int-extra": ('"v": 1', f'"extra": {BIG_INT}, "v": 1'),
    "1e999": ('"v": 1', '"extra": 1e999, "v": 1'),
    "NaN": ('"v": 1', '"extra": NaN, "v": 1'),
    "-Infinity": ('"v": 1', '"extra": -Infinity, "v": 1'),
    "deep": ('"v": 1', '"extra": ' + "[" * 100_000 + "]" * 100_000 + ', "v": 1'),
    "huge-string": ('"v": 1', '"extra": "' + "x" * (5 * 1024 * 1024) + '", "v": 1'),
}


def hostile_text(kind: str, index: int) -> str:
    """The JSON text of a record that carries one hostile value (written by hand: `json`
    itself cannot write most of them)."""
    text = json.dumps(v1_record(index, [], [("bad.csv", b"b")]), sort_keys=True)
    old, new = HOSTILE_VALUES[kind]
    assert old in text
    return text.replace(old, new, 1)


def strict_json(text: str) -> object:
    """Parse JSON as jq and other strict readers do: no NaN, no Infinity."""

    def refuse(constant: str) -> object:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("source", ["log", "note"])
@pytest.mark.parametrize("kind", sorted(HOSTILE_VALUES))
def test_13_07_a_hostile_number_or_shape_is_one_warning(repo: Path, kind: str, source: str) -> None:
    """Case 7: a record with a >4,300-digit integer, 1e999, NaN/Infinity, deep nesting or a
    huge string, in the log or in a note: one warning, never a crash, and everything printed
    as JSON stays strict JSON."""
    good = v1_record(1, [], [("good.csv", b"g")])
    bad = hostile_text(kind, 2)
    if source == "log":
        (repo / ".ntrk").mkdir()
        (repo / ".ntrk" / "runs.jsonl").write_text(log_line(good) + bad + "\n")
    else:
        note = repo.parent / "note.txt"
        note.write_text(f"ntrk good\t{json.dumps(good)}\nntrk bad\t{bad}\n")
        git(repo, "notes", "--ref=ntrk", "add", "-F", str(note), "HEAD")
    (repo / "good.csv").write_bytes(b"g")
    listed = nt(repo, "log", "--json")
    assert listed.code == 0, listed.err
    assert [rec["id"] for rec in strict_json(listed.out)] == [good["id"]]  # type: ignore[union-attr]
    assert len(listed.err.splitlines()) == 1 and "warning" in listed.err, listed.err
    for argv in (["trace", "good.csv", "--format", "json"], ["status", "--json"]):
        done = nt(repo, *argv)
        assert "internal error" not in done.err, done.err
        assert done.code == 0, done.err
        strict_json(done.out)
        assert len(done.err.splitlines()) <= 1, done.err


def hostile_fragment() -> st.SearchStrategy[str]:
    digits = st.integers(4_301, 6_000).map(lambda n: "7" * n)
    constants = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400"])
    nesting = st.integers(1, 3_000).map(lambda n: "[" * n + "]" * n)
    unbalanced = st.integers(1, 3_000).map(lambda n: '{"a": ' * n + "1" + "}" * (n - 1))
    huge = st.sampled_from([4 * 1024 * 1024 - 300, 4 * 1024 * 1024, 5_000_000]).map(
        lambda n: json.dumps("x" * n)
    )
    text = st.text(max_size=50).map(json.dumps)
    return st.one_of(digits, constants, nesting, unbalanced, huge, text)


@given(
    st.one_of(
        st.binary(max_size=300),
        st.tuples(
            st.sampled_from(['"size": 1', '"v": 1', '"cwd": "."', '"md5": "']),
            hostile_fragment(),
        ),
    )
)
def test_13_07_any_bytes_are_a_record_or_an_invalid_record(case: bytes | tuple[str, str]) -> None:
    """Case 7: whatever a record source holds, `parse_json` returns a record or raises
    InvalidRecord (never another error); a value strict JSON cannot hold is rejected."""
    if isinstance(case, bytes):
        text: str | bytes = case
        non_strict = False
    else:
        anchor, fragment = case
        base = json.dumps(v1_record(3, [], [("x.csv", b"x")]), sort_keys=True)
        value = anchor.split(": ")[0] + ": " + fragment
        # A duplicate "md5" key first: the record's own md5 still follows (and wins).
        text = base.replace(anchor, value + (', "md5": "' if "md5" in anchor else ""), 1)
        non_strict = fragment.lstrip("-") in ("NaN", "Infinity", "1e999", "1E400")
    try:
        record.parse_json(text)
    except InvalidRecord:
        return
    assert not non_strict, f"accepted a value that strict JSON cannot hold: {text[:200]!r}"


def test_13_07_warnings_about_one_bad_note_are_capped(repo: Path) -> None:
    """Case 7: a note with 30 bad lines prints a few warnings, not 30."""
    note = repo.parent / "note.txt"
    note.write_text("".join(f'ntrk bad {n}\t{{"v": 1, "id": {n}}}\n' for n in range(30)))
    git(repo, "notes", "--ref=ntrk", "add", "-F", str(note), "HEAD")
    done = nt(repo, "log")
    assert done.code == 0, done.err
    assert "internal error" not in done.err
    warnings = [line for line in done.err.splitlines() if "warning" in line]
    assert 1 <= len(warnings) <= 6, done.err


# --- 8. a configuration that never ends ----------------------------------------------------


@pytest.mark.parametrize("kind", ["dev-zero-link", "fifo"])
def test_13_08_a_config_that_is_not_a_file_fails_fast(repo: Path, kind: str) -> None:
    """Case 8: `ntrk.toml` committed as a link to /dev/zero, or a FIFO in its place: `nt track`
    fails fast with one line, before running the command."""
    config = repo / "ntrk.toml"
    if kind == "fifo":
        os.mkfifo(config)  # git cannot commit a FIFO: it just sits in the work tree
    else:
        config.symlink_to("/dev/zero")
        commit_all(repo, "a configuration that never ends")
    done = bounded(repo, "track", "python", "-c", MARKER_PROGRAM, "-o", "ran.marker", timeout=30)
    assert done.code == 1, done.err
    assert "ntrk.toml" in one_line(done.err)
    assert not (repo / "ran.marker").exists()


# --- 9. a remote that never answers ---------------------------------------------------------------

# git's `ext::` transport runs this command as the "server": it says nothing for a minute.
SILENT_REMOTE = "ext::sleep 60"


def add_silent_remote(repo: Path, push_to: Path | None = None) -> None:
    git(repo, "config", "protocol.ext.allow", "always")
    # What `nt sync` sets once, set already: its only words are then about the remote.
    git(repo, "config", "notes.rewriteRef", "refs/notes/ntrk")
    git(repo, "config", "notes.ntrk.mergeStrategy", "cat_sort_uniq")
    git(repo, "remote", "add", "slow", SILENT_REMOTE)
    if push_to is not None:  # pushes go to a real server; fetches hang
        git(repo, "config", "remote.slow.pushurl", str(push_to))
    git(repo, "config", "ntrk.networkTimeout", "2")


def test_13_09_sync_with_a_silent_remote_ends_in_seconds(repo: Path) -> None:
    """Case 9: `nt sync` with a remote that never answers, and `ntrk.networkTimeout` 2: one
    line naming the remote, within seconds (not git's 120 s, not an internal error)."""
    add_silent_remote(repo)
    assert nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "out.csv").code == 0
    done = bounded(repo, "sync", "slow", timeout=30)
    assert done.code != 0
    assert "slow" in one_line(done.err)


def test_13_09_the_pre_push_hook_with_a_silent_remote_ends_in_seconds(
    repo: Path, tmp_path: Path
) -> None:
    """Case 9: the same through the pre-push hook: `git push` goes on, ntrk warns once."""
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    add_silent_remote(repo, push_to=server)
    assert nt(repo, "install-hooks", "--push-notes").code == 0
    assert nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "out.csv").code == 0
    proc = subprocess.Popen(
        ["git", "push", "-q", "slow", "main"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("git push still running after 30 s: the pre-push hook waits on the remote")
    assert proc.returncode == 0, err
    assert "internal error" not in err, err
    assert "slow" in err
    assert git(server, "rev-parse", "main").strip() == git(repo, "rev-parse", "HEAD").strip()


# --- 10-13. crashes from ordinary input -----------------------------------------------------------


def test_13_10_a_python_c_program_longer_than_a_file_name_records(repo: Path) -> None:
    """Case 10: `python -c '<over 255 bytes>'` is a program, not a script path
    (ENAMETOOLONG)."""
    program = "open('out', 'w').write('made')  # " + "a long comment " * 30
    assert len(program.encode()) > 255
    done = nt(repo, "track", "python", "-c", program, "-o", "out")
    assert done.code == 0, done.err
    (rec,) = read_log(repo)
    assert [o["path"] for o in rec["outputs"]] == ["out"]
    assert rec["command"] == ["python", "-c", program, "-o", "out"]


@pytest.mark.parametrize(("where", "output"), [(".", "."), ("sub", "..")], ids=["dot", "dotdot"])
def test_13_11_an_output_that_is_the_tree_itself(repo: Path, where: str, output: str) -> None:
    """Case 11: `-o .` (or `-o ..` from a subdirectory): a clear line or a sane record, never
    an internal error."""
    (repo / "sub").mkdir()
    (repo / "sub" / "keep.txt").write_text("k")
    commit_all(repo, "a subdirectory")
    done = nt(repo / where, "track", "python", "-c", "open('made.txt', 'w')", "-o", output)
    assert "internal error" not in done.err and "Traceback" not in done.err, done.err
    if done.code == 0:
        for rec in read_log(repo):
            assert all(o["path"] not in ("", ".", "..") for o in rec["outputs"]), rec
            assert nt(repo, "log").code == 0
    else:
        assert done.code == 1
        one_line(done.err)


NOT_UTF8 = os.fsdecode(b"caf\xe9-\xff.csv")  # Latin-1 bytes, as an old system names files


def nt_any_bytes(cwd: Path, *args: str) -> Outcome:
    """Run `nt`, accepting any bytes it prints (names that are not UTF-8 may be echoed)."""
    done = subprocess.run([NT, *args], cwd=cwd, capture_output=True)
    return Outcome(
        done.returncode,
        done.stdout.decode("utf-8", errors="replace"),
        done.stderr.decode("utf-8", errors="replace"),
    )


def test_13_12_a_name_that_is_not_utf8_is_recorded(repo: Path) -> None:
    """Case 12: an argument and output file name that is not UTF-8 is recorded."""
    done = nt_any_bytes(repo, "track", *STEP, "-i", "raw.csv", "-o", NOT_UTF8)
    assert done.code == 0, done.err
    assert "internal error" not in done.err
    (rec,) = read_log(repo)  # valid UTF-8 JSON, one record
    assert len(rec["outputs"]) == 1
    for argv in (["log"], ["status"], ["trace", NOT_UTF8]):
        shown = nt_any_bytes(repo, *argv)
        assert "internal error" not in shown.err, shown.err
        assert shown.code in (0, 1), shown.err


def test_13_12_a_staged_name_that_is_not_utf8_does_not_stop_the_hook(repo: Path) -> None:
    """Case 12: a staged file whose name is not UTF-8: the pre-commit hook still stages the
    log, so the commit carries it."""
    assert nt(repo, "install-hooks").code == 0
    assert nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv").code == 0
    (repo / NOT_UTF8).write_bytes(b"data")  # surrogate escapes: the raw bytes on disk
    subprocess.run(["git", "add", "--", NOT_UTF8, "clean.csv"], cwd=repo, check=True)
    done = subprocess.run(["git", "commit", "-q", "-m", "data"], cwd=repo, capture_output=True)
    assert done.returncode == 0, done.stderr
    committed = git(repo, "ls-tree", "-r", "--name-only", "HEAD")
    assert ".ntrk/runs.jsonl" in committed.splitlines(), done.stderr
    assert "internal error" not in done.stderr.decode("utf-8", errors="replace")


@pytest.mark.parametrize("target", [".", "/"])
def test_13_13_tracing_the_tree_or_the_root(repo: Path, target: str) -> None:
    """Case 13: `nt trace .` and `nt trace /`: one line, never an internal error."""
    done = nt(repo, "trace", target)
    assert done.code != 0
    one_line(done.err)


# --- 14-16. limits and stores that cannot take a record ------------------------------------------

MAKE_MANY = (
    "import os, sys\n"
    "open('ran.marker', 'w').write('the command ran')\n"
    "os.makedirs('many', exist_ok=True)\n"
    "for name in sys.argv[sys.argv.index('-o') + 1 :]:\n"
    "    open(name, 'w').close()\n"
)


def test_13_14_a_record_over_the_size_limit_is_refused_before_the_run(repo: Path) -> None:
    """Case 14: a run declaring 40,000 outputs: its record cannot fit in 4 MiB (the names and
    the count show it), so it is refused before the command runs, with one clear line."""
    (repo / ".gitignore").write_text("many/\n")
    commit_all(repo, "ignore the outputs")
    names = [f"many/output-file-number-{n:06d}.csv" for n in range(40_000)]
    done = subprocess.run(
        [NT, "track", "python", "-c", MAKE_MANY, "-o", *names],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr[-500:]
    one_line(done.stderr)
    assert not (repo / "ran.marker").exists(), "the command ran, then could not be recorded"
    assert read_log(repo) == []


def test_13_15_an_untracked_name_that_is_not_utf8_is_refused_clearly(repo: Path) -> None:
    """Case 15 (second half): an untracked file whose name is not UTF-8: `nt track` refuses
    (the tree is dirty) with one line naming it, never an internal error."""
    (repo / NOT_UTF8).write_bytes(b"left over")
    done = nt_any_bytes(repo, "track", *STEP, "-i", "raw.csv", "-o", "out.csv")
    assert done.code == 1, done.err
    line = one_line(done.err)
    assert "caf" in line and ".csv" in line, line
    assert not (repo / "out.csv").exists()


@pytest.mark.parametrize("damage", ["store-is-a-file", "log-is-a-directory"])
def test_13_16_a_store_that_cannot_take_a_record_refuses_before_the_run(
    repo: Path, damage: str
) -> None:
    """Case 16: `.ntrk` a plain file, or `runs.jsonl` a directory: refused before the command
    runs, with one clear line."""
    if damage == "store-is-a-file":
        (repo / ".ntrk").write_text("not a directory\n")
    else:
        (repo / ".ntrk" / "runs.jsonl").mkdir(parents=True)
    done = nt(repo, "track", "python", "-c", MARKER_PROGRAM, "-o", "ran.marker")
    assert done.code == 1, done.err
    one_line(done.err)
    assert not (repo / "ran.marker").exists(), "the command ran, then could not be recorded"


def test_13_16_a_read_only_log_refuses_before_the_run(unprivileged) -> None:  # type: ignore[no-untyped-def]
    """Case 16: a read-only `.ntrk/runs.jsonl` (as a user who cannot write it): refused before
    the command runs, with one clear line."""
    base, prefix = unprivileged
    root = make_repo(base / "work")
    (root / ".ntrk").mkdir()
    (root / ".ntrk" / "runs.jsonl").write_text("")
    commit_all(root, "an empty log")
    (base / "home").mkdir()
    (base / "home" / ".gitconfig").write_text(f"[safe]\n\tdirectory = {root}\n")
    give_to_nobody(base)
    (root / ".ntrk" / "runs.jsonl").chmod(0o444)
    env = {**os.environ, "HOME": str(base / "home")}
    # sh, not python: as `nobody`, this machine's Python may live where it cannot be run.
    done = subprocess.run(
        [*prefix, NT, "track", "sh", "-c", "echo ran > ran.marker", "-o", "ran.marker"],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 1, done.stderr
    one_line(done.stderr)
    assert not (root / "ran.marker").exists(), "the command ran, then could not be recorded"


# --- 17. line separators inside a record ---------------------------------------------------

SEPARATORS = "a\u2028b\u2029c\u0085d.csv"


def ntrk_note_text(root: Path) -> dict[str, str]:
    """The text of every ntrk note, by annotated object (plain git's view)."""
    listing = git(root, "notes", "--ref=ntrk", "list").split()
    return {obj: git(root, "notes", "--ref=ntrk", "show", obj) for obj in listing[1::2]}


def test_13_17_line_separators_in_a_name_survive_sync(tmp_path: Path) -> None:
    """Case 17: U+2028, U+2029 and U+0085 in an argument and file name: after `nt sync` a
    clone sees the run intact, and syncing again and again adds no copies."""
    server = make_server(tmp_path)
    alice = clone(server, tmp_path / "alice")
    made = nt(alice, "track", *STEP, "-i", "raw.csv", "-o", SEPARATORS)
    assert made.code == 0, made.err
    # Split on "\n" only: `str.splitlines` would cut the record at U+2028.
    lines = (alice / ".ntrk" / "runs.jsonl").read_text(encoding="utf-8").split("\n")
    (rec,) = [json.loads(line) for line in lines if line]
    assert rec["outputs"][0]["path"] == SEPARATORS
    assert nt(alice, "sync").code == 0
    first = ntrk_note_text(alice)
    for _ in range(3):
        again = nt(alice, "sync")
        assert again.code == 0, again.err
    assert ntrk_note_text(alice) == first, "every sync added another copy of the record"

    bob = clone(server, tmp_path / "bob")
    synced = nt(bob, "sync")
    assert synced.code == 0, synced.err
    listed = nt(bob, "log", "--json")
    assert listed.err == "", listed.err
    assert json.loads(listed.out) == [rec]
    (bob / SEPARATORS).write_bytes((alice / SEPARATORS).read_bytes())
    traced = nt(bob, "trace", SEPARATORS)
    assert traced.code == 0, traced.err
