"""`nt trust`: approve, for this clone, the programs a committed `ntrk.toml` names.

A repository's `ntrk.toml` arrives with every clone. A program it names (`record.env_command`)
is data until the user trusts that exact file content, as `direnv allow` works: the approval
is the file's sha256, kept in this work tree's git directory, and any edit to the file needs
a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ntrk import config
from ntrk.errors import NtrkError
from ntrk.layout import CONFIG_NAME
from ntrk.repo import Repo


@dataclass(frozen=True)
class Approval:
    """What `nt trust` approved: the file's sha256 and the programs it may now run."""

    digest: str
    programs: list[tuple[str, str]]  # (setting, command line)


def trust(repo: Repo) -> Approval:
    """Trust the repository's `ntrk.toml` as it is now."""
    settings = config.load(repo.root)
    if settings.digest is None:
        raise NtrkError(f"there is no {CONFIG_NAME} here to trust", "nothing needs trusting")
    programs = []
    if settings.untrusted_env_command:
        programs.append(("record.env_command", settings.untrusted_env_command))
    config.trust(repo.cache_dir, settings.digest)
    return Approval(settings.digest, programs)


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
