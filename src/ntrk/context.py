"""Where a run happened, recorded as optional fields: platform, Python, host, environment.

Hostnames can identify people and machines, so one is recorded only when `ntrk.toml` asks
(`[record] hostname = true`). The environment is recorded as a fingerprint, never as values:
`env_vars` hashes the named variables' values, `env_command` hashes a command's output (such
as `pip freeze`), so two runs can be compared without the record leaking secrets.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import socket
import subprocess
import sys
from typing import Any

from ntrk.config import Config
from ntrk.console import warn


def describe(config: Config) -> dict[str, Any]:
    """The optional record fields this configuration asks for (platform and python always)."""
    fields: dict[str, Any] = {"platform": _platform(), "python": sys.version.split()[0]}
    if config.hostname:
        fields["hostname"] = socket.gethostname()
    env: dict[str, Any] = {}
    if config.env_vars:
        values = "".join(f"{name}={os.environ.get(name, '')}\n" for name in sorted(config.env_vars))
        env["vars"] = sorted(config.env_vars)
        env["vars_md5"] = hashlib.md5(values.encode(), usedforsecurity=False).hexdigest()
    if config.env_command:
        digest = _command_md5(config.env_command)
        if digest is not None:
            env["command"] = config.env_command
            env["command_md5"] = digest
    if env:
        fields["env"] = env
    return fields


def _platform() -> str:
    """`platform.platform(terse=True)`, without its cost where the answer is known directly.

    On Linux with glibc that is `Linux-<release>-<machine>-with-glibc<version>`; the platform
    module takes some 40-80 ms to import and answer it (it runs `uname -p` and scans the Python
    binary for the libc version), a third of what `nt track` adds to a run. Elsewhere it answers.
    """
    system, _, release, _, machine = os.uname()
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        libc = ""
    name, _, version = libc.partition(" ")
    if system == "Linux" and name == "glibc" and version:
        return "-".join(part.replace(" ", "_") for part in (system, release, machine)) + (
            f"-with-glibc{version}"
        )
    import platform

    return platform.platform(terse=True)


def _command_md5(command: str) -> str | None:
    try:
        done = subprocess.run(shlex.split(command), capture_output=True, timeout=120)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        warn(f"env_command {command!r} could not run ({exc}); no environment fingerprint")
        return None
    if done.returncode != 0:
        warn(f"env_command {command!r} exited with {done.returncode}; no environment fingerprint")
        return None
    return hashlib.md5(done.stdout, usedforsecurity=False).hexdigest()
