"""Signals during `nt track`: they reach the command, and an interrupted run records nothing."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from conftest import NT, read_log

WAIT_FOR_STARTED = """
import signal, sys, time
open("started", "w").close()
time.sleep(30)
open("out", "w").write("done")
"""

HANDLES_TERM = """
import signal, sys, time
def bye(signo, frame):
    open("got", "w").write(str(signo))
    open("out", "w").write("partial")
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
open("started", "w").close()
time.sleep(30)
"""


def start(repo: Path, code: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [NT, "track", "python", "-c", code, "-o", "out"], cwd=repo, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 20
    while not (repo / "started").exists():
        assert time.monotonic() < deadline, "the wrapped command never started"
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.01)
    return proc


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_to_ntrk_reaches_the_command(repo: Path, signo: int) -> None:
    proc = start(repo, WAIT_FOR_STARTED)
    proc.send_signal(signo)
    assert proc.wait(timeout=20) == 128 + signo
    assert read_log(repo) == []
    assert not (repo / ".out.ntrk").exists()
    assert b"nothing recorded" in (proc.stderr.read() if proc.stderr else b"")


def test_command_that_handles_the_signal_is_still_not_recorded(repo: Path) -> None:
    proc = start(repo, HANDLES_TERM)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    assert (repo / "got").read_text() == str(int(signal.SIGTERM))
    assert read_log(repo) == []


def test_command_killed_by_signal_exits_128_plus_n(repo: Path) -> None:
    code = "import os, signal; open('out','w'); os.kill(os.getpid(), signal.SIGKILL)"
    done = subprocess.run(
        [NT, "track", "python", "-c", code, "-o", "out"], cwd=repo, capture_output=True, text=True
    )
    assert done.returncode == 128 + signal.SIGKILL
    assert "killed by SIGKILL" in done.stderr
    assert read_log(repo) == []


def test_ctrl_c_at_a_terminal_reaches_the_command_once(repo: Path) -> None:
    """The terminal sends Ctrl-C to the whole foreground group; ntrk must not send it again."""
    code = """
import signal, time
count = 0
def on_int(signo, frame):
    global count
    count += 1
signal.signal(signal.SIGINT, on_int)
open("started", "w").close()
deadline = time.time() + 1.5
while time.time() < deadline:
    time.sleep(0.01)
open("count", "w").write(str(count))
"""
    master, slave = pty.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [NT, "track", "python", "-c", code, "-o", "count"],
        cwd=repo,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=take_terminal,
    )
    os.close(slave)
    try:
        deadline = time.monotonic() + 20
        while not (repo / "started").exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.write(master, b"\x03")
        assert proc.wait(timeout=20) == 128 + signal.SIGINT
    finally:
        os.close(master)
    assert (repo / "count").read_text() == "1"
    assert read_log(repo) == []


def test_stdin_and_stdout_belong_to_the_command(repo: Path) -> None:
    code = "import sys; data = sys.stdin.read(); print(data.upper()); open('o','w').write(data)"
    done = subprocess.run(
        [NT, "track", "python", "-c", code, "-o", "o"],
        cwd=repo,
        input="hello",
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0
    assert done.stdout == "HELLO\n"
    assert (repo / "o").read_text() == "hello"


# Another thread that leaves SIGCHLD unblocked (pytest-xdist's receiver, any embedding
# program) can take the child's exit signal. The waiter must still see the exit.
MANY_RUNS_BESIDE_A_THREAD = """
import sys, threading, time
from ntrk import runner

stop = threading.Event()
def wake_often():
    while not stop.is_set():
        time.sleep(0.0001)
for _ in range(2):
    threading.Thread(target=wake_often, daemon=True).start()
for _ in range(int(sys.argv[1])):
    assert runner.run(["true"]).exit_code == 0
stop.set()
print("done")
"""


def test_waiting_for_the_command_survives_a_thread_that_takes_sigchld() -> None:
    done = subprocess.run(
        [sys.executable, "-c", MANY_RUNS_BESIDE_A_THREAD, "300"],
        capture_output=True,
        text=True,
        timeout=120,  # a hang, not a speed check: 300 runs of `true` take a second or two
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "done\n"


def test_a_command_started_with_sigchld_ignored_still_reports_its_status(repo: Path) -> None:
    # exec keeps SIG_IGN: a parent that ignores SIGCHLD makes the kernel reap ntrk's children.
    done = subprocess.run(
        [NT, "track", "python", "-c", "open('out', 'w').write('x')", "-o", "out"],
        cwd=repo,
        capture_output=True,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert len(read_log(repo)) == 1
