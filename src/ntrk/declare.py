"""Files declared to `nt track` itself: `nt track -i PATH -o PATH -- COMMAND…`.

A command whose files are positional (`python train.py data/features model.pkl`) or implicit
(the `params.yaml` every step reads) names nothing that ntrk can classify, so its inputs and
outputs can be declared, before the `--` that starts the command. A declaration is a promise
the record keeps: a declared input must exist before the run (or nothing runs), a declared
output after it (or nothing is recorded), both inside the work tree, as files or directories.

Each `-i`/`-o` takes one PATH. A PATH holding `*`, `?` or `[` is a glob pattern, expanded by
ntrk relative to the current directory (`**` spans directories; names starting with `.` match
only an explicit `.`), unless a file of exactly that name exists, which is then taken as it
is: quote a pattern so that ntrk, not the shell, expands it. A pattern must match something.
Output patterns are expanded after the run. The record keeps the declarations, relative to the
repository root, in `declared`, so `nt rerun` can declare them again.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ntrk.errors import NtrkError
from ntrk.layout import is_ntrk_file

if TYPE_CHECKING:
    from ntrk.record import Record
    from ntrk.repo import Repo

_MAGIC = re.compile(r"[*?[]")


@dataclass(frozen=True)
class Declared:
    """Declared inputs and outputs, as given, relative to `base` (None: the current directory)."""

    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    base: Path | None = None

    def __bool__(self) -> bool:
        return bool(self.inputs or self.outputs)


NOTHING = Declared()


def inputs_before_run(repo: Repo, declared: Declared) -> list[str]:
    """The declared inputs as paths to hash; any missing, or outside the work tree, is an error.

    The outputs' places are checked here too, so that a run is never wasted on a declaration
    that could not be recorded.
    """
    for pattern in declared.outputs:
        place = repo.relpath(_base(declared) / _static_part(pattern))
        if place is None or (place == "." and not _MAGIC.search(pattern)):
            raise NtrkError(
                f"declared output {pattern} is not inside the repository",
                "ntrk records files and directories inside the work tree; fix the -o path; "
                "nothing was run",
            )
    paths: list[str] = []
    for pattern in declared.inputs:
        found = _expand(repo, declared, pattern)
        if not found:
            raise NtrkError(
                f"declared input {pattern} {_missing(pattern)}",
                "check the -i path (relative to the current directory); nothing was run",
            )
        for path in found:
            _require_inside(repo, path, pattern, "input", "nothing was run")
        paths.extend(path for path in found if path not in paths)
    return paths


def outputs_after_run(repo: Repo, declared: Declared) -> list[str]:
    """The declared outputs as paths to hash; one the run did not produce is an error."""
    paths: list[str] = []
    for pattern in declared.outputs:
        found = _expand(repo, declared, pattern)
        if not found:
            raise NtrkError(
                f"declared output {pattern} was not produced ({_missing(pattern)})",
                "the command succeeded without writing it: fix the command or the -o path; "
                "nothing was recorded",
            )
        for path in found:
            _require_inside(repo, path, pattern, "output", "nothing was recorded")
        paths.extend(path for path in found if path not in paths)
    return paths


def outputs_before_run(repo: Repo, declared: Declared) -> tuple[list[str], list[str]]:
    """What the declared outputs name before the run: the paths that exist already (so that
    one the run leaves untouched is told apart), and the places the run will write under, as
    repository paths (so that sibling runs in flight ignore them)."""
    existing: list[str] = []
    places: list[str] = []
    for pattern in declared.outputs:
        existing.extend(path for path in _expand(repo, declared, pattern) if path not in existing)
        place = repo.relpath(_base(declared) / _static_part(pattern))
        if place is not None and place != ".":
            places.append(place)
    return existing, places


def for_record(repo: Repo, declared: Declared) -> tuple[list[str], list[str]]:
    """The declarations as the record keeps them: repository-relative paths or patterns."""
    return (
        [_relative(repo, declared, pattern) for pattern in declared.inputs],
        [_relative(repo, declared, pattern) for pattern in declared.outputs],
    )


def from_record(repo: Repo, rec: Record) -> Declared:
    """What the run of `rec` declared, to declare again (`nt rerun`)."""
    return Declared(rec.declared_inputs, rec.declared_outputs, base=repo.root)


def options(rec: Record) -> list[str]:
    """The `nt track` options, before `--`, that repeat how `rec` was recorded."""
    words: list[str] = []
    for path in rec.declared_inputs:
        words += ["-i", path]
    for path in rec.declared_outputs:
        words += ["-o", path]
    if rec.observed_by:
        words.append("--observe")
    return [*words, "--"] if words else []


def _base(declared: Declared) -> Path:
    return declared.base if declared.base is not None else Path.cwd()


def _expand(repo: Repo, declared: Declared, pattern: str) -> list[str]:
    """The existing paths `pattern` names: itself when it exists or is no pattern, else matches."""
    base = _base(declared)
    literal = base / pattern
    if os.path.lexists(literal) or not _MAGIC.search(pattern):
        return [str(literal)] if os.path.exists(literal) else []  # False for a too-long name
    import glob  # here: most runs declare no pattern

    matches = (
        glob.glob(pattern, recursive=True)
        if os.path.isabs(pattern)
        else [str(base / match) for match in glob.glob(pattern, root_dir=base, recursive=True)]
    )
    kept = []
    for match in sorted(matches):
        relpath = repo.relpath(Path(match))
        if relpath is not None and not is_ntrk_file(relpath) and ".git" not in relpath.split("/"):
            kept.append(match)
    return kept


def _require_inside(repo: Repo, path: str, pattern: str, role: str, consequence: str) -> None:
    if repo.relpath(Path(path)) in (None, "."):
        raise NtrkError(
            f"declared {role} {pattern} is not inside the repository",
            f"ntrk records files and directories inside the work tree; {consequence}",
        )
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise NtrkError(f"cannot read declared {role} {path}: {exc.strerror}", consequence) from exc
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise NtrkError(
            f"declared {role} {path} is not a regular file or directory",
            f"declare files or directories only; {consequence}",
        )


def _missing(pattern: str) -> str:
    return "matches nothing" if _MAGIC.search(pattern) else "does not exist"


def _static_part(pattern: str) -> str:
    """The directories of `pattern` before its first wildcard (all of it, if it has none)."""
    parts: list[str] = []
    for part in Path(pattern).parts:
        if _MAGIC.search(part):
            break
        parts.append(part)
    return os.path.join(*parts) if parts else "."


def _relative(repo: Repo, declared: Declared, pattern: str) -> str:
    relpath = repo.relpath(_base(declared) / pattern)
    if relpath is None or relpath == ".":
        raise NtrkError(
            f"declared path {pattern} is not inside the repository",
            "ntrk records files and directories inside the work tree",
        )
    return relpath
