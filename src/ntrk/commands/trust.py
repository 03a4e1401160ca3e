"""`nt trust`: approve, for this clone, what a repository's own configuration would run.

A repository's `ntrk.toml` arrives with every clone, and so can an `openlineage.yml` (which
the OpenLineage client reads from the directory a command runs in). What `ntrk.toml`'s
`[record]` table asks records to hold (the hostname, environment fingerprints, a program's
output) and the endpoint or transport `openlineage.yml` names are data until the user trusts
that exact file content, as `direnv allow` works: the approval is the file's sha256, kept in
this work tree's git directory, and any edit needs a new one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ntrk import config
from ntrk.errors import NtrkError
from ntrk.layout import CONFIG_NAME, OPENLINEAGE_CONFIG_NAME
from ntrk.repo import Repo
from ntrk.safeio import read_regular


@dataclass(frozen=True)
class Approval:
    """What `nt trust` approved: the file's sha256 and what it may now do."""

    digest: str
    settings: list[tuple[str, str]]  # (setting, value), as `nt trust` shows them


def trust(repo: Repo) -> Approval:
    """Trust the repository's `ntrk.toml`, and any `openlineage.yml` at its root or in the
    current directory, as they are now."""
    settings = config.load(repo.root)
    granted = list(settings.untrusted)
    approved = 0
    if settings.digest is not None:
        config.trust(repo.cache_dir, settings.digest)
        approved += 1
    for candidate in {repo.root / OPENLINEAGE_CONFIG_NAME, Path.cwd() / OPENLINEAGE_CONFIG_NAME}:
        if not candidate.is_relative_to(repo.root):
            continue
        content = read_regular(candidate, config.MAX_CONFIG_BYTES)
        if content is not None:
            config.trust(repo.cache_dir, hashlib.sha256(content).hexdigest())
            shown = candidate.relative_to(repo.root)
            granted.append((str(shown), "where OpenLineage run events are sent"))
            approved += 1
    if not approved:
        raise NtrkError(
            f"there is no {CONFIG_NAME} or {OPENLINEAGE_CONFIG_NAME} here to trust",
            "nothing needs trusting",
        )
    return Approval(settings.digest or "", granted)


def revoke(repo: Repo) -> bool:
    """Withdraw every approval in this clone; whether there was one."""
    return config.revoke(repo.cache_dir)


def settings(repo: Repo) -> config.Config:
    """The repository's settings as they apply here: `ntrk.toml`, the approvals of
    `nt trust`, and the user's own `git config ntrk.envCommand`."""
    try:
        user_command = repo.git.config["ntrk.envCommand"]
    except (KeyError, ValueError):
        user_command = None
    return config.load(repo.root, repo.cache_dir, user_command)
