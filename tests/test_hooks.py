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
from conftest import (
    NT,
    broken_installation,
    commit_all,
    git,
    nt,
    read_log,
    snapshot_checkout,
)

STEP = ["python", "step.py"]


def with_nt() -> dict[str, str]:
    """The environment of someone who installed ntrk and has it on PATH."""
    return {**os.environ, "PATH": f"{Path(NT).parent}{os.pathsep}/usr/bin:/bin"}


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


def test_commit_with_paths_leaves_every_sidecar_staged_as_committed(hooked: Path) -> None:
    """Many outputs in a folder, one named like a pattern: after `git commit -- PATHS` the real
    index holds each committed sidecar, so none reads as a staged revert."""
    (hooked / "out").mkdir()
    names = [f"out/part{n}.csv" for n in range(30)] + ["out/a[1].csv"]
    for name in names:
        record_one(hooked, name)
    git(hooked, "add", *names)
    git(hooked, "commit", "-q", "-m", "outputs", "--", *names)
    committed = git(hooked, "show", "--name-only", "--format=", "HEAD").split("\n")
    assert "out/.a[1].csv.ntrk" in committed and "out/.part29.csv.ntrk" in committed
    assert git(hooked, "status", "--porcelain", "--", "out", ".ntrk") == ""


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
    tracked = nt(hooked, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert tracked.code == 0, tracked.err
    # nt track does not promise what the hook will not do.
    assert "your next git commit carries the log" not in tracked.err
    assert "git ignores .ntrk/, so no commit carries the log" in tracked.err
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
    assert "ntrk: not installed here, so the lineage log was not staged" in done.stderr
    # It names what works without ntrk, not an nt command.
    assert "install-hooks" not in done.stderr
    assert f"remove this hook: rm '{script.resolve()}'" in done.stderr
    assert done.stderr.count("\n") == 1  # one warning, none from post-commit


@pytest.mark.parametrize("missing", ["click", "pygit2"])
def test_a_broken_installation_warns_once_and_lets_the_commit_through(
    hooked: Path, tmp_path: Path, missing: str
) -> None:
    python = broken_installation(tmp_path, missing)
    for name in ("pre-commit", "post-commit"):
        script = hooked / ".git" / "hooks" / name
        script.write_text(
            re.sub(r"NTRK_PYTHON='[^']*'", f"NTRK_PYTHON='{python}'", script.read_text())
        )
    record_one(hooked)
    (hooked / "x.txt").write_text("x")
    git(hooked, "add", "x.txt")
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["git", "commit", "-q", "-m", "x"], cwd=hooked, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1  # pre-commit's warning; post-commit stays quiet
    assert done.stderr.startswith("nt: warning: the ntrk installed in ")
    assert f"is broken (No module named '{missing}')" in done.stderr


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
    if kind == "relative":  # inside the work tree: shared, so it takes --tracked
        git(repo, "config", "core.hooksPath", "githooks")
        where = repo / "githooks"
    elif kind == "absolute":
        where = repo.parent / "shared-hooks"
        git(repo, "config", "core.hooksPath", str(where))
    else:
        git(repo, "config", "core.hooksPath", "~/myhooks")
        where = hermetic_git / "myhooks"
    install(repo, *(["--tracked"] if kind == "relative" else []))
    assert (where / "pre-commit").exists()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    if kind == "relative":
        commit_all(repo, "hooks folder")
    record_one(repo)
    (repo / "x.txt").write_text("x")
    git(repo, "add", "x.txt")
    # A shared folder's hooks find ntrk on PATH.
    subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=repo, env=with_nt(), check=True)
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
    assert "nt: notes synced with origin" in done.stderr
    assert "warning" not in done.stderr  # a success is not a warning
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


# --- hook managers: the pre-commit framework, lefthook, husky ---------------------------------

PRE_COMMIT = str(Path(NT).with_name("pre-commit"))
LEFTHOOK_STAND_IN = "#!/bin/sh\n# LEFTHOOK: what lefthook installs calls `lefthook run`\nexit 0\n"
# husky 9's generated stubs call `h`, which runs the user's .husky/<the stub's own name>.
HUSKY_H = '#!/bin/sh\nscript="$(dirname "$(dirname "$0")")/$(basename "$0")"\n'
HUSKY_H += '[ -f "$script" ] || exit 0\nsh -e "$script" "$@"\n'
HUSKY_STUB = '#!/bin/sh\n. "$(dirname "$0")/h"\n'


def pre_commit_framework(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PRE_COMMIT, *args], cwd=root, capture_output=True, text=True)


def commit(root: Path, message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "commit", "-q", "-m", message], cwd=root, capture_output=True, text=True
    )


def uses_pre_commit_framework(root: Path, config: str = "repos: []\n") -> None:
    (root / ".pre-commit-config.yaml").write_text(config)
    commit_all(root, "pre-commit config")
    done = pre_commit_framework(root, "install")
    assert done.returncode == 0, done.stdout + done.stderr


def test_uninstall_finds_the_hook_the_pre_commit_framework_moved_aside(hooked: Path) -> None:
    uses_pre_commit_framework(hooked)  # migration mode: ntrk's hook becomes pre-commit.legacy
    hooks = hooked / ".git" / "hooks"
    assert "ntrk-managed-hook" in (hooks / "pre-commit.legacy").read_text()
    record_one(hooked)
    git(hooked, "add", "clean.csv")
    assert commit(hooked, "the framework runs ntrk's hook first").returncode == 0
    assert len(committed_log(hooked)) == 1
    out = install(hooked, "--uninstall")
    assert "removed .git/hooks/pre-commit.legacy, ntrk's pre-commit hook (the pre-commit " in out
    assert not (hooks / "pre-commit.legacy").exists()
    assert "pre-commit" in (hooks / "pre-commit").read_text()  # the framework's stays
    record_one(hooked, "second.csv")
    git(hooked, "add", "second.csv")
    assert commit(hooked, "x").returncode == 0
    assert len(committed_log(hooked)) == 1  # nothing of ntrk's runs any more


def test_uninstall_puts_a_kept_hook_back_where_the_framework_runs_it(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_text(FOREIGN)
    (hooks / "pre-commit").chmod(0o755)
    install(repo)  # keeps the foreign hook as pre-commit.before-ntrk
    uses_pre_commit_framework(repo)
    out = install(repo, "--uninstall")
    assert "put your hook back at .git/hooks/pre-commit.legacy" in out
    assert (hooks / "pre-commit.legacy").read_text() == FOREIGN
    assert not (hooks / "pre-commit.before-ntrk").exists()
    (repo / "foreign.log").unlink()
    (repo / "x.txt").write_text("x")
    git(repo, "add", "x.txt")
    assert commit(repo, "x").returncode == 0
    assert (repo / "foreign.log").read_text() == "foreign-ran\n"  # the framework ran it


def test_uninstall_finds_the_hook_lefthook_set_aside(hooked: Path) -> None:
    hooks = hooked / ".git" / "hooks"
    os.rename(hooks / "pre-commit", hooks / "pre-commit.old")  # what `lefthook install` does
    (hooks / "pre-commit").write_text(LEFTHOOK_STAND_IN)
    out = install(hooked, "--uninstall")
    assert "removed .git/hooks/pre-commit.old, ntrk's pre-commit hook (lefthook had" in out
    assert "removed .git/hooks/post-commit" in out
    assert not (hooks / "pre-commit.old").exists()
    assert (hooks / "pre-commit").read_text() == LEFTHOOK_STAND_IN


def uses_husky(root: Path) -> None:
    """husky 9's layout: core.hooksPath=.husky/_ (generated, ignored), scripts in .husky/."""
    generated = root / ".husky" / "_"
    generated.mkdir(parents=True)
    (generated / ".gitignore").write_text("*")
    (generated / "h").write_text(HUSKY_H)
    for name in ("pre-commit", "post-commit", "pre-push"):
        (generated / name).write_text(HUSKY_STUB)
        (generated / name).chmod(0o755)
    (root / ".husky" / "pre-commit").write_text("echo husky-ran > husky.log\nnt hook pre-commit\n")
    git(root, "config", "core.hooksPath", ".husky/_")


def test_uninstall_finds_hooks_that_husky_left_behind(hooked: Path) -> None:
    uses_husky(hooked)  # git runs .husky/_ now; ntrk's hooks in .git/hooks sleep
    out = install(hooked, "--uninstall")
    assert (
        "removed .git/hooks/pre-commit, ntrk's pre-commit hook (git did not run it while "
        "core.hooksPath is .husky/_" in out
    )
    assert not (hooked / ".git" / "hooks" / "pre-commit").exists()
    assert not (hooked / ".git" / "hooks" / "post-commit").exists()
    assert "left .husky/pre-commit alone: it is your husky script, and it still runs" in out


def test_install_into_huskys_generated_folder_says_what_to_do_instead(repo: Path) -> None:
    uses_husky(repo)
    before = sorted((p.name, p.read_bytes()) for p in (repo / ".husky" / "_").iterdir())
    result = nt(repo, "install-hooks")
    assert result.code == 1 and result.err.count("\n") == 1
    assert "add the line `nt hook pre-commit` to .husky/pre-commit" in result.err
    assert sorted((p.name, p.read_bytes()) for p in (repo / ".husky" / "_").iterdir()) == before


def test_the_frameworks_ntrk_hook_never_passes_while_leaving_the_log_behind(
    repo: Path, tmp_path: Path
) -> None:
    """The hook from .pre-commit-hooks.yaml, installed by the real framework from a clone."""
    source = tmp_path / "ntrk-source"
    rev = snapshot_checkout(source)
    config = f"repos:\n- repo: {source}\n  rev: {rev}\n  hooks: [{{id: ntrk-stage-log}}]\n"
    uses_pre_commit_framework(repo, config)
    record_one(repo)
    git(repo, "add", "clean.csv")
    first = commit(repo, "first")  # a new log: the framework leaves untracked files alone
    assert first.returncode == 0, first.stdout + first.stderr
    assert len(committed_log(repo)) == 1
    record_one(repo, "second.csv")
    git(repo, "add", "second.csv")
    second = commit(repo, "second")  # the log changed: the framework stashes that change
    said = second.stdout + second.stderr  # git shows a hook's output on stderr
    assert second.returncode != 0
    assert "Passed" not in said and "Failed" in said
    assert "run git add .ntrk/runs.jsonl, then commit again" in said
    assert len(committed_log(repo)) == 1
    git(repo, "add", ".ntrk/runs.jsonl")
    third = commit(repo, "second")
    assert third.returncode == 0, third.stdout + third.stderr
    assert len(committed_log(repo)) == 2
    # Outside a commit the framework stashes nothing; the hook says the same, not "files were
    # modified by this hook".
    record_one(repo, "third.csv")
    checked = pre_commit_framework(repo, "run", "--all-files")
    assert checked.returncode != 0
    assert "files were modified by this hook" not in checked.stdout
    assert "run git add .ntrk/runs.jsonl" in checked.stdout


def test_nt_is_what_the_tests_run() -> None:
    assert Path(NT).name == "nt"


PLANTED = "import pathlib; pathlib.Path({marker!r}).write_text('ran')\n"


@pytest.mark.parametrize("tracked", [False, True], ids=["own-hooks", "shared-hooks"])
def test_programs_committed_to_the_repository_never_run_from_a_hook(
    repo: Path, tmp_path: Path, tracked: bool
) -> None:
    """A clone holding a package named `ntrk/`, and executables named `nt`, `python3` and `git`
    at its top: committing there, with PATH holding an empty entry (`PATH=:$PATH`), runs the
    installed ntrk, never them. The hooks keep the work tree off Python's import path (-P)
    and take programs from PATH's absolute entries only."""
    markers = {name: tmp_path / f"{name}-ran" for name in ("package", "nt", "python3", "git")}
    (repo / "ntrk").mkdir()
    (repo / "ntrk" / "__init__.py").write_text(PLANTED.format(marker=str(markers["package"])))
    (repo / "ntrk" / "__main__.py").write_text("")
    for name in ("nt", "python3", "git"):
        (repo / name).write_text(f"#!/bin/sh\ntouch '{markers[name]}'\nexit 1\n")
        (repo / name).chmod(0o755)
    commit_all(repo, "a package named ntrk, and programs named nt, python3 and git")
    if tracked:
        git(repo, "config", "core.hooksPath", "githooks")
        install(repo, "--tracked")
        commit_all(repo, "hooks folder")
    else:
        install(repo)
    record_one(repo)
    (repo / "x.txt").write_text("x")
    git(repo, "add", "x.txt")
    env = {**with_nt(), "PATH": ":" + with_nt()["PATH"]}
    real_git = shutil.which("git") or "git"  # the user's shell finds theirs: not under test
    done = subprocess.run(
        [real_git, "commit", "-q", "-m", "x"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert [name for name, marker in markers.items() if marker.exists()] == []
    assert len(committed_log(repo)) == 1, "the installed ntrk staged the log"
