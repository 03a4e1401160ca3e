"""`nt install-hooks` and the hooks themselves, run by real `git commit`s and `git push`es."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import NT, commit_all, git, nt, read_log

STEP = ["python", "step.py"]
FOREIGN = '#!/bin/sh\necho foreign-ran >> "$(git rev-parse --show-toplevel)/foreign.log"\n'


def committed_log(root: Path, rev: str = "HEAD") -> list[str]:
    shown = git(root, "show", f"{rev}:.ntrk/runs.jsonl", check=False)
    return [line for line in shown.splitlines() if line]


def install(root: Path, *args: str) -> str:
    result = nt(root, "install-hooks", *args)
    assert result.code == 0, result.err
    return result.out


def record_one(root: Path, output: str = "clean.csv") -> None:
    result = nt(root, "track", *STEP, "-i", "raw.csv", "-o", output)
    assert result.code == 0, result.err


@pytest.fixture
def hooked(repo: Path) -> Path:
    install(repo)
    return repo


def test_commit_carries_the_log_and_the_sidecar(hooked: Path) -> None:
    record_one(hooked)
    git(hooked, "add", "clean.csv")
    git(hooked, "commit", "-q", "-m", "results")
    assert len(committed_log(hooked)) == 1
    files = git(hooked, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(files) == [
        ".clean.csv.ntrk",
        ".ntrk/.gitattributes",
        ".ntrk/.gitignore",
        ".ntrk/runs.jsonl",
        "clean.csv",
    ]
    assert git(hooked, "status", "--porcelain") == ""


def test_commit_all(hooked: Path) -> None:
    record_one(hooked)
    git(hooked, "add", ".ntrk")
    git(hooked, "commit", "-q", "-m", "first")
    record_one(hooked, "second.csv")
    (hooked / "raw.csv").write_text("changed\n")
    git(hooked, "commit", "-q", "-a", "-m", "all")
    assert len(committed_log(hooked)) == 2


def test_commit_with_paths_uses_the_temporary_index(hooked: Path) -> None:
    record_one(hooked)
    (hooked / "raw.csv").write_text("changed\n")
    (hooked / "notes.txt").write_text("not committed\n")
    git(hooked, "add", "notes.txt")
    git(hooked, "commit", "-q", "-m", "only raw", "--", "raw.csv")
    assert len(committed_log(hooked)) == 1
    assert "notes.txt" not in git(hooked, "show", "--name-only", "--format=", "HEAD")
    # The real index holds the committed log too (post-commit), so nothing reads as a revert.
    assert git(hooked, "status", "--porcelain", "--", ".ntrk") == ""
    assert git(hooked, "diff", "--cached", "--name-only").split() == ["notes.txt"]


def test_amend_carries_the_log(hooked: Path) -> None:
    record_one(hooked)
    git(hooked, "commit", "-q", "--amend", "--allow-empty", "-m", "init (amended)")
    assert len(committed_log(hooked)) == 1


def test_commit_from_a_subdirectory(hooked: Path) -> None:
    (hooked / "sub").mkdir()
    record_one(hooked)
    (hooked / "sub" / "x.txt").write_text("x")
    git(hooked / "sub", "add", "x.txt")
    git(hooked / "sub", "commit", "-q", "-m", "from sub")
    assert len(committed_log(hooked)) == 1


def test_nothing_staged_still_stops_before_the_hook(hooked: Path) -> None:
    record_one(hooked)
    done = subprocess.run(
        ["git", "commit", "-q", "-m", "nothing"], cwd=hooked, capture_output=True, text=True
    )
    assert done.returncode != 0  # git's own rule; nt track's message says to git add .ntrk
    assert committed_log(hooked) == []


def test_track_message_mentions_the_hook(hooked: Path) -> None:
    result = nt(hooked, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert "your next git commit carries the log (pre-commit hook)" in result.err
    assert "git add .ntrk && git commit" in result.err


def test_ignored_store_warns_and_stages_nothing(hooked: Path) -> None:
    (hooked / ".gitignore").write_text(".ntrk/\n")
    commit_all(hooked, "ignore ntrk")
    record_one(hooked)
    (hooked / "x.txt").write_text("x")
    git(hooked, "add", "x.txt")
    done = subprocess.run(
        ["git", "commit", "-q", "-m", "x"], cwd=hooked, capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stderr.count(".ntrk/runs.jsonl is ignored by git") == 1
    assert committed_log(hooked) == []


def test_missing_ntrk_warns_and_lets_the_commit_through(hooked: Path) -> None:
    script = hooked / ".git" / "hooks" / "pre-commit"
    text = re.sub(r"NTRK_PYTHON='[^']*'", "NTRK_PYTHON='/nonexistent/python'", script.read_text())
    script.write_text(text)
    (hooked / "x.txt").write_text("x")
    git(hooked, "add", "x.txt")
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["git", "commit", "-q", "-m", "x"], cwd=hooked, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "ntrk: not installed, so the lineage log was not staged" in done.stderr


def test_installed_hook_uses_the_installing_interpreter(hooked: Path) -> None:
    script = (hooked / ".git" / "hooks" / "pre-commit").read_text()
    (python,) = re.findall(r"NTRK_PYTHON='([^']*)'", script)
    assert Path(python).resolve() == Path(sys.executable).resolve()
    assert "ntrk-managed-hook" in script


@pytest.mark.parametrize("exit_code", [0, 1])
def test_foreign_hook_is_kept_and_chained(repo: Path, exit_code: int) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(FOREIGN + f"exit {exit_code}\n")
    hook.chmod(0o755)
    out = install(repo)
    assert "your hook is kept as pre-commit.before-ntrk and runs first" in out
    record_one(repo)
    (repo / "x.txt").write_text("x")
    git(repo, "add", "x.txt")
    done = subprocess.run(
        ["git", "commit", "-q", "-m", "x"], cwd=repo, capture_output=True, text=True
    )
    assert (repo / "foreign.log").read_text() == "foreign-ran\n"
    if exit_code:
        assert done.returncode != 0 and committed_log(repo) == []
    else:
        assert done.returncode == 0 and len(committed_log(repo)) == 1


def test_install_twice_equals_once_and_uninstall_restores_bytes(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    original = FOREIGN.encode() + b"# \xff not utf-8\n"
    (hooks / "pre-commit").write_bytes(original)
    (hooks / "pre-commit").chmod(0o750)
    install(repo)
    first = sorted((p.name, p.read_bytes()) for p in hooks.iterdir())
    assert "already ntrk's" in install(repo)
    assert sorted((p.name, p.read_bytes()) for p in hooks.iterdir()) == first
    out = nt(repo, "install-hooks", "--uninstall").out
    assert "put your hook back" in out
    assert (hooks / "pre-commit").read_bytes() == original
    assert stat.S_IMODE((hooks / "pre-commit").stat().st_mode) == 0o750
    assert not (hooks / "pre-commit.before-ntrk").exists()


def test_uninstall_without_a_foreign_hook_removes_ours(repo: Path) -> None:
    install(repo, "--push-notes")
    out = nt(repo, "install-hooks", "--uninstall").out
    assert "removed .git/hooks/pre-commit" in out and "removed .git/hooks/pre-push" in out
    assert "removed .git/hooks/post-commit" in out
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def test_conflicting_kept_hook_is_refused(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_text(FOREIGN)
    (hooks / "pre-commit.before-ntrk").write_text(FOREIGN)
    result = nt(repo, "install-hooks")
    assert result.code == 1
    assert "is not ntrk's, and pre-commit.before-ntrk" in result.err and " — " in result.err
    assert (hooks / "pre-commit").read_text() == FOREIGN


@pytest.mark.parametrize("kind", ["relative", "absolute", "home"])
def test_core_hooks_path(repo: Path, kind: str, hermetic_git: Path) -> None:
    if kind == "relative":
        git(repo, "config", "core.hooksPath", "githooks")
        where = repo / "githooks"
    elif kind == "absolute":
        where = repo.parent / "shared-hooks"
        git(repo, "config", "core.hooksPath", str(where))
    else:
        git(repo, "config", "core.hooksPath", "~/myhooks")
        where = hermetic_git / "myhooks"
    install(repo)
    assert (where / "pre-commit").exists()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    if kind == "relative":
        commit_all(repo, "hooks folder")
    record_one(repo)
    (repo / "x.txt").write_text("x")
    git(repo, "add", "x.txt")
    git(repo, "commit", "-q", "-m", "x")
    assert len(committed_log(repo)) == 1


def test_linked_worktree(repo: Path, tmp_path: Path) -> None:
    tree = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(tree))
    install(tree)
    assert (repo / ".git" / "hooks" / "pre-commit").exists()  # the common directory's hooks
    record_one(tree)
    (tree / "x.txt").write_text("x")
    git(tree, "add", "x.txt")
    git(tree, "commit", "-q", "-m", "x")
    assert len(committed_log(tree)) == 1
    assert committed_log(repo) == []


def test_pre_push_hook_syncs_notes(repo: Path, tmp_path: Path) -> None:
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    git(repo, "remote", "add", "origin", str(server))
    install(repo, "--push-notes")
    record_one(repo)
    done = subprocess.run(
        ["git", "push", "-q", "origin", "main"], cwd=repo, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "notes synced with origin" in done.stderr
    assert git(server, "rev-parse", "refs/notes/ntrk", check=False).strip()
    assert git(server, "notes", "--ref=ntrk", "show", "main").count("\t") == 1


def test_pre_push_failure_does_not_block_the_push(repo: Path, tmp_path: Path) -> None:
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    (server / "hooks" / "pre-receive").write_text(
        "#!/bin/sh\nwhile read old new ref; do case $ref in refs/notes/*) exit 1;; esac; done\n"
    )
    (server / "hooks" / "pre-receive").chmod(0o755)
    git(repo, "remote", "add", "origin", str(server))
    install(repo, "--push-notes")
    record_one(repo)
    done = subprocess.run(
        ["git", "push", "-q", "origin", "main"], cwd=repo, capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "notes not synced with origin" in done.stderr
    assert git(server, "rev-parse", "main").strip() == git(repo, "rev-parse", "main").strip()


def test_hook_command_outside_a_repository_never_fails(tmp_path: Path) -> None:
    result = nt(tmp_path, "hook", "pre-commit")
    assert result.code == 0 and result.err.startswith("nt: warning: not a git repository")


def test_pre_commit_framework_manifest_names_a_real_command() -> None:
    manifest = (Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text()
    assert "- id: ntrk-stage-log" in manifest
    assert "entry: nt hook pre-commit" in manifest and "pass_filenames: false" in manifest


def test_wheel_ships_the_hooks_and_installs_them(tmp_path: Path, hermetic_git: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("ntrk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "ntrk/hooks/pre-commit" in names and "ntrk/hooks/pre-push" in names
    assert "ntrk/export/NtrkRunFacet.json" in names  # the schema the `ntrk` facet names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    done = subprocess.run([*pip, str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q")
    (fresh / "a.txt").write_text("a")
    commit_all(fresh, "init")
    installed_nt = str(venv / "bin" / "nt")
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [installed_nt, "install-hooks"], cwd=fresh, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (
        f"NTRK_PYTHON='{venv}/bin/python" in (fresh / ".git" / "hooks" / "pre-commit").read_text()
    )
    copy = ["sh", "-c", "cp a.txt b.txt", "sh", "-i", "a.txt", "-o", "b.txt"]
    done = subprocess.run(
        [installed_nt, "track", *copy], cwd=fresh, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    git(fresh, "add", "b.txt")
    subprocess.run(["git", "commit", "-q", "-m", "b"], cwd=fresh, env=env, check=True)
    assert len(committed_log(fresh)) == 1
    assert shutil.which("nt", path=env["PATH"]) is None  # it was the venv's own ntrk
    assert read_log(fresh)[0]["outputs"][0]["path"] == "b.txt"


def test_nt_is_what_the_tests_run() -> None:
    assert Path(NT).name == "nt"
