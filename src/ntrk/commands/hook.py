"""What ntrk's git hooks do when git runs them. A hook never stops git over ntrk itself."""

from __future__ import annotations

from pathlib import Path

from ntrk.console import warn
from ntrk.errors import InvalidRecord
from ntrk.gitcli import run
from ntrk.layout import LOG_FILES, LOG_RELPATH, STORE_DIR, is_ntrk_file, sidecar_path
from ntrk.repo import Repo, self_and_parents
from ntrk.store import sidecar


def pre_commit(repo: Repo) -> list[str]:
    """Stage the log, its attributes, and the sidecars of staged outputs; return what was added.

    `git add` runs in git's own index for this commit (GIT_INDEX_FILE is set by git, so a
    `git commit -- paths` stages into its temporary index), and from the work tree's root.
    """
    # Without --no-index: a log that is already tracked stages fine whatever the ignore rules.
    if run(repo.root, "check-ignore", "-q", LOG_RELPATH).returncode == 0:
        warn(
            f"{LOG_RELPATH} is ignored by git, so the hook did not stage it "
            f"(remove {STORE_DIR}/ from your ignore rules to keep lineage with the code)"
        )
        return []
    paths = [path for path in LOG_FILES if (repo.root / path).is_file()]
    paths += _sidecars_of(repo, _staged(repo))
    if paths:
        done = run(repo.root, "add", "--", *paths)
        if done.returncode != 0:
            warn(f"could not stage the lineage log: {done.message}")
            return []
    return paths


def post_commit(repo: Repo) -> list[str]:
    """Bring the real index up to date with the lineage files the commit just carried.

    `git commit -- PATHS` commits from a temporary index: what pre-commit staged there is in
    the commit but not in the real index, which then reads as a staged revert. A file whose
    work-tree bytes equal the commit's, but whose index entry differs, is re-added.
    """
    changed = run(repo.root, "diff-tree", "--no-commit-id", "--name-only", "-r", "-z", "HEAD")
    ours = [path for path in changed.stdout.split("\0") if path and is_ntrk_file(path)]
    stale = []
    for path in ours:
        committed = run(repo.root, "rev-parse", "--verify", "-q", f"HEAD:{path}").stdout.strip()
        on_disk = run(repo.root, "hash-object", "--", path).stdout.strip()
        indexed = run(repo.root, "ls-files", "-s", "--", path).stdout.split()
        if committed and on_disk == committed and indexed[1:2] != [committed]:
            stale.append(path)
    if stale:
        run(repo.root, "add", "--", *stale)
    return stale


def _staged(repo: Repo) -> list[str]:
    done = run(
        repo.root, "diff", "--cached", "--name-only", "-z", "--no-renames", "--diff-filter=AM"
    )
    return [path for path in done.stdout.split("\0") if path]


def _sidecars_of(repo: Repo, staged: list[str]) -> list[str]:
    """Sidecars of staged files, or of the recorded directories that hold them."""
    found: set[str] = set()
    for path in staged:
        for output in self_and_parents(path):
            side = sidecar_path(repo.root / output)
            if side.is_file() and _sidecar_for(repo.root / output) == output:
                found.add(side.relative_to(repo.root).as_posix())
    return sorted(found)


def _sidecar_for(output: Path) -> str | None:
    try:
        found = sidecar.read(output)
    except InvalidRecord:
        return None
    return found.sidecar_for if found else None
