"""Text for people: what every command prints, from the data the command returned.

Commands return data and never print; the CLI passes that data here. `nt trace`'s text
format is 0.1.0's, byte for byte; its other formats are in `graph`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ntrk.layout import KEPT_HOOK_SUFFIX, LOG_RELPATH, NOTES_REF, STORE_DIR

if TYPE_CHECKING:
    from ntrk.commands.install_hooks import HookChange
    from ntrk.commands.rerun import PlannedStep, Verdict
    from ntrk.commands.status import OutputStatus
    from ntrk.commands.sync import SyncReport
    from ntrk.lineage import Lineage, Step
    from ntrk.record import Record

TRACE_FORMATS = ("text", "json", "dot", "mermaid")


def trace(lineage: Lineage, fmt: str) -> str:
    """The lineage in one of TRACE_FORMATS, ending in a newline."""
    from ntrk import graph

    renderers: dict[str, Callable[[Lineage], str]] = {
        "text": trace_text,
        "json": graph.to_json,
        "dot": graph.to_dot,
        "mermaid": graph.to_mermaid,
    }
    return renderers[fmt](lineage)


def trace_text(lineage: Lineage) -> str:
    """One line per step, roots first: `in1, in2 -> script @ abc1234 -> out [marker]`."""
    return "".join(_step_line(step, lineage) + "\n" for step in lineage.steps)


def _step_line(step: Step, lineage: Lineage) -> str:
    rec = step.record
    if rec.inputs:
        sources = ", ".join(
            entry.path + _marker(lineage.state(entry.path, entry.md5)) for entry in rec.inputs
        )
    else:
        sources = "(no tracked inputs)"
    script = rec.script.path if rec.script else "?"
    state = lineage.state(step.output, rec.output_md5(step.output))
    return f"{sources} -> {script} @ {rec.commit[:7]} -> {step.output or '?'}{_marker(state)}"


def _marker(state: str | None) -> str:
    return f" [{state}]" if state else ""


def recorded(rec: Record, hooks_installed: bool) -> str:
    """What `nt track` says after recording: the run's id, and how the record is kept."""
    if hooks_installed:
        # git stops before the pre-commit hook when nothing is staged: say how to commit the
        # log alone.
        keep = (
            "your next git commit carries the log (pre-commit hook); "
            f"to commit it alone: git add {STORE_DIR} && git commit"
        )
    else:
        keep = f"commit {LOG_RELPATH} to keep it (git add {STORE_DIR} && git commit)."
    return f"recorded {rec.id[:8]} ({len(rec.outputs)} output(s)); {keep}"


def status_lines(statuses: Sequence[OutputStatus]) -> list[str]:
    """One line per output, grouped by state: `stale     out.csv  (input raw.csv changed)`."""
    lines = []
    for entry in statuses:
        why = f"  ({'; '.join(entry.reasons)})" if entry.reasons and entry.state != "ok" else ""
        lines.append(f"{entry.state:<9} {entry.path}{why}")
    return lines


def log_line(rec: Record) -> str:
    """`1c324cea 2026-11-25 14:05 7d49882 0.02s python step.py ... -> clean.csv`."""
    when = rec.ts[:16].replace("T", " ")
    duration = rec.data.get("duration")
    took = f"{duration:.2f}s" if isinstance(duration, int | float) else "-"
    outputs = ", ".join(entry.path for entry in rec.outputs)
    return f"{rec.id[:8]} {when} {rec.commit[:7]} {took:>7} {shlex.join(rec.command)} -> {outputs}"


def rerun_plan(target: str, planned: Sequence[PlannedStep]) -> list[str]:
    """The plan `nt rerun` shows before it runs anything (with the nt track options it repeats)."""
    from ntrk.declare import options

    lines = [f"plan: {len(planned)} step(s) to make {target} again"]
    for number, step in enumerate(planned, start=1):
        command = shlex.join([*options(step.record), *step.record.command])
        lines.append(f"  {number}. (in {step.record.cwd}) {command}  [{step.reason}]")
    return lines


def verdict_line(verdict: Verdict) -> str:
    """`reproduced out.csv`, or `differs    out.csv  (recorded 0084467a, now 971b2dc2)`."""
    if verdict.reproduced:
        return f"{'reproduced':<10} {verdict.path}"
    now = (verdict.new_md5 or "missing")[:8]
    return f"{'differs':<10} {verdict.path}  (recorded {verdict.recorded_md5[:8]}, now {now})"


def sync_summary(report: SyncReport, dry_run: bool) -> str:
    """What `nt sync` did, or with --dry-run would do, in one line."""
    if dry_run:
        remote = "has notes" if report.remote_has_notes else "has no notes yet"
        return (
            f"would mirror {report.mirrored} record(s) into the notes; {report.remote} {remote}; "
            f"would fetch, merge and push {NOTES_REF}"
        )
    pushed = "pushed" if report.pushed else "nothing to push"
    return (
        f"{report.mirrored} record(s) mirrored, {report.fetched} fetched from {report.remote}, "
        f"{pushed}"
    )


def hook_change(change: HookChange) -> str:
    """What `nt install-hooks` did to one hook."""
    messages = {
        "installed": f"installed {change.path}",
        "updated": f"{change.path} is already ntrk's (refreshed)",
        "chained": f"installed {change.path}; your hook is kept as {change.name}{KEPT_HOOK_SUFFIX} "
        "and runs first",
        "removed": f"removed {change.path}",
        "restored": f"removed ntrk's {change.name} and put your hook back at {change.path}",
        "left": f"left {change.path} alone: it is not ntrk's",
    }
    return messages[change.action]
