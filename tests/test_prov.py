"""`nt trace --format prov-json|prov-n`: the lineage as a W3C PROV document (`prov` package)."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import prov
import pytest
from conftest import COUNT, NT, SPLIT, commit_all, git, read_log
from prov.model import (
    ProvActivity,
    ProvAgent,
    ProvAssociation,
    ProvDerivation,
    ProvDocument,
    ProvEntity,
    ProvGeneration,
    ProvUsage,
)


@pytest.fixture
def pipeline(repo: Path, cli) -> Path:  # type: ignore[no-untyped-def]
    """raw.csv -> clean.csv -> parts/ (a directory of 2 files) -> summary.txt, committed."""
    (repo / "split.py").write_text(SPLIT)
    (repo / "count.py").write_text(COUNT)
    (repo / ".gitignore").write_text("parts/\n")
    commit_all(repo, "steps")
    for argv in (
        ["python", "step.py", "-i", "raw.csv", "-o", "clean.csv"],
        ["python", "split.py", "-i", "clean.csv", "-o", "parts"],
        ["python", "count.py", "-i", "parts", "-o", "summary.txt"],
    ):
        assert cli("track", *argv).code == 0
    commit_all(repo, "results")
    return repo


def trace(root: Path, fmt: str, target: str = "summary.txt") -> str:
    done = subprocess.run(
        [NT, "trace", target, "--format", fmt], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr  # no warning from prov
    return done.stdout


def relations(doc: ProvDocument, kind: type) -> set[tuple[str, ...]]:
    """Each relation of `kind` as the ids it links (times and blanks left out)."""
    found = set()
    for relation in doc.get_records(kind):
        ids = tuple(
            str(value) for _, value in relation.formal_attributes if hasattr(value, "namespace")
        )
        found.add(ids)
    return found


def ids(doc: ProvDocument, kind: type) -> set[str]:
    return {str(rec.identifier) for rec in doc.get_records(kind)}


def attributes(doc: ProvDocument, identifier: str) -> dict[str, Any]:
    (found,) = [rec for rec in doc.get_records() if str(rec.identifier) == identifier]
    return {str(name): value for name, value in found.attributes}


def test_prov_json_reads_back_and_prov_n_is_what_prov_writes(pipeline: Path) -> None:
    text = trace(pipeline, "prov-json")
    doc = prov.read(text, format="json")
    assert isinstance(doc, ProvDocument)
    assert trace(pipeline, "prov-n") == doc.get_provn() + "\n"


def test_the_graph_of_a_three_step_pipeline(pipeline: Path) -> None:
    doc = prov.read(trace(pipeline, "prov-json"), format="json")
    records = read_log(pipeline)
    files = {
        entry["path"]: f"file:{entry['path']}@{entry['md5']}"
        for rec in records
        for entry in rec["inputs"] + rec["outputs"]  # type: ignore[operator]
    }
    runs = [f"run:{uuid.UUID(str(rec['id']))}" for rec in records]
    commit = str(records[0]["git"]["commit"])  # type: ignore[index]
    plans = [f"script:{name}@{commit}" for name in ("step.py", "split.py", "count.py")]
    raw, clean, parts, summary = (
        files[name] for name in ("raw.csv", "clean.csv", "parts", "summary.txt")
    )

    assert ids(doc, ProvEntity) == {raw, clean, parts, summary, *plans}
    assert ids(doc, ProvActivity) == set(runs)
    assert ids(doc, ProvAgent) == {"program:python"}
    assert relations(doc, ProvUsage) == {(runs[0], raw), (runs[1], clean), (runs[2], parts)}
    assert relations(doc, ProvGeneration) == {
        (clean, runs[0]),
        (parts, runs[1]),
        (summary, runs[2]),
    }
    assert relations(doc, ProvAssociation) == {
        (run, "program:python", plan) for run, plan in zip(runs, plans, strict=True)
    }
    assert relations(doc, ProvDerivation) == {
        (clean, raw, runs[0]),
        (parts, clean, runs[1]),
        (summary, parts, runs[2]),
    }

    directory = attributes(doc, parts)
    assert str(directory["prov:type"]) == "ntrk:Directory"
    assert (directory["ntrk:files"], directory["ntrk:path"]) == (2, "parts")
    assert str(attributes(doc, raw)["prov:type"]) == "ntrk:File"
    assert str(attributes(doc, plans[1])["prov:type"]) == "prov:Plan"
    assert attributes(doc, plans[1])["ntrk:blob"] == records[1]["script"]["blob"]  # type: ignore[index]
    assert str(attributes(doc, "program:python")["prov:type"]) == "prov:SoftwareAgent"
    (split,) = [rec for rec in doc.get_records(ProvActivity) if str(rec.identifier) == runs[1]]
    started = split.get_startTime().isoformat().replace("+00:00", "Z")
    assert started == records[1]["start"]
    assert split.get_endTime() > split.get_startTime()
    assert attributes(doc, runs[1])["prov:label"] == "python split.py -i clean.csv -o parts"
    assert attributes(doc, runs[1])["ntrk:commit"] == commit


def test_ids_are_the_same_on_every_call_and_clone(pipeline: Path, tmp_path: Path) -> None:
    first = trace(pipeline, "prov-n")
    assert trace(pipeline, "prov-n") == first
    clone = tmp_path / "somewhere" / "else"
    git(tmp_path, "clone", "-q", str(pipeline), str(clone))
    assert trace(clone, "prov-n", "clean.csv") == trace(pipeline, "prov-n", "clean.csv")
    assert trace(clone, "prov-json") == trace(pipeline, "prov-json")
    assert str(tmp_path) not in first and str(pipeline) not in first


def test_names_prov_n_cannot_write_are_encoded(repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    name = 'we ird%"q.csv'
    assert cli("track", "python", "step.py", "-i", "raw.csv", "-o", name).code == 0
    provn = trace(repo, "prov-n", name)  # no warning from prov on stderr
    doc = prov.read(trace(repo, "prov-json", name), format="json")
    assert provn == doc.get_provn() + "\n"
    (output,) = [rec for rec in doc.get_records(ProvEntity) if "we%20ird" in str(rec.identifier)]
    assert str(output.identifier).startswith("file:we%20ird%25%22q.csv@")
    assert attributes(doc, str(output.identifier))["prov:label"] == name


def test_a_0_1_0_record_has_an_end_time_only(repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("track", "python", "step.py", "-i", "raw.csv", "-o", "clean.csv").code == 0
    (rec,) = read_log(repo)
    for field in ("start", "duration", "exit", "platform", "python"):
        rec.pop(field)
    (repo / ".ntrk" / "runs.jsonl").write_text(json.dumps(rec) + "\n")
    (repo / ".clean.csv.ntrk").unlink()
    git(repo, "update-ref", "-d", "refs/notes/ntrk")  # as 0.1.0 wrote: the log only
    doc = prov.read(trace(repo, "prov-json", "clean.csv"), format="json")
    (run,) = doc.get_records(ProvActivity)
    assert run.get_startTime() is None
    assert run.get_endTime().isoformat().replace("+00:00", "Z") == rec["ts"]
