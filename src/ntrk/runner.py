"""Run the wrapped command as the user would, and report how it ended.

The command inherits stdin, stdout, stderr and the environment. While it runs, ntrk blocks the
terminating signals and waits for them with `sigtimedwait`, so that it can pass them on and can
never be interrupted half-way through its own bookkeeping. A signal typed at the terminal
(Ctrl-C) already reaches the whole foreground process group, child included; one sent to ntrk
alone (`kill PID`, a scheduler's SIGTERM) is forwarded to the child.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ntrk.errors import NtrkError

FORWARDED = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT})
_WATCHED = FORWARDED | {signal.SIGCHLD}
# Python ignores SIGPIPE and SIGXFSZ for itself; a child must get the defaults (as subprocess does).
_CHILD_DEFAULTS = {signal.SIGPIPE, signal.SIGXFSZ, *FORWARDED}
_SI_KERNEL = 0x80  # si_code of a signal the kernel raised, e.g. from the terminal
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class RunResult:
    """How the wrapped command ended."""

    exit_code: int  # the shell's convention: 128+N when killed by signal N
    killed_by: int | None  # the signal that killed the command
    interrupted_by: int | None  # a terminating signal ntrk itself received while waiting
    duration: float

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and self.interrupted_by is None


def run(argv: Sequence[str], env: Mapping[str, str] | None = None) -> RunResult:
    """Run `argv` in the foreground and wait for it, passing terminating signals on.

    `env` replaces the environment the command inherits (an observer adds its variables).
    """
    started = time.monotonic()
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
    try:
        with _children_not_reaped_by_the_kernel():
            pid = _spawn(argv, old_mask, os.environ if env is None else env)
            status, interrupted_by = _wait(pid)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    exit_code = os.waitstatus_to_exitcode(status)
    killed_by = -exit_code if exit_code < 0 else None
    if killed_by is not None:
        exit_code = 128 + killed_by
    elif interrupted_by is not None and exit_code == 0:
        exit_code = 128 + interrupted_by
    return RunResult(exit_code, killed_by, interrupted_by, time.monotonic() - started)


def _wait(pid: int) -> tuple[int, int | None]:
    """Wait for `pid` to end, forwarding signals; its wait status and the last signal ntrk got.

    A blocked signal is pending for the whole process, and any thread that leaves it unblocked
    may take it: the SIGCHLD of a child's exit can go to another thread and be discarded. So
    the wait never relies on SIGCHLD alone: it times out every `_POLL_SECONDS` and asks
    `waitpid` again. In a single-threaded ntrk, SIGCHLD still ends the wait at once.
    """
    interrupted_by = None
    while True:
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError as exc:  # reaped by someone else: its status is gone
            raise NtrkError(
                "the command's exit status was lost (SIGCHLD is ignored in this process)",
                "start nt from a shell that does not ignore SIGCHLD; nothing was recorded",
            ) from exc
        if reaped:
            return status, interrupted_by
        info = signal.sigtimedwait(_WATCHED, _POLL_SECONDS)
        if info is None or info.si_signo == signal.SIGCHLD:
            continue
        interrupted_by = info.si_signo
        if info.si_code != _SI_KERNEL:
            _forward(pid, info.si_signo)


@contextlib.contextmanager
def _children_not_reaped_by_the_kernel() -> Iterator[None]:
    """SIGCHLD at its default while the command runs.

    exec keeps SIG_IGN, and with SIGCHLD ignored the kernel reaps children itself, so their
    exit status would be lost. Only the main thread may change a disposition; an embedding
    program calling from another thread keeps its own.
    """
    previous = signal.getsignal(signal.SIGCHLD)
    if previous != signal.SIG_IGN or threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGCHLD, previous)


def _spawn(argv: Sequence[str], child_mask: Iterable[int], env: Mapping[str, str]) -> int:
    try:
        return os.posix_spawnp(
            argv[0], list(argv), env, setsigmask=child_mask, setsigdef=_CHILD_DEFAULTS
        )
    except FileNotFoundError as exc:
        raise NtrkError(
            f"command not found: {argv[0]}",
            "check its name, or install it / add it to PATH; nothing was run",
            exit_code=127,
        ) from exc
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.ENOEXEC, errno.EISDIR):
            raise NtrkError(
                f"cannot execute {argv[0]}: {exc.strerror}",
                f"make it executable (chmod +x {argv[0]}) or name its interpreter; nothing was run",
                exit_code=126,
            ) from exc
        raise NtrkError(
            f"cannot start {argv[0]}: {exc.strerror}", "check the command; nothing was run", 126
        ) from exc


def _forward(pid: int, signo: int) -> None:
    # ProcessLookupError: it has already exited, and its SIGCHLD is on the way.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signo)
