"""Text for people: what every command prints, from the data the command returned.

Commands return data and never print; the CLI passes that data here. `nt trace`'s text
format is 0.1.0's, byte for byte; its other formats are in `graph` and `export.prov`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ntrk.layout import KEPT_HOOK_SUFFIX, LOG_RELPATH, NOTES_REF, STORE_DIR
from ntrk.text import shell_join, visible

if TYPE_CHECKING:
    from pathlib import Path

    from ntrk.commands.install_hooks import HookChange
    from ntrk.commands.rerun import PlannedStep, Verdict
    from ntrk.commands.status import OutputStatus
    from ntrk.commands.sync import SyncReport
    from ntrk.commands.trust import Approval
    from ntrk.lineage import Lineage, Step
    from ntrk.record import Record

TRACE_FORMATS = ("text", "json", "dot", "mermaid", "prov-json", "prov-n")


def trace(lineage: Lineage, fmt: str) -> str:
    """The lineage in one of TRACE_FORMATS, ending in a newline."""
    if fmt.startswith("prov-"):  # the PROV code (and the prov package) only when asked for
        from ntrk.export import prov

        return prov.to_json(lineage) if fmt == "prov-json" else prov.to_provn(lineage)
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
    return "".join(visible(_step_line(step, lineage)) + "\n" for step in lineage.steps)


def _step_line(step: Step, lineage: Lineage) -> str:
    rec = step.record
    if rec.inputs:
        sources = ", ".join(
            entry.path + _marker(lineage.state(entry.path, entry.md5)) for entry in rec.inputs
        )
    else:
        sources = "(no tracked inputs)"
    script = rec.script.path if rec.script else "?"
    state = lineage.state(step.output, step.md5)
    return f"{sources} -> {script} @ {rec.commit[:7]} -> {step.output or '?'}{_marker(state)}"


def _marker(state: str | None) -> str:
    return f" [{state}]" if state else ""


def recorded(rec: Record, hooks_installed: bool, log_ignored: bool = False) -> str:
    """What `nt track` says after recording: the run's id, and how the record is kept."""
    if log_ignored:
        keep = (
            f"git ignores {STORE_DIR}/, so no commit carries the log: remove it from your "
            "ignore rules to keep lineage with the code (nt sync still shares the notes)"
        )
    elif hooks_installed:
        # git stops before the pre-commit hook when nothing is staged: say how to commit the
        # log alone.
        keep = (
            "your next git commit carries the log (pre-commit hook); "
            f"to commit it alone: git add {STORE_DIR} && git commit"
        )
    else:
        keep = f"commit {LOG_RELPATH} to keep it (git add {STORE_DIR} && git commit)."
    return f"recorded {rec.id[:8]} ({len(rec.outputs)} output(s)); {keep}"


def left_out(paths: Sequence[str]) -> str:
    """Why ntrk's hook under the pre-commit framework failed, and what to run."""
    listed = shell_join(paths)
    return (
        f"{visible(', '.join(paths))} changed since git add, and the pre-commit framework keeps "
        "unstaged changes out of the commit (it stashes them while hooks run), so the commit "
        f"would miss runs — run git add {listed}, then commit again"
    )


def no_runs(never_fetched: Sequence[str]) -> str:
    """What `nt status` and `nt log` say when there is no recorded run at all."""
    fetch = (
        f"nt sync {never_fetched[0]} fetches the runs recorded in other clones"
        if never_fetched
        else "nt sync fetches the runs recorded in other clones"
    )
    return (
        "no recorded runs yet — record one with nt track COMMAND "
        f"(e.g. nt track python clean.py -i raw.csv -o clean.csv); {fetch}"
    )


def status_lines(statuses: Sequence[OutputStatus]) -> list[str]:
    """One line per output, grouped by state: `stale     out.csv  (input raw.csv changed)`."""
    lines = []
    for entry in statuses:
        why = f"  ({'; '.join(entry.reasons)})" if entry.reasons and entry.state != "ok" else ""
        lines.append(visible(f"{entry.state:<9} {entry.path}{why}"))
    return lines


def log_line(rec: Record) -> str:
    """`1c324cea 2026-11-25 14:05 7d49882 0.02s python step.py ... -> clean.csv`."""
    when = visible(rec.ts[:16].replace("T", " "))
    took = "-" if rec.duration is None else f"{rec.duration:.2f}s"
    outputs = ", ".join(entry.path for entry in rec.outputs)
    head = f"{rec.id[:8]} {when} {rec.commit[:7]} {took:>7}"
    return f"{head} {shell_join(rec.command)} -> {visible(outputs)}"


def rerun_plan(
    target: str, planned: Sequence[PlannedStep], env_command: str | None = None
) -> list[str]:
    """The plan `nt rerun` shows before it runs anything: every program that will run, with
    the nt track options each step repeats."""
    from ntrk.declare import options

    lines = [visible(f"plan: {len(planned)} step(s) to make {target} again")]
    for number, step in enumerate(planned, start=1):
        command = shell_join([*options(step.record), *step.record.command])
        where, why = visible(step.record.cwd), visible(step.reason)
        lines.append(f"  {number}. (in {where}) {command}  [{why}]")
    if env_command:
        lines.append(
            f"  each step also runs {visible(env_command)} (record.env_command, "
            "for the environment fingerprint)"
        )
    return lines


def approval(approved: Approval) -> str:
    """What `nt trust` approved."""
    if not approved.settings:
        return "trusted the repository's configuration; it asks for nothing that needs trust"
    what = "; ".join(f"{key} = {visible(value)}" for key, value in approved.settings)
    return f"trusted the repository's configuration: nt track may now use {what}"


def verdict_line(verdict: Verdict) -> str:
    """`reproduced out.csv`, or `differs    out.csv  (recorded 0084467a, now 971b2dc2)`."""
    if verdict.reproduced:
        return visible(f"{'reproduced':<10} {verdict.path}")
    now = (verdict.new_md5 or "missing")[:8]
    return visible(
        f"{'differs':<10} {verdict.path}  (recorded {verdict.recorded_md5[:8]}, now {now})"
    )


def sync_summary(report: SyncReport, dry_run: bool) -> str:
    """What `nt sync` did, or with --dry-run would do, in one line."""
    if dry_run:
        remote = "has notes" if report.remote_has_notes else "has no notes yet"
        return visible(
            f"would mirror {report.mirrored} record(s) into the notes; {report.remote} {remote}; "
            f"would fetch, merge and push {NOTES_REF}"
        )
    pushed = "pushed" if report.pushed else "nothing to push"
    return visible(
        f"{report.mirrored} record(s) mirrored, {report.fetched} fetched from {report.remote}, "
        f"{pushed}"
    )


def hook_change(change: HookChange) -> str:
    """What `nt install-hooks` (or `--uninstall`) did to one hook, or found out about it."""
    where = {
        "": "",
        "pre-commit": " (the pre-commit framework had moved it there, and ran it before its own)",
        "lefthook": " (lefthook had moved it there, to put back on lefthook uninstall)",
        "dormant": f" (git did not run it while core.hooksPath is {change.hooks_path}, "
        "but would again without that setting)",
        "husky": "",
    }[change.moved_by]
    messages = {
        "installed": f"installed {change.path}",
        "updated": f"{change.path} is already ntrk's (refreshed)",
        "chained": f"installed {change.path}; your hook is kept as {change.name}{KEPT_HOOK_SUFFIX} "
        "and runs first",
        "removed": f"removed {change.path}"
        + (f", ntrk's {change.name} hook{where}" if where else ""),
        "restored": f"removed ntrk's {change.name} hook and put your hook back at "
        f"{change.path}{where}",
        "left": f"left {change.path} alone: it is not ntrk's",
        "orphaned": f"left {change.path} alone: ntrk kept your {change.name} hook there, but "
        f"ntrk's hook in front of it was replaced, so nothing runs it now; move it back by "
        "hand if you still want it",
        "mentioned": f"left {change.path} alone: it is your husky script, and it still runs "
        f"`nt hook {change.name}`; remove that line to stop ntrk there",
    }
    return visible(messages[change.action])


def tracked_hooks(folder: Path) -> str:
    """What to do after installing into a hooks folder the repository shares."""
    return visible(
        f"commit {folder} so that everyone who clones the repository gets the hooks "
        f"(git add {folder} && git commit); until then nt track sees uncommitted changes"
    )
