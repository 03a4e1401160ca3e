"""Whether the OpenLineage client is configured for this process, and with what.

A leaf of `export`: `openlineage` (building events) and `delivery` (sending them) both ask,
so neither has to import the other to know. Deciding costs a few environment lookups and stat
calls, so an `nt track` without OpenLineage imports nothing more.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from ntrk.config import MAX_CONFIG_BYTES, trusted_digests
from ntrk.layout import OPENLINEAGE_CONFIG_NAME
from ntrk.repo import Repo
from ntrk.safeio import read_regular

CONFIG_FILE = OPENLINEAGE_CONFIG_NAME
EXTRA_HINT = "pip install 'ntrk[openlineage]'"


def configured(repo: Repo | None = None) -> str | None:
    """Where OpenLineage is configured for this process (for messages), or None.

    The client's own settings, as every OpenLineage integration reads them: `OPENLINEAGE_URL`,
    `OPENLINEAGE__…` variables, an `openlineage.yml` named by `OPENLINEAGE_CONFIG`, in the
    current directory or in `~/.openlineage/`; `OPENLINEAGE_DISABLED=true` turns it off.
    An `openlineage.yml` that came with the repository (see `untrusted_config`) does not
    count until it is trusted. A few environment lookups and stat calls: with none of these,
    `nt track` imports nothing more and starts no thread.
    """
    env = os.environ
    if env.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return None
    if env.get("OPENLINEAGE_URL"):
        return "OPENLINEAGE_URL"
    if any(key.startswith("OPENLINEAGE__") for key in env):
        return "OPENLINEAGE__* variables"
    named = env.get("OPENLINEAGE_CONFIG")
    if named and os.path.isfile(named):
        return "OPENLINEAGE_CONFIG"
    ignored = untrusted_config(repo)
    for candidate in (Path.cwd() / CONFIG_FILE, Path.home() / ".openlineage" / CONFIG_FILE):
        with contextlib.suppress(OSError):
            if candidate.is_file() and candidate != ignored:
                return str(candidate)
    return None


def untrusted_config(repo: Repo | None) -> Path | None:
    """The `openlineage.yml` in the current directory when it lies in the work tree and the
    user has not trusted its content (`nt trust`).

    The client reads that file from wherever a command runs, so a cloned repository could
    otherwise send every run's command line and paths to an endpoint of its choosing, or name
    a transport class to import: like a program named by `ntrk.toml`, it is data until trusted.
    """
    candidate = Path.cwd() / CONFIG_FILE
    if repo is None or not candidate.is_relative_to(repo.root):
        return None
    try:
        content = read_regular(candidate, MAX_CONFIG_BYTES)
    except OSError:
        return candidate  # a link or a special file: never handed to the client
    if content is None:
        return None
    if hashlib.sha256(content).hexdigest() in trusted_digests(repo.cache_dir):
        return None
    return candidate
