"""The one wrapper around the `git` program: its messages and its timeouts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ntrk.gitcli import GitError, GitTimeout, first_line, git, run


def test_a_missing_remote_is_named_by_gits_first_line_not_its_last(tmp_path: Path) -> None:
    done = run(tmp_path, "ls-remote", str(tmp_path / "nowhere"), network=True)
    assert not done.ok
    assert "does not appear to be a git repository" in done.message
    assert "and the repository exists" not in done.message


def test_git_raises_with_the_message(tmp_path: Path) -> None:
    with pytest.raises(GitError) as caught:
        git(tmp_path, "rev-parse", "--verify", "no-such-ref")
    assert caught.value.message.startswith("not a git repository")


def test_first_line_skips_hints_and_push_headers() -> None:
    stderr = (
        "To file:///srv/remote.git\n"
        " ! [rejected]        refs/notes/ntrk -> refs/notes/ntrk (fetch first)\n"
        "error: failed to push some refs to 'file:///srv/remote.git'\n"
        "hint: Updates were rejected because the remote contains work that you do not\n"
    )
    assert first_line(stderr) == "failed to push some refs to 'file:///srv/remote.git'"
    assert first_line("hint: only a hint\n") == "git failed without saying why"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state  # a zombie nobody reaped is dead all the same


def test_a_timeout_kills_git_and_everything_it_started(tmp_path: Path) -> None:
    alias = "alias.slow=!sh -c 'sleep 60 & echo $! > grandchild; wait'"
    with pytest.raises(GitTimeout):
        run(tmp_path, "-c", alias, "slow", timeout=1, network=True)
    pid = int((tmp_path / "grandchild").read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "git's child outlived the timeout"
    assert os.getpgid(0) == os.getpgrp()  # this process was not killed with the group
