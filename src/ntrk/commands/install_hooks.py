"""`nt install-hooks`: put ntrk's git hooks where git runs them, keeping any hook found there.

- The hooks directory is the one git really uses (`git rev-parse --git-path hooks`): it
  honours `core.hooksPath` (relative or `~`) and linked worktrees' common directory.
- Installed scripts carry a marker line, so ntrk recognises its own and never mistakes a
  user's hook for one. A foreign hook is renamed `NAME.before-ntrk` and chained: it runs first,
  and its failure still stops the commit (as pre-commit keeps `pre-commit.legacy`).
- Installing twice equals installing once; `--uninstall` removes ntrk's scripts and renames
  the kept hooks back, byte for byte, mode included.
- The script calls the interpreter that installed it (falling back to `nt` on PATH, then to
  `python3 -m ntrk`), so a hook keeps working from a virtual environment that is not
  activated.
- A hooks folder inside the work tree that git does not ignore (`core.hooksPath=.githooks`,
  husky 4-8's `.husky`) is shared with everyone who clones the repository: ntrk installs there
  only with `--tracked`, and then writes scripts without this machine's interpreter path.
  husky 9's generated `.husky/_` is rewritten by husky and dispatches on file names, so ntrk
  never installs there; it says which line to add to the user's husky script instead.
- Other hook managers move ntrk's hooks aside: the pre-commit framework's migration mode
  renames an existing hook `NAME.legacy` (and still runs it first), lefthook renames it
  `NAME.old` (and runs it no more), husky points `core.hooksPath` elsewhere (and git stops
  running `.git/hooks`). Uninstall looks in all those places.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ntrk.errors import NtrkError
from ntrk.gitcli import GitError, git, run
from ntrk.layout import KEPT_HOOK_SUFFIX
from ntrk.repo import Repo
from ntrk.safeio import open_regular, write_atomic
from ntrk.store.notes import common_dir

MARKER = b"ntrk-managed-hook"
PYTHON_PLACEHOLDER = "@NTRK_PYTHON@"
DEFAULT_HOOKS = ("pre-commit", "post-commit")
PUSH_HOOKS = ("pre-push",)
ALL_HOOKS = DEFAULT_HOOKS + PUSH_HOOKS
# Where hook managers move a hook they found in their way, and whether they still run it.
MOVED_BY = {".legacy": "pre-commit", ".old": "lefthook"}
HUSKY_DIR = ".husky"
# A line of a user's husky script that runs ntrk's hook work.
_CALLS_NTRK = re.compile(rb"^[^#\n]*(?:\bnt|\bntrk|-m ntrk) hook\b", re.M)


@dataclass(frozen=True)
class HookChange:
    """What install or uninstall did to one hook (or found out about it)."""

    name: str
    path: Path
    # installed, updated, chained, removed, restored, left, orphaned, mentioned
    action: str
    # Why the path is not simply NAME in the hooks directory: "pre-commit" or "lefthook"
    # (a manager moved ntrk's hook there), or "dormant" (git does not run that directory).
    moved_by: str = ""
    hooks_path: str = ""  # core.hooksPath, for "dormant"


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
        f"reinstall ntrk in {sys.prefix} (pip install --force-reinstall, from where you "
        "installed it; see the README's Install)",
    )


def hooks_dir(repo: Repo) -> Path:
    """The directory git runs hooks from in this repository."""
    return _rev_parse(repo, "--git-path", "hooks")


def is_ours(path: Path) -> bool:
    """Whether the file at `path` is a hook ntrk installed."""
    try:
        with path.open("rb") as stream:
            return MARKER in stream.read(512)
    except OSError:
        return False


def installed(repo: Repo) -> bool:
    """Whether ntrk's pre-commit hook runs on a commit (also as the framework's `.legacy`).

    Asked on every `nt track`, so it reads git's configuration through pygit2 instead of
    running `git rev-parse --git-path hooks`: `core.hooksPath` (relative to the work tree, `~`
    expanded, as git does), else the common git directory's `hooks/`.
    """
    try:
        configured = repo.git.config["core.hooksPath"]
    except (KeyError, ValueError):
        configured = None
    if configured:
        directory = repo.root / os.path.expanduser(configured)
    else:
        directory = common_dir(repo.git) / "hooks"
    return is_ours(directory / "pre-commit") or is_ours(directory / "pre-commit.legacy")


def render(name: str, python: str = sys.executable) -> str:
    """The script for hook `name`, calling `python` (quoted for the shell's '...'); with an
    empty `python`, only `nt` on PATH or `python3 -m ntrk`, as in a shared hooks folder."""
    script = (scripts_dir() / name).read_text(encoding="utf-8")
    return script.replace(PYTHON_PLACEHOLDER, python.replace("'", "'\\''"))


def install(
    repo: Repo, names: tuple[str, ...] = DEFAULT_HOOKS, tracked: bool = False
) -> list[HookChange]:
    """Install the named hooks, chaining any foreign hook already there.

    A hooks folder that the repository shares needs `tracked`; one that husky generates is
    refused with what to do instead.
    """
    directory = hooks_dir(repo)
    shown = _shown(repo, directory)
    if _generated_by_husky(directory):
        raise NtrkError(
            f"core.hooksPath is husky's {shown}, which husky rewrites and which runs "
            f"{HUSKY_DIR}/NAME by file name",
            f"add the line `nt hook pre-commit` to {HUSKY_DIR}/pre-commit and "
            f"`nt hook post-commit` to {HUSKY_DIR}/post-commit instead (nt must be on PATH "
            "for everyone who commits)",
        )
    plans = [_plan_install(directory, name) for name in names]  # check all before changing any
    shared = _shared_folder(repo, directory)
    if shared and not tracked:
        raise NtrkError(
            f"core.hooksPath is {shown}, a folder inside the work tree that git does not "
            f"ignore, so it is shared with everyone who clones the repository: installing "
            f"would {_describe(plans)} there",
            "to do that, rerun with --tracked and commit the folder; to keep ntrk's hooks to "
            "this clone, point core.hooksPath outside the work tree or unset it",
        )
    if tracked and not shared:
        raise NtrkError(
            f"--tracked installs into a hooks folder that the repository shares, and {shown} "
            "is not one",
            "run nt install-hooks without --tracked",
        )
    _check_writable(repo, directory)
    changes = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, action in plans:
            target, kept = directory / name, directory / f"{name}{KEPT_HOOK_SUFFIX}"
            if action == "chained":
                os.rename(target, kept)
            script = render(name, "" if tracked else sys.executable)
            write_atomic(target, script.encode("utf-8"), mode=0o755)
            changes.append(HookChange(name, _shown(repo, target), action))
    except OSError as exc:
        raise _not_writable(repo, directory, exc) from exc
    return changes


def uninstall(repo: Repo) -> list[HookChange]:
    """Remove ntrk's hooks, wherever a hook manager moved them, and put back what they
    replaced; also say where a husky script still calls ntrk."""
    active = hooks_dir(repo)
    default = _rev_parse(repo, "--git-common-dir") / "hooks"  # without core.hooksPath
    directories = [active] + ([default] if default != active else [])
    changes: list[HookChange] = []
    for directory in directories:
        if not directory.is_dir():
            continue
        dormant = "" if directory == active else _hooks_path_setting(repo)
        try:
            for name in ALL_HOOKS:
                changes += _uninstall_one(repo, directory, name, dormant)
        except OSError as exc:
            raise _not_writable(repo, directory, exc) from exc
    changes += _husky_mentions(repo)
    return changes


def _uninstall_one(repo: Repo, directory: Path, name: str, dormant: str) -> Iterator[HookChange]:
    kept = directory / f"{name}{KEPT_HOOK_SUFFIX}"
    found_ours = False
    for suffix, manager in [("", ""), *MOVED_BY.items()]:
        path = directory / f"{name}{suffix}"
        if not is_ours(path):
            continue
        found_ours = True
        path.unlink()
        moved_by = manager or ("dormant" if dormant else "")
        if kept.exists() or kept.is_symlink():
            # The hook ntrk kept aside goes back where ntrk's was: the manager runs it there
            # (or, for lefthook's `.old`, puts it back on `lefthook uninstall`).
            os.rename(kept, path)
            yield HookChange(name, _shown(repo, path), "restored", moved_by, dormant)
        else:
            yield HookChange(name, _shown(repo, path), "removed", moved_by, dormant)
    target = directory / name
    if found_ours:
        return
    if kept.exists() or kept.is_symlink():
        # ntrk's hook was replaced (a manager's `install --force`, husky's rewrite): nothing
        # runs the hook ntrk kept aside any more.
        yield HookChange(name, _shown(repo, kept), "orphaned")
    elif (target.exists() or target.is_symlink()) and not dormant:
        yield HookChange(name, _shown(repo, target), "left")


def _husky_mentions(repo: Repo) -> Iterator[HookChange]:
    """husky scripts (the user's own, committed) that still run ntrk's hook work; read as
    regular files inside the work tree only, never through a link."""
    for name in ALL_HOOKS:
        script = repo.root / HUSKY_DIR / name
        try:
            with os.fdopen(open_regular(script, within=repo.root), "rb") as stream:
                head = stream.read(65536)
        except OSError:
            continue
        if _CALLS_NTRK.search(head):
            yield HookChange(name, _shown(repo, script), "mentioned", "husky")


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


def _describe(plans: list[tuple[str, str]]) -> str:
    """What installing would do, for the refusal that asks for --tracked."""
    written = " and ".join(name for name, _ in plans)
    kept = [f"{name} as {name}{KEPT_HOOK_SUFFIX}" for name, action in plans if action == "chained"]
    return f"write {written}" + (f" (keeping your {', '.join(kept)})" if kept else "")


def _shared_folder(repo: Repo, directory: Path) -> bool:
    """Whether `directory` lies in the work tree (not in the git directory) unignored: its
    files are, or will be with the next `git add -A`, everyone's."""
    try:
        relative = directory.relative_to(repo.root)
    except ValueError:
        return False
    for git_dir in {_rev_parse(repo, "--git-dir"), _rev_parse(repo, "--git-common-dir")}:
        if directory == git_dir or git_dir in directory.parents:
            return False
    listed = run(repo.root, "ls-files", "-z", "--", relative.as_posix()).stdout
    if listed.strip("\0"):
        return True
    probe = (relative / "pre-commit").as_posix()
    return run(repo.root, "check-ignore", "-q", "--no-index", "--", probe).returncode != 0


def _generated_by_husky(directory: Path) -> bool:
    """husky 9's `.husky/_`: its stubs call `h`, which runs `.husky/<own file name>`."""
    return directory.name == "_" and (directory / "h").is_file()


def _check_writable(repo: Repo, directory: Path) -> None:
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise _not_writable(repo, directory, PermissionError(13, os.strerror(13)))


def _not_writable(repo: Repo, directory: Path, exc: OSError) -> NtrkError:
    shown = _shown(repo, directory)
    why = exc.strerror or str(exc)
    if _hooks_path_setting(repo):
        return NtrkError(
            f"cannot change the hooks in {shown} (core.hooksPath): {why.lower()}",
            "ask whoever manages that folder to install ntrk's hooks there, or point this "
            "repository's core.hooksPath at a folder you can write",
        )
    return NtrkError(
        f"cannot change the hooks in {shown}: {why.lower()}",
        "make it writable for you (is this repository someone else's?), then rerun "
        "nt install-hooks",
    )


def _hooks_path_setting(repo: Repo) -> str:
    return run(repo.root, "config", "--get", "core.hooksPath").stdout.strip()


def _rev_parse(repo: Repo, *args: str) -> Path:
    """A path `git rev-parse ARGS` names (`--git-path hooks`, `--git-dir`), made absolute."""
    try:
        found = git(repo.root, "rev-parse", *args)
    except GitError as exc:
        raise NtrkError(f"git rev-parse failed: {exc.message}", "check the repository") from exc
    return (repo.root / found.strip()).resolve()


def _shown(repo: Repo, path: Path) -> Path:
    try:
        return path.relative_to(repo.root)
    except ValueError:
        return path
