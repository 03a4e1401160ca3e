"""Turning a lineage into text, JSON, Graphviz dot or Mermaid. One walk, four renderings.

The text format is 0.1.0's, byte for byte. The other three render the same graph: file nodes
(path, md5, size, marker), step nodes (record id, command, script, commit, time, duration) and
edges from each input file to its step and from each step to its outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ntrk.commands.trace import Lineage
from ntrk.lineage import Step
from ntrk.record import FileRef, Record
from ntrk.worktree import WorkTree

FORMATS = ("text", "json", "dot", "mermaid")


def text_lines(lineage: Lineage) -> list[str]:
    """One line per step, roots first: `in1, in2 -> script @ abc1234 -> out [marker]`."""
    return [_step_line(step, lineage.worktree) for step in lineage.steps]


def render(lineage: Lineage, fmt: str) -> str:
    """The lineage in one of FORMATS, ending in a newline."""
    if fmt == "text":
        return "".join(line + "\n" for line in text_lines(lineage))
    graph = Graph.of(lineage)
    if fmt == "json":
        return json.dumps(graph.as_json(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "dot":
        return graph.as_dot()
    return graph.as_mermaid()


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


@dataclass
class Graph:
    """Files and steps of a lineage, with edges, in the order the walk found them."""

    files: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, lineage: Lineage) -> Graph:
        graph = cls()
        for step in lineage.steps:
            rec = step.record
            step_id = f"step:{rec.id}"
            graph.steps.append(_step_node(step_id, rec))
            for entry in rec.inputs:
                graph.edges.append((graph._file(entry, lineage.worktree), step_id))
            for entry in rec.outputs:
                graph.edges.append((step_id, graph._file(entry, lineage.worktree)))
        return graph

    def _file(self, entry: FileRef, worktree: WorkTree | None) -> str:
        key = (entry.path, entry.md5)
        if key not in self.files:
            marker = _marker(worktree, entry.path, entry.md5).strip(" []") or None
            node = {
                "id": f"file:{entry.path}@{entry.md5}",
                "path": entry.path,
                "md5": entry.md5,
                "size": entry.size,
                "marker": marker,
            }
            if entry.files is not None:
                node["files"] = entry.files
            self.files[key] = node
        return str(self.files[key]["id"])

    def as_json(self) -> dict[str, Any]:
        return {
            "files": list(self.files.values()),
            "steps": self.steps,
            "edges": [{"from": a, "to": b} for a, b in self.edges],
        }

    def as_dot(self) -> str:
        lines = ["digraph lineage {", "  rankdir=LR;", "  node [fontname=Helvetica];"]
        for node in self.files.values():
            label = node["path"] + (f" [{node['marker']}]" if node["marker"] else "")
            lines.append(f"  {_dot(node['id'])} [shape=note, label={_dot(label)}];")
        for step in self.steps:
            label = f"{step['script'] or '?'} @ {step['commit'][:7]}"
            lines.append(f"  {_dot(step['id'])} [shape=box, style=rounded, label={_dot(label)}];")
        lines += [f"  {_dot(a)} -> {_dot(b)};" for a, b in self.edges]
        return "\n".join([*lines, "}"]) + "\n"

    def as_mermaid(self) -> str:
        names: dict[str, str] = {}
        lines = ["flowchart LR"]
        for index, node in enumerate(self.files.values()):
            names[node["id"]] = f"f{index}"
            label = node["path"] + (f" [{node['marker']}]" if node["marker"] else "")
            lines.append(f'  f{index}["{_mermaid(label)}"]')
        for index, step in enumerate(self.steps):
            names[step["id"]] = f"s{index}"
            label = f"{step['script'] or '?'} @ {step['commit'][:7]}"
            lines.append(f'  s{index}(["{_mermaid(label)}"])')
        lines += [f"  {names[a]} --> {names[b]}" for a, b in self.edges]
        return "\n".join(lines) + "\n"


def _step_node(step_id: str, rec: Record) -> dict[str, Any]:
    data = rec.to_dict()
    return {
        "id": step_id,
        "record": rec.id,
        "command": list(rec.command),
        "script": rec.script.path if rec.script else None,
        "commit": rec.commit,
        "cwd": rec.cwd,
        "time": rec.ts,
        "start": rec.start,
        "duration": data.get("duration"),
    }


def _dot(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _mermaid(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", " ")
