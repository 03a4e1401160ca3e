"""Run the wrapped command as the user would, and report how it ended.

The command inherits stdin, stdout, stderr and the environment. While it runs, ntrk blocks the
terminating signals and waits for them with `sigwaitinfo`, so that it can pass them on and can
never be interrupted half-way through its own bookkeeping. A signal typed at the terminal
(Ctrl-C) already reaches the whole foreground process group, child included; one sent to ntrk
alone (`kill PID`, a scheduler's SIGTERM) is forwarded to the child.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ntrk.errors import NtrkError

FORWARDED = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT})
_WATCHED = FORWARDED | {signal.SIGCHLD}
# Python ignores SIGPIPE and SIGXFSZ for itself; a child must get the defaults (as subprocess does).
_CHILD_DEFAULTS = {signal.SIGPIPE, signal.SIGXFSZ, *FORWARDED}
_SI_KERNEL = 0x80  # si_code of a signal the kernel raised, e.g. from the terminal


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


def run(argv: Sequence[str]) -> RunResult:
    """Run `argv` in the foreground and wait for it, passing terminating signals on."""
    started = time.monotonic()
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
    try:
        pid = _spawn(argv, old_mask)
        interrupted_by = None
        while True:
            info = signal.sigwaitinfo(_WATCHED)
            if info.si_signo == signal.SIGCHLD:
                reaped, status = os.waitpid(pid, os.WNOHANG)
                if reaped:
                    break
                continue
            interrupted_by = info.si_signo
            if info.si_code != _SI_KERNEL:
                _forward(pid, info.si_signo)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    exit_code = os.waitstatus_to_exitcode(status)
    killed_by = -exit_code if exit_code < 0 else None
    if killed_by is not None:
        exit_code = 128 + killed_by
    elif interrupted_by is not None and exit_code == 0:
        exit_code = 128 + interrupted_by
    return RunResult(exit_code, killed_by, interrupted_by, time.monotonic() - started)


def _spawn(argv: Sequence[str], child_mask: Iterable[int]) -> int:
    try:
        return os.posix_spawnp(
            argv[0], list(argv), os.environ, setsigmask=child_mask, setsigdef=_CHILD_DEFAULTS
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
