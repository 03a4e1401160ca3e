"""`nt rerun`: make a file again by re-running the recorded steps that lead to it.

Commands come from records, and records may have arrived from someone else's clone. So the
plan (every command, with the directory it runs in) is always shown first, and nothing runs
without consent: an answer at the terminal, or `--yes`. Each step runs as an ordinary
`nt track` at the current commit, so the new runs are recorded like any other.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterator
from contextlib import chdir
from dataclasses import dataclass
from pathlib import Path

from ntrk.commands import status as status_mod
from ntrk.commands.trace import trace
from ntrk.errors import NtrkError
from ntrk.record import Record
from ntrk.repo import Repo


@dataclass(frozen=True)
class PlannedStep:
    """One recorded run to execute again, and why."""

    record: Record
    output: str | None
    reason: str


@dataclass(frozen=True)
class Verdict:
    """How a re-made output compares with the recorded one."""

    path: str
    reproduced: bool
    recorded_md5: str
    new_md5: str | None


def plan(repo: Repo, target: Path, everything: bool = False) -> list[PlannedStep]:
    """The steps to run, roots first: those not `ok` (and all of them with `everything`)."""
    steps = trace(repo, target).steps
    outputs = [step.output for step in steps if step.output]
    states = {s.path: s for s in status_mod.status(repo, outputs)}
    planned = []
    for step in steps:
        state = states.get(step.output or "")
        if state is None or state.state == "ok":
            if everything:
                planned.append(PlannedStep(step.record, step.output, "--all"))
            continue
        reason = state.state + (f": {'; '.join(state.reasons)}" if state.reasons else "")
        planned.append(PlannedStep(step.record, step.output, reason))
    return planned


def execute(
    repo: Repo,
    planned: list[PlannedStep],
    run_step: Callable[[Record], tuple[int, Record | None]],
) -> list[Verdict]:
    """Run each step (as `run_step` does) in its recorded directory; stop at the first failure."""
    verdicts: list[Verdict] = []
    for step in planned:
        directory = (repo.root / step.record.cwd).resolve()
        if not directory.is_relative_to(repo.root) or not os.path.isdir(directory):
            raise NtrkError(
                f"step {step.record.id[:8]} ran in {step.record.cwd}, which is not here",
                "restore that directory, then run nt rerun again",
            )
        with chdir(directory):
            code, new = run_step(step.record)
        if code != 0 or new is None:
            raise NtrkError(
                f"step {step.record.id[:8]} ({shlex.join(step.record.command)}) failed "
                f"with status {code}",
                "fix it and run nt rerun again; the steps before it are recorded",
                exit_code=code or 1,
            )
        verdicts.extend(_compare(step.record, new))
    return verdicts


def _compare(old: Record, new: Record) -> Iterator[Verdict]:
    made = {entry.path: entry.md5 for entry in new.outputs}
    for entry in old.outputs:
        now = made.get(entry.path)
        yield Verdict(entry.path, now == entry.md5, entry.md5, now)
