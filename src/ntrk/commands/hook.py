"""What ntrk's git hooks do when git runs them. A hook never stops git over ntrk itself.

Under the pre-commit framework (its hook `ntrk-stage-log`, from `.pre-commit-hooks.yaml`),
one thing is different. The framework stashes every unstaged change while hooks run
(`git diff-index --binary` into a patch file, then `git checkout -- .`) and fails a hook that
changes what `git diff` shows. So there the hook stages only lineage files that are new to git
(staging those changes nothing `git diff` shows), and when the log or a sidecar that the commit
should carry has unstaged changes, whether the framework set them aside or not, the hook fails
and says which `git add` to run: a hook that passed would leave the log out of the commit.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from ntrk.console import warn
from ntrk.errors import InvalidRecord
from ntrk.gitcli import LITERAL_PATHSPECS, GitResult, entries, run
from ntrk.layout import LOG_FILES, LOG_RELPATH, STORE_DIR, is_ntrk_file, sidecar_relpath
from ntrk.repo import Repo, self_and_parents
from ntrk.store import sidecar


@dataclass
class PreCommit:
    """What the pre-commit hook staged, and what it had to leave out of the commit."""

    staged: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # only under the pre-commit framework


def pre_commit(repo: Repo) -> PreCommit:
    """Stage the log, its attributes, and the sidecars of staged outputs.

    `git add` runs in git's own index for this commit (GIT_INDEX_FILE is set by git, so a
    `git commit -- paths` stages into its temporary index), and from the work tree's root.
    """
    if log_is_ignored(repo):
        warn(
            f"{LOG_RELPATH} is ignored by git, so the hook did not stage it "
            f"(remove {STORE_DIR}/ from your ignore rules to keep lineage with the code)"
        )
        return PreCommit()
    paths = [path for path in LOG_FILES if (repo.root / path).is_file()]
    paths += _sidecars_of(repo, _staged(repo))
    outcome = PreCommit(staged=paths)
    if under_pre_commit_framework():
        changed = set(_unstaged_changes(repo, paths)) | set(_set_aside(repo, paths))
        outcome = PreCommit([p for p in paths if p not in changed], sorted(changed))
    if outcome.staged:
        done = run(repo.root, "add", "--", *outcome.staged)
        if done.returncode != 0:
            warn(f"could not stage the lineage log: {done.message}")
            outcome.staged = []
    return outcome


def log_is_ignored(repo: Repo) -> bool:
    """Whether git ignores the log, so that no commit would carry it (a tracked log is never
    ignored: it stages fine whatever the ignore rules)."""
    try:
        if LOG_RELPATH in repo.git.index:
            return False
        return bool(repo.git.path_is_ignored(LOG_RELPATH))
    except (pygit2.GitError, OSError):
        return run(repo.root, "check-ignore", "-q", LOG_RELPATH).returncode == 0


def under_pre_commit_framework() -> bool:
    """Whether the pre-commit framework runs this hook (it sets PRE_COMMIT=1 for its hooks)."""
    return os.environ.get("PRE_COMMIT") == "1"


def _unstaged_changes(repo: Repo, paths: list[str]) -> list[str]:
    """Those of `paths` whose work-tree bytes differ from the index's (tracked files only)."""
    if not paths:
        return []
    done = run(repo.root, "diff", "--name-only", "-z", "--no-ext-diff", "--", *paths)
    return [path for path in done.stdout.split("\0") if path]


def _set_aside(repo: Repo, paths: list[str]) -> list[str]:
    """Those of `paths` (and the log files) whose changes the framework stashed for this run.

    The framework writes the stash as `patch<time>-<its pid>` in its store directory
    (pre_commit/staged_files_only.py, store.py), and this hook is its child. A patch counts
    only while it still applies to the work tree, that is while the changes are set aside.
    """
    patch = _framework_patch()
    if patch is None:
        return []
    listed = run(repo.root, "apply", "--numstat", "-z", "--", str(patch)).stdout
    touched = {entry.split("\t", 2)[-1] for entry in listed.split("\0") if "\t" in entry}
    wanted = sorted(touched & (set(paths) | set(LOG_FILES)))
    if not wanted:
        return []
    includes = [f"--include={_literal_pattern(path)}" for path in wanted]
    check = run(repo.root, "apply", "--check", *includes, "--", str(patch))
    return wanted if check.returncode == 0 else []


def _literal_pattern(path: str) -> str:
    """`path` as a git wildmatch pattern that matches only itself."""
    return re.sub(r"([*?\[\\])", r"\\\1", path)


def _framework_patch() -> Path | None:
    """The stash patch of the pre-commit process that runs this hook, if it made one."""
    home = os.environ.get("PRE_COMMIT_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pre-commit"
    )
    try:
        candidates = sorted(Path(home).glob(f"patch*-{os.getppid()}"), key=os.path.getmtime)
    except OSError:
        return None
    return candidates[-1] if candidates else None


def post_commit(repo: Repo) -> list[str]:
    """Bring the real index up to date with the lineage files the commit just carried.

    `git commit -- PATHS` commits from a temporary index: what pre-commit staged there is in
    the commit but not in the real index, which then reads as a staged revert. A file whose
    work-tree bytes equal the commit's, but whose index entry differs, is re-added.
    """
    changed = run(repo.root, "diff-tree", "--no-commit-id", "--name-only", "-r", "-z", "HEAD")
    ours = [path for path in changed.stdout.split("\0") if path and is_ntrk_file(path)]
    stale: list[str] = []
    # A few git processes per batch of files, not per file: a commit may carry thousands of
    # sidecars, and this runs after every commit.
    for start in range(0, len(ours), _BATCH):
        batch = ours[start : start + _BATCH]
        committed = _object_ids(
            run(repo.root, LITERAL_PATHSPECS, "ls-tree", "-r", "-z", "HEAD", "--", *batch), 2
        )
        indexed = _object_ids(
            run(repo.root, LITERAL_PATHSPECS, "ls-files", "-s", "-z", "--", *batch), 1
        )
        on_disk = [path for path in batch if path in committed and os.path.isfile(repo.root / path)]
        if not on_disk:
            continue
        hashed = run(repo.root, "hash-object", "--", *on_disk).stdout.split()
        stale += [
            path
            for path, blob in zip(on_disk, hashed, strict=False)
            if blob == committed[path] and indexed.get(path) != blob
        ]
    if stale:
        run(repo.root, LITERAL_PATHSPECS, "add", "--", *stale)
    return stale


_BATCH = 500


def _object_ids(listing: GitResult, column: int) -> dict[str, str]:
    """Path -> object id from `git ls-tree -z` (column 2) or `git ls-files -s -z` (column 1)."""
    return {
        path: fields[column] for fields, path in entries(listing.stdout) if len(fields) > column
    }


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
            if _sidecar_for(repo.root, output) == output:
                found.add(sidecar_relpath(output))
    return sorted(found)


def _sidecar_for(root: Path, output: str) -> str | None:
    try:
        found = sidecar.read(root, output)
    except InvalidRecord:  # also a name longer than the system allows
        return None
    return found.sidecar_for if found else None
