"""`nt track`: what it records, what it refuses, and how it fails."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import (
    NT,
    commit_all,
    git,
    give_to_nobody,
    ignore_outputs,
    make_repo,
    nt,
    read_log,
    start_tracks,
)

STEP = ["python", "step.py"]


def test_records_one_line_with_schema_v1_fields(repo: Path, cli) -> None:
    result = cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert result.code == 0
    (rec,) = read_log(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    assert rec["v"] == 1
    assert re.fullmatch(r"[0-9a-f]{32}", rec["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rec["ts"])
    assert rec["git"] == {"commit": head, "branch": "main"}
    assert rec["cwd"] == "."
    assert rec["command"] == [*STEP, "-i", "raw.csv", "-o", "clean.csv"]
    blob = git(repo, "rev-parse", "HEAD:step.py").strip()
    assert rec["script"]["path"] == "step.py" and rec["script"]["blob"] == blob
    assert [entry["path"] for entry in rec["inputs"]] == ["raw.csv"]
    assert [entry["path"] for entry in rec["outputs"]] == ["clean.csv"]
    assert f"recorded {rec['id'][:8]} (1 output(s))" in result.err
    assert "git add .ntrk && git commit" in result.err


def test_log_line_is_sorted_utf8_json_with_union_merge(repo: Path, cli) -> None:
    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    line = (repo / ".ntrk" / "runs.jsonl").read_text(encoding="utf-8")
    assert line.endswith("\n") and line.count("\n") == 1
    data = json.loads(line)
    assert line.rstrip("\n") == json.dumps(data, sort_keys=True, ensure_ascii=False)
    attributes = (repo / ".ntrk" / ".gitattributes").read_text(encoding="utf-8")
    assert attributes == "runs.jsonl merge=union\n"
    assert git(repo, "check-attr", "merge", ".ntrk/runs.jsonl").strip().endswith("union")


def test_md5_and_size_match_the_files(repo: Path, cli) -> None:
    import hashlib

    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    (rec,) = read_log(repo)
    for entry in rec["inputs"] + rec["outputs"]:
        data = (repo / entry["path"]).read_bytes()
        assert entry["md5"] == hashlib.md5(data).hexdigest()
        assert entry["size"] == len(data)


def test_sidecar_holds_record_and_sidecar_for(repo: Path, cli) -> None:
    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    (rec,) = read_log(repo)
    side = json.loads((repo / ".clean.csv.ntrk").read_text(encoding="utf-8"))
    assert side.pop("sidecar_for") == "clean.csv"
    assert side.pop("outputs_total") == 1
    assert side == rec
    assert not list(repo.glob(".*.tmp"))


def test_sidecars_hold_their_own_output_only(repo: Path, cli) -> None:
    code = "import sys\nfor name in sys.argv[2:]: open(name, 'w').write(name)"
    names = [f"out{i}.csv" for i in range(30)]
    assert cli("track", "python", "-c", code, "-o", *names).code == 0
    (rec,) = read_log(repo)
    for name in names:
        side = json.loads((repo / f".{name}.ntrk").read_text(encoding="utf-8"))
        assert [entry["path"] for entry in side["outputs"]] == [name]
        assert side["outputs_total"] == 30 and side["id"] == rec["id"]
        assert side["inputs"] == rec["inputs"] and side["command"] == rec["command"]
    # The sidecars together still hold every output: a clone with only them traces each.
    for name in (names[0], names[-1]):
        assert cli("trace", name).out.endswith(f"-> {name}\n")


def test_a_directory_outputs_sidecar_lists_its_members(repo: Path, cli) -> None:
    code = "import os; os.makedirs('res'); [open(f'res/{n}', 'w').write(n) for n in 'ab']"
    assert cli("track", "python", "-c", code, "-o", "res").code == 0
    side = json.loads((repo / ".res.ntrk").read_text(encoding="utf-8"))
    assert sorted(side["manifest"]) == ["a", "b"]
    assert side["manifest"]["a"] == hashlib.md5(b"a").hexdigest()


def test_pipeline_runs_without_committing_intermediates(repo: Path, cli) -> None:
    assert cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv").code == 0
    second = cli("track", *STEP, "-i", "clean.csv", "-o", "final.csv")
    assert second.code == 0, second.err
    assert len(read_log(repo)) == 2


def test_intermediate_changed_by_hand_still_refuses(repo: Path, cli) -> None:
    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    (repo / "clean.csv").write_text("edited by hand\n", encoding="utf-8")
    result = cli("track", *STEP, "-i", "clean.csv", "-o", "final.csv")
    assert result.code == 1
    assert "uncommitted changes in clean.csv" in result.err


def test_code_change_refuses_listing_paths_and_remedy(repo: Path, cli) -> None:
    (repo / "step.py").write_text("print('changed')\n", encoding="utf-8")
    (repo / "new file ü.py").write_text("", encoding="utf-8")
    result = cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "new file ü.py" in result.err and "step.py" in result.err
    assert "commit them" in result.err and ".gitignore" in result.err
    assert read_log(repo) == []
    assert not (repo / "clean.csv").exists()


def test_staged_change_refuses(repo: Path, cli) -> None:
    (repo / "extra.txt").write_text("x", encoding="utf-8")
    git(repo, "add", "extra.txt")
    assert cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv").code == 1


def test_ntrk_files_are_not_dirty_but_user_dot_ntrk_file_is(repo: Path, cli) -> None:
    (repo / ".ntrk").mkdir()
    (repo / ".ntrk" / "scratch").write_text("x", encoding="utf-8")
    (repo / ".out.csv.ntrk").write_text("{}", encoding="utf-8")
    assert cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv").code == 0
    (repo / "model.ntrk").write_text("user data", encoding="utf-8")
    result = cli("track", *STEP, "-i", "raw.csv", "-o", "c2.csv")
    assert result.code == 1 and "model.ntrk" in result.err


def test_rename_is_listed(repo: Path, cli) -> None:
    git(repo, "mv", "raw.csv", "renamed raw.csv")
    result = cli("track", *STEP, "-i", "renamed raw.csv", "-o", "clean.csv")
    assert result.code == 1 and "renamed raw.csv" in result.err


def test_not_a_repository(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("track", "true")
    assert result.code == 1
    assert result.err.startswith("nt: not a git repository — ")


def test_no_commits_yet(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    git(tmp_path, "init", "-q")
    monkeypatch.chdir(tmp_path)
    result = cli("track", "true")
    assert result.code == 1
    assert result.err.startswith("nt: repository has no commits yet — ")


def test_bare_repository_is_refused(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    git(tmp_path, "init", "-q", "--bare", "server.git")
    monkeypatch.chdir(tmp_path / "server.git")
    result = cli("track", "true")
    assert result.code == 1
    assert "bare repository" in result.err and " — " in result.err


def test_detached_head_is_recorded(repo: Path, cli) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "--detach")
    assert cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv").code == 0
    (rec,) = read_log(repo)
    assert rec["git"] == {"commit": head, "branch": "HEAD"}


def test_command_not_found_exits_127(repo: Path, cli) -> None:
    result = cli("track", "no-such-command-xyz", "-o", "x")
    assert result.code == 127
    assert result.err == (
        "nt: command not found: no-such-command-xyz — check its name, or install it / "
        "add it to PATH; nothing was run\n"
    )


def test_not_executable_exits_126(repo: Path, cli) -> None:
    script = repo / "run.sh"
    script.write_text("#!/bin/sh\necho hi > out\n", encoding="utf-8")
    commit_all(repo, "script")
    result = cli("track", "./run.sh", "-o", "out")
    assert result.code == 126
    assert "cannot execute ./run.sh" in result.err and "chmod +x" in result.err


def test_failing_command_returns_its_code_and_records_nothing(repo: Path, cli) -> None:
    result = cli("track", "python", "-c", "import sys; open('out','w'); sys.exit(3)", "-o", "out")
    assert result.code == 3
    assert read_log(repo) == []
    assert not (repo / ".out.ntrk").exists()


def test_no_outputs_warns_and_records_nothing(repo: Path, cli) -> None:
    result = cli("track", "python", "-c", "pass", "-o", "never.csv")
    assert result.code == 0
    assert "output not found, not tracked: never.csv" in result.err
    assert "nothing recorded" in result.err
    assert read_log(repo) == []


def test_input_outside_repo_or_missing_is_warned_not_tracked(repo: Path, cli, tmp_path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("x", encoding="utf-8")
    result = cli(
        "track",
        "python",
        "-c",
        "open('o','w').write('1')",
        "-i",
        str(outside),
        "ghost.csv",
        "-o",
        "o",
    )
    assert result.code == 0
    assert f"input outside the repository, not tracked: {outside}" in result.err
    assert "input not found, not tracked: ghost.csv" in result.err
    (rec,) = read_log(repo)
    assert rec["inputs"] == []


def make_repo_for(base: Path, home: Path, ignore: str = "") -> Path:
    """A committed repository in `base`, owned by the user `unprivileged` runs as."""
    root = make_repo(base / "work", ignore)
    shutil.copy(home / ".gitconfig", base / ".gitconfig")
    give_to_nobody(base)
    return root


def run_as(prefix: list[str], root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(root.parent)}
    return subprocess.run([*prefix, NT, *args], cwd=root, env=env, capture_output=True, text=True)


def test_unreadable_input_is_an_error_before_running(unprivileged, hermetic_git) -> None:
    base, prefix = unprivileged
    root = make_repo_for(base, hermetic_git, ignore="secret.csv\n")
    (root / "secret.csv").write_text("s", encoding="utf-8")
    (root / "secret.csv").chmod(0)
    done = run_as(prefix, root, "track", "python", "step.py", "-i", "secret.csv", "-o", "c.csv")
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        "nt: cannot read input secret.csv: Permission denied — fix its permissions and run again; "
        "nothing was run\n"
    )
    assert not (root / "c.csv").exists()


def test_input_that_is_a_fifo_is_not_hashed(repo: Path, cli) -> None:
    os.mkfifo(repo / "pipe")
    git(repo, "add", "-A")  # a FIFO is not added; keep the tree clean by ignoring it
    (repo / ".git" / "info" / "exclude").write_text("pipe\n", encoding="utf-8")
    result = cli("track", "python", "-c", "open('o','w').write('1')", "-i", "pipe", "-o", "o")
    assert result.code == 0
    assert "not a regular file or directory" in result.err


def test_directory_output_gets_a_tree_hash(repo: Path, cli) -> None:
    code = (
        "import os; os.makedirs('results/sub'); open('results/a','w').write('1'); "
        "open('results/sub/b','w').write('22')"
    )
    assert cli("track", "python", "-c", code, "-o", "results/").code == 0
    (rec,) = read_log(repo)
    (out,) = rec["outputs"]
    import hashlib

    manifest = (
        f"{hashlib.md5(b'1').hexdigest()}  a\n{hashlib.md5(b'22').hexdigest()}  sub/b\n"
    ).encode()
    assert out == {
        "path": "results",
        "md5": hashlib.md5(manifest).hexdigest(),
        "size": 3,
        "files": 2,
    }
    assert (repo / ".results.ntrk").exists()


def test_directory_output_feeds_the_next_step(repo: Path, cli) -> None:
    make = "import os; os.makedirs('results'); open('results/a','w').write('1')"
    assert cli("track", "python", "-c", make, "-o", "results").code == 0
    use = "open('summary','w').write('s')"
    result = cli("track", "python", "-c", use, "-i", "results", "-o", "summary")
    assert result.code == 0, result.err
    lines = cli("trace", "summary").out.splitlines()
    assert lines[0].endswith("-> results")
    assert lines[1].startswith("results -> ")
    (repo / "results" / "a").write_text("changed", encoding="utf-8")
    assert cli("trace", "summary").out.splitlines()[0].endswith("-> results [modified]")


def test_runs_from_a_subdirectory(repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = repo / "data dir" / "ü"
    sub.mkdir(parents=True)
    (sub / "in put.csv").write_text("x\n", encoding="utf-8")
    commit_all(repo, "data")
    monkeypatch.chdir(sub)
    result = cli("track", "python", "../../step.py", "-i", "in put.csv", "-o", "out put.csv")
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert rec["cwd"] == "data dir/ü"
    assert rec["script"]["path"] == "step.py"
    assert rec["inputs"][0]["path"] == "data dir/ü/in put.csv"
    assert rec["outputs"][0]["path"] == "data dir/ü/out put.csv"
    assert (sub / ".out put.csv.ntrk").exists()
    trace = cli("trace", "out put.csv")
    assert trace.out == "data dir/ü/in put.csv -> step.py @ {} -> data dir/ü/out put.csv\n".format(
        rec["git"]["commit"][:7]
    )


def test_script_outside_repo_keeps_its_path_only(repo: Path, cli, tmp_path: Path) -> None:
    script = tmp_path / "ext.py"
    script.write_text("open('o','w').write('1')\n", encoding="utf-8")
    assert cli("track", "python", str(script), "-o", "o").code == 0
    (rec,) = read_log(repo)
    assert rec["script"] == {"path": str(script), "blob": None, "md5": None}


def test_wrapped_flags_pass_through_untouched(repo: Path, cli) -> None:
    code = "import sys; open('argv.json','w').write(repr(sys.argv[1:]))"
    result = cli("track", "python", "-c", code, "-h", "--", "--version", "-o", "argv.json")
    assert result.code == 0, result.err
    assert (repo / "argv.json").read_text() == repr(["-h", "--", "--version", "-o", "argv.json"])


def test_ntrk_toml_adds_flags(repo: Path, cli) -> None:
    (repo / "ntrk.toml").write_text('[flags]\ninputs = ["--source"]\noutputs = ["--dest"]\n')
    commit_all(repo, "config")
    code = "import shutil,sys; shutil.copy(sys.argv[2], sys.argv[4])"
    result = cli("track", "python", "-c", code, "--source", "raw.csv", "--dest", "copy.csv")
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert [e["path"] for e in rec["inputs"]] == ["raw.csv"]
    assert [e["path"] for e in rec["outputs"]] == ["copy.csv"]


def test_malformed_ntrk_toml_names_line_and_column(repo: Path, cli) -> None:
    (repo / "ntrk.toml").write_text("[flags]\ninputs = [--x]\n")
    commit_all(repo, "bad config")
    result = cli("track", "true")
    assert result.code == 1
    assert result.err.startswith("nt: ntrk.toml: ")
    assert "line 2, column" in result.err and " — fix the TOML syntax" in result.err
    assert result.err.count("\n") == 1


def test_wrong_type_in_ntrk_toml(repo: Path, cli) -> None:
    (repo / "ntrk.toml").write_text('[flags]\ninputs = "--x"\n')
    commit_all(repo, "bad config")
    result = cli("track", "true")
    assert result.code == 1 and "flags.inputs must be a list" in result.err


def test_unknown_key_in_ntrk_toml_warns(repo: Path, cli) -> None:
    (repo / "ntrk.toml").write_text('colour = "blue"\n[flags]\nextra = 1\n')
    commit_all(repo, "config")
    result = cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert result.code == 0
    assert "unknown table or key 'colour'" in result.err
    assert "unknown key 'flags.extra'" in result.err


def test_torn_log_is_repaired_before_append(repo: Path, cli) -> None:
    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    log = repo / ".ntrk" / "runs.jsonl"
    with log.open("a", encoding="utf-8") as stream:
        stream.write('{"v": 1, "id": "torn')
    assert cli("track", *STEP, "-i", "clean.csv", "-o", "final.csv").code == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert lines[1] == '{"v": 1, "id": "torn'
    assert json.loads(lines[2])["outputs"][0]["path"] == "final.csv"


def test_sidecar_write_failure_keeps_the_log_record(unprivileged, hermetic_git) -> None:
    base, prefix = unprivileged
    root = make_repo_for(base, hermetic_git, ignore="ro/\n")
    code = "mkdir ro && echo 1 > ro/o && chmod 555 ro"
    done = run_as(prefix, root, "track", "/bin/sh", "-c", code, "-o", "ro/o")
    assert done.returncode == 0, done.stderr
    (root / "ro").chmod(stat.S_IRWXU)
    assert "cannot write the sidecar of ro/o (Permission denied); the log has it" in done.stderr
    assert len(read_log(root)) == 1


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        (".out.csv.ntrk", True),
        (".out.csv.ntrk.123.tmp", True),
        ("out.ntrk", False),
        (".ntrk", False),
        (".out.ntrk.tmp", False),
        (".x.ntrk.12.tmpx", False),
    ],
)
def test_sidecars_and_their_temporary_names_are_ntrk_files(name: str, ours: bool) -> None:
    from ntrk.layout import is_ntrk_file

    assert is_ntrk_file(f"dir/{name}") is ours


def test_dirty_check_falls_back_to_git_status_when_libgit2_gives_up(
    unprivileged, hermetic_git
) -> None:
    """libgit2's status fails on an unreadable tracked file; git's own status does not."""
    base, prefix = unprivileged
    root = make_repo_for(base, hermetic_git)
    (root / "raw.csv").chmod(0)
    done = run_as(prefix, root, "track", "/bin/sh", "-c", "echo x > o", "-o", "o")
    assert done.returncode == 1
    assert done.stderr.startswith("nt: refusing to run: uncommitted changes in ")
    assert "internal error" not in done.stderr


def test_dirty_paths_agree_with_git_status(repo: Path) -> None:
    from ntrk import repo as repo_mod

    (repo / "new dir").mkdir()
    (repo / "new dir" / "ü.txt").write_text("u")
    (repo / "step.py").write_text("changed")
    git(repo, "mv", "raw.csv", "moved.csv")
    (repo / ".x.csv.ntrk").write_text("{}")
    opened = repo_mod.discover(repo)
    assert opened.dirty_paths() == sorted(opened._git_status_paths() - {".x.csv.ntrk"})
    assert opened.dirty_paths() == ["moved.csv", "new dir/ü.txt", "raw.csv", "step.py"]


def test_a_long_inline_program_is_no_script_file(repo: Path, cli) -> None:
    """`python -c CODE`: a CODE longer than a file name may be cannot crash the script lookup."""
    code = "open('o', 'w').write('1')\n" + "# padding\n" * 40
    result = cli("track", "python", "-c", code, "-o", "o")
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert rec["script"] == {"path": code, "blob": None, "md5": None}


def test_the_first_note_sets_rewrite_ref_so_an_amend_keeps_it(repo: Path) -> None:
    """Issue 17, item 6: with `nt track` alone (no hooks, no sync), the first note written sets
    notes.rewriteRef and says so once; `git commit --amend` then carries the note along."""
    first = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert first.code == 0, first.err
    assert "set notes.rewriteRef=refs/notes/ntrk" in first.err
    assert git(repo, "config", "--get-all", "notes.rewriteRef").split() == ["refs/notes/ntrk"]
    second = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "clean2.csv")
    assert second.code == 0 and "notes.rewriteRef" not in second.err, second.err
    ran_at = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "commit", "-q", "--amend", "-m", "init, reworded")
    amended = git(repo, "rev-parse", "HEAD").strip()
    assert amended != ran_at
    note = git(repo, "notes", "--ref=ntrk", "show", amended)
    assert note.count("\n") == 2 and "clean2.csv" in note


def test_first_tracks_started_together_all_record_and_configure_once(repo: Path) -> None:
    """Eight first runs each find the notes config unset and set it at once: they take
    turns, so none fails on .git/config.lock (it once crashed with an internal error)."""
    ignore_outputs(repo)
    procs = start_tracks(repo, [f"out{i}" for i in range(8)])
    errors = [proc.communicate(timeout=120)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 8, errors
    assert not any("internal error" in err or "cannot write" in err for err in errors), errors
    assert sum("set notes.rewriteRef" in err for err in errors) == 1, errors
    assert git(repo, "config", "--get-all", "notes.rewriteRef").split() == ["refs/notes/ntrk"]
    assert len(read_log(repo)) == 8


def test_a_held_config_lock_warns_and_the_run_is_still_recorded(repo: Path) -> None:
    """A plain git holding .git/config.lock past the wait: the run, its sidecar and its note
    are written, one warning names the lock, and a later run sets the config."""
    lock = repo / ".git" / "config.lock"
    lock.write_text("")
    held = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert held.code == 0, held.err
    (warning,) = [line for line in held.err.splitlines() if "config" in line]
    assert warning == (
        "nt: warning: cannot write .git/config: another process holds config.lock;"
        " the note is written — nt sync sets notes.rewriteRef later"
    )
    assert "Traceback" not in held.err
    assert git(repo, "notes", "--ref=ntrk", "list").strip()
    assert (repo / ".clean.csv.ntrk").exists() and len(read_log(repo)) == 1
    assert git(repo, "config", "--get-all", "notes.rewriteRef", check=False) == ""

    lock.unlink()
    later = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "clean2.csv")
    assert later.code == 0 and "set notes.rewriteRef" in later.err, later.err


@pytest.mark.parametrize("command", [("install-hooks",), ("sync",)])
def test_commands_that_set_the_notes_config_fail_clearly_on_a_held_lock(
    repo: Path, server: Path, command: tuple[str, ...]
) -> None:
    git(repo, "remote", "add", "origin", server.as_uri())
    (repo / ".git" / "config.lock").write_text("")
    result = nt(repo, *command)
    assert result.code == 1
    assert result.err == (
        "nt: cannot write .git/config: another process holds config.lock"
        " — another git may be writing .git/config: run the command again\n"
    )
