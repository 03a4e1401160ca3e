"""The README's promises, executed as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    quickstart = section("Quickstart")
    (script,) = blocks(quickstart, "bash")
    (expected,) = blocks(quickstart, "text")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    commit = subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD~1"],
        cwd=tmp_path / "demo",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert done.stdout == expected.replace("1a2b3c4", commit)


def test_ci_runs_the_readme_test_command() -> None:
    commands = [line for line in blocks(section("Development"), "bash")[0].splitlines() if line]
    assert len(commands) == 2
    test_command = commands[1].split("#")[0].strip()
    assert "# run the tests" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "# run the tests$" in ci  # .ci/run takes the command from the README line itself
    assert test_command.startswith("python -m pytest")
