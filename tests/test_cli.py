"""The command line itself: help, version, usage errors, completion, import cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NT, nt

from ntrk import __version__
from ntrk.cli import cli as click_group

COMMANDS = sorted(click_group.commands)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_command_has_help(command: str, flag: str, cli) -> None:
    result = cli(command, flag)
    assert result.code == 0
    assert result.out.startswith("Usage: ")
    assert click_group.commands[command].help, f"{command} has no docstring"


def test_every_command_documents_an_example() -> None:
    for name, command in click_group.commands.items():
        assert f"nt {name}" in (command.help or ""), f"{name}'s help shows no example"


def test_version(cli) -> None:
    result = cli("--version")
    assert result.code == 0 and result.out == f"ntrk {__version__}\n"


def test_no_subcommand_is_usage_on_stderr_exit_2(tmp_path: Path) -> None:
    result = nt(tmp_path)
    assert result.code == 2
    assert result.out == "" and "Usage:" in result.err


def test_unknown_subcommand_is_usage(cli) -> None:
    assert cli("frobnicate").code == 2


def test_track_without_command_is_usage(cli) -> None:
    result = cli("track")
    assert result.code == 2 and "missing the command to run" in result.err


def test_ntrk_and_nt_are_the_same_program(tmp_path: Path) -> None:
    ntrk = Path(NT).with_name("ntrk")
    done = subprocess.run([ntrk, "--version"], capture_output=True, text=True)
    assert done.stdout == f"ntrk {__version__}\n"


def test_shell_completion_script(tmp_path: Path) -> None:
    done = subprocess.run(
        [NT],
        env={"_NT_COMPLETE": "bash_source", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0
    assert "complete " in done.stdout and "_nt_completion" in done.stdout


def test_shell_completion_of_commands() -> None:
    done = subprocess.run(
        [NT],
        env={
            "_NT_COMPLETE": "bash_complete",
            "COMP_WORDS": "nt tr",
            "COMP_CWORD": "1",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
    )
    assert "trace" in done.stdout and "track" in done.stdout


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["track", "--help"]])
def test_help_and_version_do_not_import_pygit2(args: list[str]) -> None:
    code = (
        "import sys\nfrom ntrk.cli import main\n"
        f"code = main({args!r})\n"
        "sys.stderr.write(str('pygit2' in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stderr == "False"


def test_internal_error_is_one_line_with_a_crash_log(cli, monkeypatch, repo) -> None:
    import ntrk.commands.trace

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ntrk.commands.trace, "trace", broken)
    result = cli("trace", "x")
    assert result.code == 3
    assert result.err.count("\n") == 1
    assert "internal error: RuntimeError: boom — this is a bug in ntrk" in result.err
    log = Path(result.err.rsplit(" ", 1)[1].strip())
    assert "RuntimeError: boom" in log.read_text()
    log.unlink()


def test_broken_pipe_is_quiet(repo: Path, cli) -> None:
    assert cli("track", "python", "step.py", "-i", "raw.csv", "-o", "clean.csv").code == 0
    done = subprocess.run(
        f"{NT} trace clean.csv | head -c 0", shell=True, cwd=repo, capture_output=True, text=True
    )
    assert "Traceback" not in done.stderr
