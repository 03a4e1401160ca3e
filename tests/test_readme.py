"""The README's promises, executed as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import snapshot_checkout

from ntrk import __version__

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def run_quickstart(tmp_path: Path) -> tuple[Path, str]:
    """Run the Quickstart's script in `tmp_path`; its `demo` repository and what it printed."""
    (script,) = blocks(section("Quickstart"), "bash")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return tmp_path / "demo", done.stdout


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    (expected,) = blocks(section("Quickstart"), "text")
    demo, printed = run_quickstart(tmp_path)
    commit = subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD~1"],
        cwd=demo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert printed == expected.replace("1a2b3c4", commit)


def test_ci_runs_the_readme_test_command() -> None:
    commands = [line for line in blocks(section("Development"), "bash")[0].splitlines() if line]
    assert len(commands) == 2
    test_command = commands[1].split("#")[0].strip()
    assert "# run the tests" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "# run the tests$" in ci  # .ci/run takes the command from the README line itself
    assert test_command.startswith("python -m pytest")


def test_install_commands_install_this_version(tmp_path: Path) -> None:
    """The Install section's pip commands, run as written in fresh virtual environments: the
    clone's `pip install .` and the `pip install git+URL` form, with the URL pointing at a
    local copy of this checkout (there is no network here). Both give this version."""
    install = section("Install")
    assert "0.1.0" in install  # says what the package index still serves
    pip_lines = [
        line.split("#")[0].strip()
        for block in blocks(install, "bash")
        for line in block.splitlines()
        if line.startswith("pip install")
    ]
    assert pip_lines == ["pip install git+https://github.com/tim-hudelmaier/ntrk", "pip install ."]
    clone = tmp_path / "ntrk"
    snapshot_checkout(clone)
    for number, command in enumerate(pip_lines):
        venv = tmp_path / f"venv{number}"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        words = command.replace("https://github.com/tim-hudelmaier/ntrk", f"file://{clone}")
        argv = [str(venv / "bin" / "python"), "-m", *words.split()]
        done = subprocess.run(argv, cwd=clone, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        nt = venv / "bin" / "nt"
        version = subprocess.run([nt, "--version"], capture_output=True, text=True)
        assert version.stdout == f"ntrk {__version__}\n"
        assert subprocess.run([nt, "install-hooks", "--help"], capture_output=True).returncode == 0


def git_in(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def test_the_note_is_on_the_commit_the_runs_ran_at(tmp_path: Path) -> None:
    """What the README says right after the Quickstart, as it says it."""
    quickstart = section("Quickstart")
    assert "`git notes --ref=ntrk show HEAD~1` shows the two runs" in quickstart
    demo, _ = run_quickstart(tmp_path)
    assert git_in(demo, "notes", "--ref=ntrk", "show", "HEAD").returncode != 0  # no note
    shown = git_in(demo, "notes", "--ref=ntrk", "show", "HEAD~1").stdout
    assert [line.split(" ")[0] for line in shown.splitlines()] == ["ntrk", "ntrk"]


def test_a_record_keeps_the_commit_it_ran_at_after_an_amend(tmp_path: Path) -> None:
    assert "still name the pre-amend id" in section("Quickstart")
    demo, _ = run_quickstart(tmp_path)
    ran_at = git_in(demo, "rev-parse", "HEAD~1").stdout.strip()
    git_in(demo, "checkout", "-q", "HEAD~1")
    amended = git_in(demo, "commit", "-q", "--amend", "-m", "reworded")
    assert amended.returncode == 0, amended.stderr
    new = git_in(demo, "rev-parse", "HEAD").stdout.strip()
    assert new != ran_at
    note = git_in(demo, "notes", "--ref=ntrk", "show", new).stdout  # the note moved along
    assert note.count(f'"commit": "{ran_at}"') == 2  # the records still name the old commit
