"""A lineage as a graph: JSON for tools, Graphviz dot, Mermaid. One walk, three renderings.

File nodes (path, md5, size, state), step nodes (record id, command, script, commit, time,
duration), and edges from each input file to its step and from each step to its outputs, in
the order the walk found them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ntrk.lineage import Lineage
from ntrk.record import FileRef, Record
from ntrk.text import json_dumps, visible


@dataclass
class Graph:
    """Files and steps of a lineage, with edges."""

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
                graph.edges.append((graph._file(entry, lineage), step_id))
            for entry in rec.outputs:
                graph.edges.append((step_id, graph._file(entry, lineage)))
        return graph

    def _file(self, entry: FileRef, lineage: Lineage) -> str:
        key = (entry.path, entry.md5)
        if key not in self.files:
            node = {
                "id": f"file:{entry.path}@{entry.md5}",
                "path": entry.path,
                "md5": entry.md5,
                "size": entry.size,
                "marker": lineage.state(entry.path, entry.md5),
            }
            if entry.files is not None:
                node["files"] = entry.files
            self.files[key] = node
        return str(self.files[key]["id"])


def to_json(lineage: Lineage) -> str:
    """The whole graph as one JSON document, ending in a newline."""
    graph = Graph.of(lineage)
    document = {
        "files": list(graph.files.values()),
        "steps": graph.steps,
        "edges": [{"from": a, "to": b} for a, b in graph.edges],
    }
    return json_dumps(document, indent=2, sort_keys=False) + "\n"


def to_dot(lineage: Lineage) -> str:
    """The graph for Graphviz: `nt trace out.csv --format dot | dot -Tsvg`."""
    graph = Graph.of(lineage)
    lines = ["digraph lineage {", "  rankdir=LR;", "  node [fontname=Helvetica];"]
    for node in graph.files.values():
        lines.append(f"  {_dot(node['id'])} [shape=note, label={_dot(_file_label(node))}];")
    for step in graph.steps:
        label = _dot(_step_label(step))
        lines.append(f"  {_dot(step['id'])} [shape=box, style=rounded, label={label}];")
    lines += [f"  {_dot(a)} -> {_dot(b)};" for a, b in graph.edges]
    return "\n".join([*lines, "}"]) + "\n"


def to_mermaid(lineage: Lineage) -> str:
    """The graph as a Mermaid flowchart, for a Markdown ```mermaid block."""
    graph = Graph.of(lineage)
    names: dict[str, str] = {}
    lines = ["flowchart LR"]
    for number, node in enumerate(graph.files.values()):
        names[node["id"]] = f"f{number}"
        lines.append(f'  f{number}["{_mermaid(_file_label(node))}"]')
    for number, step in enumerate(graph.steps):
        names[step["id"]] = f"s{number}"
        lines.append(f'  s{number}(["{_mermaid(_step_label(step))}"])')
    lines += [f"  {names[a]} --> {names[b]}" for a, b in graph.edges]
    return "\n".join(lines) + "\n"


def _step_node(step_id: str, rec: Record) -> dict[str, Any]:
    return {
        "id": step_id,
        "record": rec.id,
        "command": list(rec.command),
        "script": rec.script.path if rec.script else None,
        "commit": rec.commit,
        "cwd": rec.cwd,
        "time": rec.ts,
        "start": rec.start,
        "duration": rec.data.get("duration"),
    }


def _file_label(node: dict[str, Any]) -> str:
    return visible(str(node["path"]) + (f" [{node['marker']}]" if node["marker"] else ""))


def _step_label(step: dict[str, Any]) -> str:
    return visible(f"{step['script'] or '?'} @ {step['commit'][:7]}")


def _dot(text: str) -> str:
    """A DOT string: node ids hold paths too, whose invisible characters are shown escaped."""
    text = visible(text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _mermaid(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", " ")
