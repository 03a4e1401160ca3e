"""Run the wrapped command as the user would, and report how it ended.

The command inherits stdin, stdout, stderr, the environment and ntrk's process group. While it
runs, ntrk blocks the terminating signals and waits for them with `sigtimedwait`, so that it
can pass them on and can never be interrupted half-way through its own bookkeeping.

Which signals are passed on: only those the command cannot have received itself. A signal
sent to the whole process group (the terminal's Ctrl-C, `kill -- -PGID`, `timeout`, a
scheduler that signals every process of a job) reaches the command directly; forwarding it
too would deliver it twice. A signal sent to ntrk alone (`kill PID`, a supervisor's SIGTERM
to its main process) reaches only ntrk and must be forwarded. `siginfo` cannot tell the two
apart (kill(2) to a pid and to a group both give SI_USER and the sender's pid), so ntrk asks
a witness: a tiny process (`cat` on a pipe, gone when ntrk is) that sits in the command's
process group with these signals blocked, so that whatever reached the group stays pending
in it, readable in `/proc/PID/status`. The rule, in order:

1. The command left ntrk's process group (setsid, setpgid): nothing sent to the group reaches
   it, so every signal is forwarded.
2. The sender is the command itself: not forwarded (it must not kill itself indirectly; sudo's
   exec_nopty has the same rule).
3. The kernel raised it (`si_code` SI_KERNEL: the terminal's Ctrl-C, Ctrl-\\, hangup go to
   the whole foreground group): not forwarded.
4. The witness has it pending now or within `_GROUP_GRACE` seconds (`timeout` signals its
   child first and the group right after): the group got it; not forwarded.
5. Otherwise it was sent to ntrk alone: forwarded.

Without a witness (no `/proc`, as on macOS, or no `cat`), rules 1-3 and 5 apply: a signal
sent to the whole group by a process then reaches the command twice, as in ntrk 0.2.0.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ntrk import programs
from ntrk.errors import NtrkError

FORWARDED = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT})
_WATCHED = FORWARDED | {signal.SIGCHLD}
# Python ignores SIGPIPE and SIGXFSZ for itself; a child must get the defaults (as subprocess does).
_CHILD_DEFAULTS = {signal.SIGPIPE, signal.SIGXFSZ, *FORWARDED}
_SI_KERNEL = 0x80  # si_code of a signal the kernel raised, e.g. from the terminal
_POLL_SECONDS = 0.05
# How long a signal sent to ntrk waits for its copy to the group (coreutils' timeout sends
# one to its child, then one to its group) before it counts as sent to ntrk alone.
_GROUP_GRACE = 0.1


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


def run(
    argv: Sequence[str],
    on_spawn: Callable[[], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> RunResult:
    """Run `argv` in the foreground and wait for it, passing terminating signals on.

    `on_spawn` is called once the command runs, with the watched signals still blocked: a
    thread it starts inherits that mask, so those signals keep coming to this wait. `env`
    replaces the environment the command inherits (an observer adds its variables).
    """
    started = time.monotonic()
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
    try:
        with _children_not_reaped_by_the_kernel(), contextlib.closing(_GroupWitness()) as witness:
            pid = _spawn(argv, old_mask, os.environ if env is None else env)
            if on_spawn is not None:
                on_spawn()
            status, interrupted_by = _Waiter(pid, witness).wait()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    exit_code = os.waitstatus_to_exitcode(status)
    killed_by = -exit_code if exit_code < 0 else None
    if killed_by is not None:
        exit_code = 128 + killed_by
    elif interrupted_by is not None and exit_code == 0:
        exit_code = 128 + interrupted_by
    return RunResult(exit_code, killed_by, interrupted_by, time.monotonic() - started)


class _Waiter:
    """Waits for the command, passing on the signals it cannot have received (see the top)."""

    def __init__(self, pid: int, witness: _GroupWitness) -> None:
        self.pid = pid
        self.witness = witness
        self.undecided: dict[int, float] = {}  # signal -> when it counts as sent to ntrk alone
        self.interrupted_by: int | None = None

    def wait(self) -> tuple[int, int | None]:
        """The command's wait status, and the last terminating signal ntrk received.

        A blocked signal is pending for the whole process, and any thread that leaves it
        unblocked may take it: the SIGCHLD of a child's exit can go to another thread and be
        discarded. So the wait never relies on SIGCHLD alone: it times out every
        `_POLL_SECONDS` and asks `waitpid` again. In a single-threaded ntrk, SIGCHLD still
        ends the wait at once.
        """
        while True:
            try:
                reaped, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError as exc:  # reaped by someone else: its status is gone
                raise NtrkError(
                    "the command's exit status was lost (SIGCHLD is ignored in this process)",
                    "start nt from a shell that does not ignore SIGCHLD; nothing was recorded",
                ) from exc
            if reaped:
                self._take_pending()
                return status, self.interrupted_by
            info = signal.sigtimedwait(_WATCHED, self._timeout())
            if info is not None and info.si_signo != signal.SIGCHLD:
                self.interrupted_by = info.si_signo
                self._received(info)
            self._decide()

    def _take_pending(self) -> None:
        """Take the terminating signals that reached ntrk while the command was ending (a
        Ctrl-C reaches both): left pending, they would raise KeyboardInterrupt in the middle of
        ntrk's bookkeeping once the mask is restored."""
        while (info := signal.sigtimedwait(FORWARDED, 0)) is not None:
            self.interrupted_by = info.si_signo

    def _timeout(self) -> float:
        if not self.undecided:
            return _POLL_SECONDS
        return max(0.0, min(_POLL_SECONDS, min(self.undecided.values()) - time.monotonic()))

    def _received(self, info: signal.struct_siginfo) -> None:
        signo = info.si_signo
        if not _in_group(self.pid):
            _forward(self.pid, signo)  # rule 1
        elif info.si_pid == self.pid or info.si_code == _SI_KERNEL:
            return  # rules 2 and 3
        elif not self.witness.available:
            _forward(self.pid, signo)  # rule 5, without a witness
        else:
            self.undecided.setdefault(signo, time.monotonic() + _GROUP_GRACE)

    def _decide(self) -> None:
        """Forward each undecided signal that its grace time did not show the group got."""
        if not self.undecided:
            return
        seen = self.witness.pending() & set(self.undecided)
        if seen:  # rule 4: the group got them; a fresh witness for the next ones
            for signo in seen:
                del self.undecided[signo]
            self.witness.renew()
        now = time.monotonic()
        for signo, deadline in list(self.undecided.items()):
            if now >= deadline:
                del self.undecided[signo]
                _forward(self.pid, signo)  # rule 5


def _in_group(pid: int) -> bool:
    """Whether `pid` is still in ntrk's process group (a group signal reaches it)."""
    try:
        return os.getpgid(pid) == os.getpgrp()
    except ProcessLookupError:
        return True  # it has exited; nothing needs forwarding


class _GroupWitness:
    """A process in ntrk's group, with the forwarded signals blocked, that shows what the
    group received: a signal sent to the group stays pending in it (`/proc/PID/status`).

    It runs `cat` reading a pipe whose only writer is ntrk: when ntrk ends, however it ends,
    `cat` reads end-of-file and exits.
    """

    def __init__(self) -> None:
        self._process = self._spawn()  # (pid, the pipe's write end), or None: no witness

    @property
    def available(self) -> bool:
        return self._process is not None

    def pending(self) -> set[int]:
        """The forwarded signals pending in the witness (sent to the group or to it)."""
        mask = _pending_mask(self._process[0]) if self._process else None
        return {signo for signo in FORWARDED if (mask or 0) >> (signo - 1) & 1}

    def renew(self) -> None:
        """Start a fresh witness (pending signals cannot be cleared), then stop this one, so
        that the group is never without one."""
        fresh = self._spawn()
        self.close()
        self._process = fresh

    def close(self) -> None:
        if self._process is None:
            return
        pid, writer = self._process
        self._process = None
        os.close(writer)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    @staticmethod
    def _spawn() -> tuple[int, int] | None:
        if _pending_mask(os.getpid()) is None:  # no /proc (macOS) or no such field
            return None
        cat = programs.find("cat")
        if cat is None:
            return None
        reader, writer = os.pipe()
        try:
            pid = os.posix_spawn(
                cat,
                ["cat"],
                {"PATH": os.environ.get("PATH", os.defpath)},
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, reader, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                ],
                setsigmask=FORWARDED,
            )
        except OSError:
            os.close(writer)
            return None
        finally:
            os.close(reader)
        return pid, writer


def _pending_mask(pid: int) -> int | None:
    """The signals pending for process `pid` as a whole (kill(2) to it or to its group)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("ShdPnd:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return None


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
