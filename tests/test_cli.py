"""The command line itself: help, version, usage errors, completion, import cost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NT, at_a_terminal, broken_installation, nt

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


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["trace", "x", "--format", "bogus"],
            "nt: invalid value for '--format': 'bogus' is not one of 'text', 'json', 'dot', "
            "'mermaid', 'prov-json', 'prov-n' — see nt trace --help\n",
        ),
        (["frobnicate"], "nt: no such command 'frobnicate' — see nt --help\n"),
        (["track"], "nt: missing the command to run — see nt track --help\n"),
        (["log", "--bogus"], "nt: no such option '--bogus' — see nt log --help\n"),
    ],
)
def test_usage_errors_are_one_line_like_every_failure(cli, args: list[str], line: str) -> None:
    result = cli(*args)
    assert result.code == 2
    assert result.err == line


def test_ctrl_c_in_a_read_command_does_not_talk_of_recording(cli, monkeypatch, repo) -> None:
    import ntrk.commands.log
    import ntrk.commands.track

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ntrk.commands.log, "runs", interrupted)
    result = cli("log")
    assert result.code == 130
    assert result.err.strip() == "nt: interrupted"
    monkeypatch.setattr(ntrk.commands.track, "track", interrupted)
    result = cli("track", "true")
    assert result.code == 130
    assert result.err.strip() == "nt: interrupted — nothing was recorded"


@pytest.mark.parametrize("missing", ["click", "pygit2"])
def test_a_broken_installation_is_one_line(tmp_path: Path, missing: str, repo: Path) -> None:
    python = broken_installation(tmp_path, missing)
    done = subprocess.run([python, "-m", "ntrk", "log"], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"is broken (No module named '{missing}') — reinstall it" in done.stderr


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


class InteractiveBash:
    """bash at a terminal (a pty), with nt's completion loaded as its README says.

    Ctrl-T is bound to print the line being edited, so `complete` returns what TAB made of it.
    """

    def __init__(self, cwd: Path, path: str) -> None:
        env = {"PATH": path, "HOME": str(cwd), "TERM": "dumb", "PS1": "$ ", "INPUTRC": "/dev/null"}
        self.proc, self.master = at_a_terminal(["bash", "--norc", "--noprofile", "-i"], cwd, env)
        self.buffer = b""
        os.write(
            self.master,
            b'eval "$(_NT_COMPLETE=bash_source nt)"; '
            b'bind -x \'"\\C-t": printf "<<<%s>>>" "$READLINE_LINE"\'; echo R""EADY\n',
        )
        self._read_until(b"READY\r\n")

    def complete(self, line: str) -> str:
        """`line`, then TAB; what is on the command line afterwards."""
        os.write(self.master, b"\x15" + line.encode() + b"\t\x14")  # Ctrl-U first: a new line
        shown = self._read_until(b">>>")
        return shown[shown.rindex(b"<<<") + 3 : -3].decode()

    def _read_until(self, marker: bytes) -> bytes:
        import select
        import time

        deadline = time.monotonic() + 30  # only to stop a hang
        while marker not in self.buffer:
            assert time.monotonic() < deadline, self.buffer.decode(errors="replace")
            if select.select([self.master], [], [], 0.1)[0]:
                self.buffer += os.read(self.master, 4096)
        shown, marker, self.buffer = self.buffer.partition(marker)
        return shown + marker

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self.master)


def test_tab_completion_in_bash(tmp_path: Path) -> None:
    """`nt track` completes a command from PATH, then file names; trace completes files."""
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "zzntrk-tool").write_text("#!/bin/sh\n")
    (tools / "zzntrk-tool").chmod(0o755)
    (tmp_path / "raw.csv").write_text("a\n")
    bash = InteractiveBash(
        tmp_path, f"{tools}{os.pathsep}{Path(NT).parent}{os.pathsep}/usr/bin:/bin"
    )
    try:
        assert bash.complete("nt track zzntrk-t") == "nt track zzntrk-tool "
        assert bash.complete("nt track zzntrk-tool ra") == "nt track zzntrk-tool raw.csv "
        assert bash.complete("nt track -- zzntrk-t") == "nt track -- zzntrk-tool "
        # After the command's own -i/-o (the README's most common line) and a declared -i.
        assert bash.complete("nt track zzntrk-tool -i ra") == "nt track zzntrk-tool -i raw.csv "
        assert bash.complete("nt track zzntrk-tool --output ra") == (
            "nt track zzntrk-tool --output raw.csv "
        )
        assert bash.complete("nt track -i ra") == "nt track -i raw.csv "
        assert bash.complete("nt track --obs") == "nt track --observe "  # ntrk's own options
        for command in ("trace", "status", "log", "rerun"):
            assert bash.complete(f"nt {command} ra") == f"nt {command} raw.csv "
        assert bash.complete("nt tra") == "nt trac"  # trace or track
    finally:
        bash.close()


def completions(shell: str, line: str) -> list[str]:
    """What nt offers for the last word of `line`, by `shell`'s protocol (click's)."""
    words = line.split(" ")
    # bash and zsh pass the index of the word being completed, fish the word itself.
    cword = words[-1] if shell == "fish" else str(len(words) - 1)
    env = {"_NT_COMPLETE": f"{shell}_complete", "COMP_WORDS": line, "COMP_CWORD": cword}
    done = subprocess.run(
        [NT], env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stderr == ""
    return done.stdout.split("\n")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_track_completes_commands_then_files_in_every_shell(shell: str) -> None:
    first = completions(shell, "nt track pyth")
    assert not any("Usage" in line or "Error" in line for line in first)
    assert {"python3", "plain,python3"} & set(first)  # fish and zsh: the name alone; bash: typed
    for line in (
        "nt track python3 ra",
        "nt track python3 x.py -i ra",
        "nt track -o ra",
        "nt trace ra",
        "nt status ra",
        "nt log ra",
    ):
        offered = completions(shell, line)
        assert any(entry.startswith("file") for entry in offered), (line, offered)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_exist_for_every_shell(shell: str) -> None:
    done = subprocess.run(
        [NT], env={"_NT_COMPLETE": f"{shell}_source", "PATH": "/usr/bin:/bin"}, capture_output=True
    )
    assert done.returncode == 0 and b"_NT_COMPLETE" in done.stdout


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
