"""Turning a lineage into text for people (0.1.0's format, byte for byte)."""

from __future__ import annotations

from ntrk.lineage import Step
from ntrk.trace import Lineage
from ntrk.worktree import WorkTree


def text_lines(lineage: Lineage) -> list[str]:
    """One line per step, roots first: `in1, in2 -> script @ abc1234 -> out [marker]`."""
    return [_step_line(step, lineage.worktree) for step in lineage.steps]


def _step_line(step: Step, worktree: WorkTree | None) -> str:
    rec = step.record
    if rec.inputs:
        sources = ", ".join(
            entry.path + _marker(worktree, entry.path, entry.md5) for entry in rec.inputs
        )
    else:
        sources = "(no tracked inputs)"
    script = rec.script.path if rec.script else "?"
    output = (step.output or "?") + _marker(worktree, step.output, rec.output_md5(step.output))
    return f"{sources} -> {script} @ {rec.commit[:7]} -> {output}"


def _marker(worktree: WorkTree | None, relpath: str | None, md5: str | None) -> str:
    return worktree.marker(relpath, md5) if worktree else ""
