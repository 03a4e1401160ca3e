"""`nt install-hooks`: put ntrk's git hooks where git runs them, keeping any hook found there.

- The hooks directory is the one git really uses (`git rev-parse --git-path hooks`): it
  honours `core.hooksPath` (relative or `~`) and linked worktrees' common directory.
- Installed scripts carry a marker line, so ntrk recognises its own and never mistakes a
  user's hook for one. A foreign hook is renamed `NAME.before-ntrk` and chained: it runs first,
  and its failure still stops the commit (as pre-commit keeps `pre-commit.legacy`).
- Installing twice equals installing once; `--uninstall` removes ntrk's scripts and renames
  the kept hooks back, byte for byte, mode included.
- The script calls the interpreter that installed it (falling back to `nt` on PATH), so a
  hook keeps working from a virtual environment that is not activated.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ntrk.errors import NtrkError
from ntrk.gitcli import GitError, git
from ntrk.layout import KEPT_HOOK_SUFFIX
from ntrk.repo import Repo
from ntrk.safeio import write_atomic

MARKER = b"ntrk-managed-hook"
PYTHON_PLACEHOLDER = "@NTRK_PYTHON@"
DEFAULT_HOOKS = ("pre-commit", "post-commit")
PUSH_HOOKS = ("pre-push",)


@dataclass(frozen=True)
class HookChange:
    """What install or uninstall did to one hook."""

    name: str
    path: Path
    action: str  # "installed", "updated", "chained", "removed", "restored", "left"


def scripts_dir() -> Path:
    """The shipped hook scripts: inside the installed package, or the checkout's `hooks/`."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / "hooks"
    checkout = package.parents[1] / "hooks"  # an editable install: src/ntrk/../../hooks
    for candidate in (packaged, checkout):
        if (candidate / "pre-commit").is_file():
            return candidate
    raise NtrkError(
        "ntrk's hook scripts are missing from this installation",
        "reinstall ntrk (pip install --force-reinstall ntrk)",
    )


def hooks_dir(repo: Repo) -> Path:
    """The directory git runs hooks from in this repository."""
    try:
        relative = git(repo.root, "rev-parse", "--git-path", "hooks").strip()
    except GitError as exc:
        raise NtrkError(f"git rev-parse failed: {exc.message}", "check the repository") from exc
    return (repo.root / relative).resolve()


def is_ours(path: Path) -> bool:
    """Whether the file at `path` is a hook ntrk installed."""
    try:
        with path.open("rb") as stream:
            return MARKER in stream.read(512)
    except OSError:
        return False


def installed(repo: Repo) -> bool:
    """Whether ntrk's pre-commit hook is in place."""
    return is_ours(hooks_dir(repo) / "pre-commit")


def render(name: str, python: str = sys.executable) -> str:
    """The script for hook `name`, calling `python` (quoted for the shell's '...')."""
    script = (scripts_dir() / name).read_text(encoding="utf-8")
    return script.replace(PYTHON_PLACEHOLDER, python.replace("'", "'\\''"))


def install(repo: Repo, names: tuple[str, ...] = DEFAULT_HOOKS) -> list[HookChange]:
    """Install the named hooks, chaining any foreign hook already there."""
    directory = hooks_dir(repo)
    directory.mkdir(parents=True, exist_ok=True)
    plans = [_plan_install(directory, name) for name in names]  # check all before changing any
    changes = []
    for name, action in plans:
        target, kept = directory / name, directory / f"{name}{KEPT_HOOK_SUFFIX}"
        if action == "chained":
            os.rename(target, kept)
        write_atomic(target, render(name).encode("utf-8"), mode=0o755)
        changes.append(HookChange(name, _shown(repo, target), action))
    return changes


def uninstall(repo: Repo) -> list[HookChange]:
    """Remove ntrk's hooks and put back what they replaced."""
    directory = hooks_dir(repo)
    changes = []
    for name in DEFAULT_HOOKS + PUSH_HOOKS:
        target, kept = directory / name, directory / f"{name}{KEPT_HOOK_SUFFIX}"
        if not target.exists() and not target.is_symlink():
            continue
        if not is_ours(target):
            changes.append(HookChange(name, _shown(repo, target), "left"))
            continue
        target.unlink()
        if kept.exists() or kept.is_symlink():
            os.rename(kept, target)
            changes.append(HookChange(name, _shown(repo, target), "restored"))
        else:
            changes.append(HookChange(name, _shown(repo, target), "removed"))
    return changes


def _plan_install(directory: Path, name: str) -> tuple[str, str]:
    target, kept = directory / name, directory / f"{name}{KEPT_HOOK_SUFFIX}"
    if not target.exists() and not target.is_symlink():
        return name, "installed"
    if is_ours(target):
        return name, "updated"
    if kept.exists() or kept.is_symlink():
        raise NtrkError(
            f"{target} is not ntrk's, and {kept.name} (a hook ntrk kept earlier) is there too",
            "merge them into one hook by hand or move one aside, then rerun nt install-hooks",
        )
    return name, "chained"


def _shown(repo: Repo, path: Path) -> Path:
    try:
        return path.relative_to(repo.root)
    except ValueError:
        return path
