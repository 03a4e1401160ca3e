"""Signals during `nt track`: they reach the command, and an interrupted run records nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import NT, at_a_terminal, read_log

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
    proc, master = at_a_terminal([NT, "track", "python", "-c", code, "-o", "count"], repo)
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


# The command signals ntrk (as a Ctrl-C reaches both) and exits; ntrk notices the exit first:
# the waiter only starts once the command is a zombie. The signal must count as received while
# waiting, not stay pending and raise KeyboardInterrupt after it.
SIGNALS_NTRK_THEN_EXITS = """
import os, sys, time
from pathlib import Path
from ntrk import runner

COMMAND = '''
import os
open("pid.tmp", "w").write(str(os.getpid()))
os.rename("pid.tmp", "pid")
os.kill(os.getppid(), %d)
'''

def until(condition):
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            sys.exit("the command never exited")
        time.sleep(0.001)

def once_the_command_has_exited():
    until(Path("pid").exists)
    stat = Path(f"/proc/{Path('pid').read_text()}/stat")
    until(lambda: stat.read_text().rpartition(")")[2].split()[0] == "Z")

result = runner.run([sys.executable, "-c", COMMAND], on_spawn=once_the_command_has_exited)
print(result.exit_code, result.killed_by, result.interrupted_by)
"""


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_that_arrives_as_the_command_exits_interrupts_the_run(
    tmp_path: Path, signo: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SIGNALS_NTRK_THEN_EXITS % signo],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"{128 + signo} None {signo}\n"


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


# Counts the signal given as argv[1]; stops one second after the first, so that a second copy
# (a forwarded duplicate arrives within ntrk's grace time) would be counted.
COUNTS = """
import os, signal, sys, time
signo = int(sys.argv[1])
count, first = 0, None
def on_signal(received, frame):
    global count, first
    count += 1
    first = first or time.monotonic()
signal.signal(signo, on_signal)
if sys.argv[2] == "leave-group":
    os.setpgid(0, 0)
open("started", "w").close()
if sys.argv[2] == "signal-own-group":
    os.kill(0, signo)
deadline = time.monotonic() + 30
while time.monotonic() < deadline and (first is None or time.monotonic() < first + 1):
    time.sleep(0.01)
open("count", "w").write(str(count))
"""


def track_counting(signo: int, mode: str = "-") -> list[str]:
    return [NT, "track", "python", "-c", COUNTS, str(int(signo)), mode, "-o", "count"]


def wait_started(repo: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while not (repo / "started").exists():
        assert time.monotonic() < deadline, "the wrapped command never started"
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.01)


def test_a_signal_to_the_whole_group_reaches_the_command_once(repo: Path) -> None:
    """`kill -- -PGID`: the command got it from the sender; ntrk must not send it again."""
    proc = subprocess.Popen(
        track_counting(signal.SIGTERM),
        cwd=repo,
        stderr=subprocess.PIPE,
        start_new_session=True,  # ntrk leads its own group, as a shell job does
    )
    wait_started(repo, proc)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    assert (repo / "count").read_text() == "1"
    assert read_log(repo) == []


# What coreutils' timeout does when its time is up (src/timeout.c, cleanup()): it leads a
# process group of its own, signals its child, then the whole group with itself ignoring it.
# Here it waits for the command to start instead of for a duration, so the test is not a race.
LIKE_TIMEOUT = """
import os, signal, subprocess, sys, time
os.setpgid(0, 0)
proc = subprocess.Popen(sys.argv[1:])
deadline = time.monotonic() + 20
while not os.path.exists("started") and time.monotonic() < deadline:
    time.sleep(0.01)
signal.signal(signal.SIGINT, signal.SIG_IGN)
os.kill(proc.pid, signal.SIGINT)
os.kill(0, signal.SIGINT)
sys.exit(proc.wait())
"""


def test_timeout_reaches_the_command_once(repo: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LIKE_TIMEOUT, *track_counting(signal.SIGINT)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 128 + signal.SIGINT, done.stderr
    assert (repo / "count").read_text() == "1"
    assert read_log(repo) == []


def test_a_command_that_signals_its_own_group_gets_the_signal_once(repo: Path) -> None:
    done = subprocess.run(
        track_counting(signal.SIGTERM, "signal-own-group"),
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # the group it signals is ntrk's, not the test's
    )
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert (repo / "count").read_text() == "1"


def test_a_command_that_left_the_group_still_gets_a_group_signal(repo: Path) -> None:
    """Nothing sent to ntrk's group reaches a command that made a group of its own."""
    proc = subprocess.Popen(
        track_counting(signal.SIGTERM, "leave-group"),
        cwd=repo,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    wait_started(repo, proc)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    assert (repo / "count").read_text() == "1"


def test_a_signal_to_ntrk_alone_reaches_the_command_once(repo: Path) -> None:
    proc = subprocess.Popen(track_counting(signal.SIGTERM), cwd=repo, stderr=subprocess.PIPE)
    wait_started(repo, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    assert (repo / "count").read_text() == "1"
