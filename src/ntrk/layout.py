"""Every name ntrk uses on disk and in git, in one place.

In the work tree: `.ntrk/` (the run log `runs.jsonl`, its `.gitattributes` and `.gitignore`),
`ntrk.toml`, and a sidecar `.NAME.ntrk` beside each output. In git: the notes ref
`refs/notes/ntrk` and the fetched copies `refs/notes/remotes/<remote>/ntrk`. A leaf module:
it imports nothing of ntrk's.
"""

from __future__ import annotations

import re
from pathlib import Path

STORE_DIR = ".ntrk"
LOG_NAME = "runs.jsonl"
LOG_RELPATH = f"{STORE_DIR}/{LOG_NAME}"
GITATTRIBUTES_RELPATH = f"{STORE_DIR}/.gitattributes"
GITIGNORE_RELPATH = f"{STORE_DIR}/.gitignore"
# What `.ntrk/` holds, as ntrk writes it; the pre-commit hook stages exactly these.
STORE_FILES = {
    GITATTRIBUTES_RELPATH: f"{LOG_NAME} merge=union\n",
    GITIGNORE_RELPATH: (
        "# Derived files that ntrk rebuilds at will; never commit them.\n*.sqlite*\n"
    ),
}
LOG_FILES = (LOG_RELPATH, *STORE_FILES)

CONFIG_NAME = "ntrk.toml"
# The OpenLineage client's own configuration file, which it reads from the current directory.
OPENLINEAGE_CONFIG_NAME = "openlineage.yml"

# This clone's own state lives in the (per-worktree) git directory, never in the work tree:
# nothing there is committed, and nothing a clone brings in can pose as it.
CACHE_DIR_NAME = "ntrk"
INDEX_NAME = "index.sqlite"
STAT_CACHE_NAME = "stat-cache.sqlite"
TRUST_FILE = "trusted-config"
CLOCK_NAME = "clock"  # the newest time of any indexed record, for `nt track` (see `lineage`)

# A hook that was in place before `nt install-hooks` is kept beside ntrk's as NAME + this.
KEPT_HOOK_SUFFIX = ".before-ntrk"

NOTES_REF = "refs/notes/ntrk"
NOTES_LOCK_NAME = "ntrk-notes.lock"
_REMOTE_NOTES_REF = re.compile(r"refs/notes/remotes/[^/]+/ntrk\Z")

# A sidecar, or the temporary name it has while being written (`.NAME.ntrk.<hex>.tmp`,
# see `safeio`; ntrk 0.2.0 used the writer's pid as <hex>).
_SIDECAR_NAME = re.compile(r"\..+\.ntrk(?:\.[0-9a-f]+\.tmp)?\Z", re.S)


def cache_dir(git_dir: Path) -> Path:
    """Where this work tree's caches and state live, inside its git directory."""
    return git_dir / CACHE_DIR_NAME


def store_dir(root: Path) -> Path:
    """The `.ntrk/` directory of the work tree at `root`."""
    return root / STORE_DIR


def log_path(root: Path) -> Path:
    """The run log of the work tree at `root`."""
    return root / LOG_RELPATH


def sidecar_path(output: Path) -> Path:
    """The sidecar of `output` (a file or directory)."""
    return output.with_name(f".{output.name}.ntrk")


def sidecar_relpath(output_relpath: str) -> str:
    """The repository-relative path of the sidecar of a repository-relative output."""
    head, _, name = output_relpath.rpartition("/")
    return f"{head}/.{name}.ntrk" if head else f".{name}.ntrk"


def is_sidecar_name(name: str) -> bool:
    """A sidecar's file name, or the temporary name it has while being written."""
    return _SIDECAR_NAME.match(name) is not None


def is_ntrk_file(relpath: str) -> bool:
    """ntrk's own files: `.ntrk/` and dot-prefixed `.NAME.ntrk` sidecars (not `model.ntrk`)."""
    return (
        relpath == STORE_DIR
        or relpath.startswith(STORE_DIR + "/")
        or is_sidecar_name(relpath.rsplit("/", 1)[-1])
    )


def tracking_ref(remote: str) -> str:
    """Where the fetched copy of a remote's notes is kept."""
    return f"refs/notes/remotes/{remote}/ntrk"


def is_tracking_ref(name: str) -> bool:
    """Whether `name` is a fetched copy of some remote's notes."""
    return _REMOTE_NOTES_REF.match(name) is not None
