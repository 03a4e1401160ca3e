"""The `git` program, for what pygit2 does not do the way git does.

ntrk reads and writes objects and refs with pygit2, but runs `git` itself where the user's
own setup must apply: fetch and push (transports, credential helpers, SSH), hooks' staging
(git's index for this commit, `GIT_INDEX_FILE`), and a few plumbing answers. Every such call
goes through `run` or `git` here.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ntrk import programs

# Never ask for a password or a passphrase: a hook or a script would hang on the prompt.
_NETWORK_CONFIG = ("-c", "core.askPass=", "-c", "credential.interactive=never")
_NOISE = ("hint:", "To ", "From ")
# Before a subcommand: every path after `--` is that file, never a pattern (`a[1].csv`).
LITERAL_PATHSPECS = "--literal-pathspecs"


class GitError(Exception):
    """`git` failed, timed out or could not start; `message` is git's own first word on it."""

    def __init__(self, args: tuple[str, ...], message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.command = args
        self.message = message
        self.stderr = stderr


class GitTimeout(GitError):
    """`git` ran longer than it was allowed to (and was killed, with its children)."""


@dataclass(frozen=True)
class GitResult:
    """How a `git` process ended: its exit status and output."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def message(self) -> str:
        return first_line(self.stderr)


def run(cwd: Path, *args: str, timeout: float | None = None, network: bool = False) -> GitResult:
    """Run `git ARGS` in `cwd` and return how it ended, whatever its exit status.

    Output is decoded as UTF-8 with surrogate escapes, so paths that are not UTF-8 survive a
    round trip back into another git command. A network command (`network=True`) never
    prompts, and runs in a session of its own: on timeout the whole group is killed (ssh and
    remote helpers too, which would otherwise keep the pipes open and the caller waiting).
    """
    program = programs.find("git")
    if program is None:
        raise GitError(args, "cannot run git: it is not on PATH (absolute entries)")
    argv = (program, *(_NETWORK_CONFIG if network else ()), *args)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"} if network else None
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=network,
        )
    except OSError as exc:
        raise GitError(args, f"cannot run git: {exc.strerror}") from exc
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc, group=network)
        raise GitTimeout(args, f"git {args[0]} gave no answer in {timeout:g} s") from None
    except BaseException:
        _kill(proc, group=network)
        raise
    return GitResult(
        proc.returncode,
        out.decode("utf-8", errors="surrogateescape"),
        err.decode("utf-8", errors="replace"),
    )


def git(cwd: Path, *args: str, timeout: float | None = None, network: bool = False) -> str:
    """Run `git ARGS` in `cwd` and return its stdout; raise GitError when it fails."""
    done = run(cwd, *args, timeout=timeout, network=network)
    if not done.ok:
        raise GitError(args, done.message, done.stderr)
    return done.stdout


def entries(listing: str) -> list[tuple[list[str], str]]:
    """(fields, path) of each entry of a `-z` listing whose entries are `FIELDS TAB PATH`
    (`git ls-files -s`, `git ls-tree`): paths are taken whole, whatever they hold."""
    found = []
    for entry in listing.split("\0"):
        fields, tab, path = entry.partition("\t")
        if tab and path:
            found.append((fields.split(), path))
    return found


def first_line(stderr: str) -> str:
    """git's first meaningful line of `stderr`: its first `fatal:`/`error:`, else its first
    line that is not a hint or a progress header, without the `fatal: ` prefix."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        for prefix in ("fatal: ", "error: "):
            if line.startswith(prefix):
                return line.removeprefix(prefix)
    for line in lines:
        if not line.startswith(_NOISE):
            return line
    return "git failed without saying why"


def _kill(proc: subprocess.Popen[bytes], group: bool) -> None:
    try:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except ProcessLookupError:
        pass
    proc.communicate()
