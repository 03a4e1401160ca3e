"""Handing OpenLineage events to the transport the user configured, within its timeout.

Only imported once `client_config.configured` found a configuration. Delivery never holds `nt`
up for longer than the transport's timeout: unbounded, the client's HTTP transport retries a
refused connection five times with back-off (~9 s) and a server that accepts and never
answers costs a timeout per try, so events go out on a background thread and ntrk stops
waiting for it when the timeout has passed (a daemon thread: it ends with the process). The
client logs through `logging`; ntrk says one line instead, unless `OPENLINEAGE_CLIENT_LOGGING`
asks for the client's own log."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ntrk.errors import NtrkError
from ntrk.export.client_config import EXTRA_HINT, configured
from ntrk.runner import FORWARDED

if TYPE_CHECKING:
    from openlineage.client import OpenLineageClient

DEFAULT_TIMEOUT = 5.0  # the client's own default for its HTTP transport
# Building the client (import, configuration) is local work; it gets this long at most.
SETUP_TIMEOUT = 10.0
_BLOCKED_IN_THREADS = FORWARDED | {signal.SIGCHLD}
_MAX_REASON = 200


def installed() -> bool:
    """Whether the OpenLineage client can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("openlineage.client") is not None
    except (ImportError, ValueError):
        return False


def connect(ignored: Path | None = None) -> OpenLineageClient:
    """The client, configured as the user configured it; an NtrkError when it cannot be.

    `ignored` is a configuration file the client would read but the user has not trusted
    (see `client_config.untrusted_config`): the client looks past it, to the user's own.
    """
    _route_client_logging()
    try:
        from openlineage.client import OpenLineageClient
    except ImportError as exc:
        raise NtrkError("the OpenLineage client is not installed", EXTRA_HINT) from exc
    try:
        client = _without(OpenLineageClient, ignored)()
    except Exception as exc:  # the client raises whatever its configuration parser raised
        raise NtrkError(
            f"the OpenLineage configuration is invalid ({reason(exc)})",
            f"fix it ({configured() or 'see the OpenLineage client documentation'})",
        ) from exc
    if client.transport.kind == "console":  # it logs each event at INFO: show them
        _show(logging.getLogger("openlineage.client.transport.console"), logging.INFO)
    return client


def _without(base: type[OpenLineageClient], ignored: Path | None) -> type[OpenLineageClient]:
    """The client class, made to skip `ignored` where it looks for its configuration file."""
    if ignored is None:
        return base

    class Client(base):  # type: ignore[valid-type,misc]
        @staticmethod
        def _find_yaml_config_path() -> str | None:
            # The client's own search (OPENLINEAGE_CONFIG, ./, ~/.openlineage/) minus one file.
            found: str | None = base._find_yaml_config_path()
            if found is None or os.path.abspath(found) != str(ignored):
                return found
            home = os.path.expanduser("~/.openlineage/openlineage.yml")
            return home if os.path.isfile(home) else None

    return Client


def destination(client: OpenLineageClient) -> str:
    """Where the client sends events, for messages: a URL, or the transport's kind."""
    transport = client.transport
    url, endpoint = getattr(transport, "url", None), getattr(transport, "endpoint", None)
    if isinstance(url, str) and isinstance(endpoint, str):
        return url.rstrip("/") + "/" + endpoint.lstrip("/")
    return f"the {transport.kind} transport"


def timeout_of(client: OpenLineageClient) -> float:
    """The transport's timeout in seconds (its `timeout`, else the client's default)."""
    value = getattr(getattr(client.transport, "config", None), "timeout", None)
    # Compared, never converted: float(10**400) raises, and NaN compares false.
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 86400:
        return float(value)
    return DEFAULT_TIMEOUT


def call_within(action: Callable[[], object], seconds: float) -> str | None:
    """Run `action` on a thread and wait `seconds` at most; why it failed, or None."""
    failure: list[str] = []

    def work() -> None:
        try:
            action()
        except Exception as exc:  # the transport's own errors: requests, urllib3, kafka...
            failure.append(reason(exc))

    worker = threading.Thread(target=work, name="ntrk-openlineage", daemon=True)
    start_thread(worker)
    if not join(worker, seconds):
        return f"gave up after {seconds:g}s"
    return failure[0] if failure else None


class Sender:
    """Builds and emits events in order on one background thread, for one `nt track`.

    The client is made on that thread too, once the command runs (see `start`): making it
    imports ~250 ms of modules, and with `OPENLINEAGE_URL` set it writes variables into
    `os.environ`, which must not happen while the main thread spawns the command with it.
    """

    def __init__(self, ignored: Path | None = None) -> None:
        self._ignored = ignored
        self._queue: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="ntrk-openlineage", daemon=True)
        self._ready = threading.Event()
        self._started = False
        self.setup_error: NtrkError | None = None  # the client could not be made
        self.failure: str | None = None  # an event could not be delivered
        self.destination = "OpenLineage"
        self.timeout = DEFAULT_TIMEOUT

    def put(self, build: Callable[[], object]) -> None:
        """Queue an event; `build` makes it on the sending thread."""
        self._queue.put(build)

    def start(self) -> None:
        """Start sending (once); safe to call from `runner.run`'s `on_spawn`."""
        if self._started:
            return
        self._started = True
        try:
            start_thread(self._thread)
        except RuntimeError as exc:  # no thread could be started
            self.setup_error = NtrkError(f"no thread could be started ({exc})", "try again")
            self._ready.set()

    def wait_ready(self) -> None:
        """Wait until the client is made (or could not be), so `os.environ` is left alone.

        Ctrl-C here stops `nt track` as it would have without OpenLineage (before recording).
        """
        self._ready.wait(SETUP_TIMEOUT)

    def finish(self) -> None:
        """Send what is queued, waiting the transport's timeout at most (see `failure`)."""
        self.start()
        self._queue.put(None)
        if not join_event(self._ready, SETUP_TIMEOUT):
            self.setup_error = NtrkError(
                f"the OpenLineage client was not ready after {SETUP_TIMEOUT:g}s",
                "check the transport's configuration",
            )
        elif self._thread.ident is not None and not join(self._thread, self.timeout):
            self.failure = self.failure or f"gave up after {self.timeout:g}s"

    def _work(self) -> None:
        try:
            client = connect(self._ignored)
            self.destination = destination(client)
            self.timeout = timeout_of(client)
        except NtrkError as exc:
            self.setup_error = exc
            return
        except Exception as exc:  # never a traceback from this thread
            self.setup_error = NtrkError(
                f"the OpenLineage client failed to start ({reason(exc)})",
                "check openlineage.yml or the OPENLINEAGE_* variables",
            )
            return
        finally:
            self._ready.set()
        while (build := self._queue.get()) is not None:
            try:
                client.emit(build())  # type: ignore[arg-type]
            except Exception as exc:  # the transport's errors, or a bug building an event
                self.failure = reason(exc)
                break
        with contextlib.suppress(Exception):
            client.close(self.timeout)


def start_thread(thread: threading.Thread) -> None:
    """Start `thread` with terminating signals and SIGCHLD blocked in it.

    Those signals must reach the main thread, where `runner` waits for them (and where Python
    runs signal handlers); a thread inherits the signal mask of the thread that starts it.
    """
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED_IN_THREADS)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def join(thread: threading.Thread, seconds: float) -> bool:
    """Wait for `thread` at most `seconds`; False when it still runs (or on Ctrl-C)."""
    try:
        thread.join(seconds)
    except KeyboardInterrupt:  # a second Ctrl-C stops the wait, not the run's bookkeeping
        return False
    return not thread.is_alive()


def join_event(event: threading.Event, seconds: float) -> bool:
    """Wait for `event` at most `seconds`; False when it is still unset (or on Ctrl-C)."""
    try:
        return event.wait(seconds)
    except KeyboardInterrupt:
        return False


def reason(exc: BaseException) -> str:
    """A short, one-line account of why a transport failed.

    requests and urllib3 wrap the cause several layers deep (`__cause__`, `args`, urllib3's
    `reason`): an HTTP status or an operating-system error says more than the outer message.
    """
    pending, seen = [exc], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        status = getattr(getattr(current, "response", None), "status_code", None)
        if isinstance(status, int):
            return f"HTTP {status}"
        if isinstance(current, TimeoutError):
            return "timed out"
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
        nested = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        nested += list(current.args)
        pending += [item for item in nested if isinstance(item, BaseException)]
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def _route_client_logging() -> None:
    logger = logging.getLogger("openlineage")
    if os.environ.get("OPENLINEAGE_CLIENT_LOGGING"):
        _show(logger, None)  # the client sets the level itself from that variable
    elif not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False  # else Python's last-resort handler prints its warnings


class _Stderr(logging.Handler):
    """The client's log lines on stderr, as `nt: openlineage: ...` (whatever sys.stderr is)."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"nt: openlineage: {record.getMessage()}\n")
        sys.stderr.flush()


def _show(logger: logging.Logger, level: int | None) -> None:
    if not any(isinstance(handler, _Stderr) for handler in logger.handlers):
        logger.addHandler(_Stderr())
    if level is not None:
        logger.setLevel(level)
    logger.propagate = False
