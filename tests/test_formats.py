"""`nt trace --format`: text, json, dot and mermaid from one walk."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest


def test_trace_json_is_the_whole_graph(chain: Path, cli) -> None:
    (chain / "raw.csv").write_text("changed\n")
    graph = json.loads(cli("trace", "final.csv", "--format", "json").out)
    assert [f["path"] for f in graph["files"]] == ["raw.csv", "clean.csv", "final.csv"]
    assert graph["files"][0]["marker"] == "modified" and graph["files"][2]["marker"] is None
    assert [s["command"][-1] for s in graph["steps"]] == ["clean.csv", "final.csv"]
    assert all(isinstance(s["duration"], float) for s in graph["steps"])
    ids = {f["id"] for f in graph["files"]} | {s["id"] for s in graph["steps"]}
    assert len(graph["edges"]) == 4
    assert all(e["from"] in ids and e["to"] in ids for e in graph["edges"])


def test_trace_text_is_the_default(chain: Path, cli) -> None:
    assert cli("trace", "final.csv").out == cli("trace", "final.csv", "--format", "text").out


def test_trace_mermaid_structure(chain: Path, cli) -> None:
    lines = cli("trace", "final.csv", "--format", "mermaid").out.splitlines()
    assert lines[0] == "flowchart LR"
    assert lines[1:4] == ['  f0["raw.csv"]', '  f1["clean.csv"]', '  f2["final.csv"]']
    assert re.fullmatch(r'  s0\(\["step\.py @ [0-9a-f]{7}"\]\)', lines[4])
    assert lines[6:] == ["  f0 --> s0", "  s0 --> f1", "  f1 --> s1", "  s1 --> f2"]


def test_trace_dot_renders_with_graphviz(chain: Path, cli, tmp_path: Path) -> None:
    out = cli("trace", "final.csv", "--format", "dot").out
    assert out.startswith("digraph lineage {") and out.count(" -> ") == 4
    if shutil.which("dot") is None:
        pytest.skip("graphviz is not installed (CI installs it)")
    done = subprocess.run(["dot", "-Tsvg"], input=out, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "<svg" in done.stdout and "clean.csv" in done.stdout


def test_dot_and_mermaid_escape_quotes(repo: Path, cli) -> None:
    name = 'we"ird.csv'
    assert cli("track", "python", "-c", f"open('{name}','w').write('1')", "-o", name).code == 0
    assert '"file:we\\"ird.csv@' in cli("trace", name, "--format", "dot").out
    assert "we#quot;ird.csv" in cli("trace", name, "--format", "mermaid").out
