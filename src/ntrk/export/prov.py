"""A lineage as a W3C PROV document, built with the `prov` package: PROV-JSON and PROV-N.

| PROV                        | ntrk                                                          |
|-----------------------------|---------------------------------------------------------------|
| entity `file:PATH@MD5`      | a file (or directory) version: path and md5, size, file count |
| activity `run:UUID`         | a run: start and end time, command, commit, branch, cwd       |
| entity `script:PATH@COMMIT` | the script at its commit, a `prov:Plan` (blob, md5)           |
| agent `program:NAME`        | the program that ran it (`python`), a `prov:SoftwareAgent`    |
| used, wasGeneratedBy        | a run read an input at its start, wrote an output at its end |
| wasAssociatedWith           | the run, its program, and its script as the plan              |
| wasDerivedFrom              | each output of a run, from each of its inputs                 |

Ids are built from the records alone (paths, md5s, the record id, the commit), never from
where the clone lives, so they are the same on every call and every clone; `run:` is
`urn:uuid:`, the UUID that is also the OpenLineage run id. Characters that PROV-N cannot
write in a name are percent-encoded in the id; labels keep the text as it is (PROV-N shows
invisible characters as escapes).

`prov` is a runtime dependency, not an extra: it is pure Python with no dependencies of its
own, and a `--format` that `nt trace --help` offers should work on every install. It is
imported only when a PROV format is asked for (~35 ms).
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from ntrk.export.naming import quote_path, run_uuid
from ntrk.export.runtimes import run_times
from ntrk.lineage import Lineage
from ntrk.record import FileRef, Record
from ntrk.text import visible

if TYPE_CHECKING:
    from prov.model import ProvDocument

VOCABULARY = "https://github.com/tim-hudelmaier/ntrk#"
NAMESPACES = {
    "ntrk": VOCABULARY,
    "file": "urn:ntrk:file:",
    "run": "urn:uuid:",
    "script": "urn:ntrk:script:",
    "program": "urn:ntrk:program:",
}
# What a PROV-N name may hold as it is (besides letters and digits); the rest is %-encoded.
_SAFE = "/@_~-"


def document(lineage: Lineage) -> ProvDocument:
    """The PROV document of a lineage: its runs, their files, scripts and programs.

    Records are added grouped by kind (entities, activities, agents, then each relation),
    which is the order PROV-JSON groups them in: a document read back from PROV-JSON writes
    the same PROV-N.
    """
    from prov.model import PROV, ProvDocument

    doc = ProvDocument()
    for prefix, uri in NAMESPACES.items():
        doc.add_namespace(prefix, uri)
    runs = _runs(lineage)
    files: dict[str, FileRef] = {}
    for rec in runs:
        for entry in (*rec.inputs, *rec.outputs):
            files.setdefault(file_id(entry), entry)
    for identifier, entry in files.items():
        kind = "ntrk:Directory" if entry.files is not None else "ntrk:File"
        attributes: dict[str, Any] = {
            "prov:type": doc.valid_qualified_name(kind),
            "prov:label": entry.path,
            "ntrk:path": entry.path,
            "ntrk:md5": entry.md5,
            "ntrk:size": entry.size,
        }
        if entry.files is not None:
            attributes["ntrk:files"] = entry.files
        doc.entity(identifier, attributes)
    plans = {plan_id(rec): rec for rec in runs if _has_plan(rec)}
    for identifier, rec in plans.items():
        script = rec.script
        assert script is not None
        plan: dict[str, Any] = {
            "prov:type": PROV["Plan"],
            "prov:label": script.path,
            "ntrk:path": script.path,
            "ntrk:commit": rec.commit,
        }
        if script.blob is not None:
            plan["ntrk:blob"] = script.blob
        if script.md5 is not None:
            plan["ntrk:md5"] = script.md5
        doc.entity(identifier, plan)
    for rec in runs:
        began, ended = run_times(rec)
        attributes = {
            "prov:label": shlex.join(rec.command),
            "ntrk:record": rec.id,
            "ntrk:commit": rec.commit,
            "ntrk:cwd": rec.cwd,
        }
        if rec.branch:
            attributes["ntrk:branch"] = rec.branch
        doc.activity(run_id(rec), began, ended, attributes)
    for program in dict.fromkeys(rec.command[0] for rec in runs):
        doc.agent(program_id(program), {"prov:type": PROV["SoftwareAgent"], "prov:label": program})
    for rec in runs:
        began, _ = run_times(rec)
        for entry in rec.inputs:
            doc.used(run_id(rec), file_id(entry), began)
    for rec in runs:
        _, ended = run_times(rec)
        for entry in rec.outputs:
            doc.wasGeneratedBy(file_id(entry), run_id(rec), ended)
    for rec in runs:
        plan_of = plan_id(rec) if _has_plan(rec) else None
        doc.wasAssociatedWith(run_id(rec), program_id(rec.command[0]), plan_of)
    for rec in runs:
        for output in rec.outputs:
            for source in rec.inputs:
                doc.wasDerivedFrom(file_id(output), file_id(source), run_id(rec))
    return doc


def to_json(lineage: Lineage) -> str:
    """The lineage as PROV-JSON, ending in a newline."""
    return str(document(lineage).serialize(format="json", indent=2)) + "\n"


def to_provn(lineage: Lineage) -> str:
    """The lineage as PROV-N, as the `prov` package writes it, ending in a newline.

    PROV-N is read on terminals: an invisible character in a label (a command holding an
    escape sequence) is shown as an escape, `\\x1b`, as in every other output of ntrk.
    PROV-JSON keeps such characters, JSON-escaped."""
    provn = str(document(lineage).get_provn())
    return "\n".join(visible(line) for line in provn.split("\n")) + "\n"


def file_id(entry: FileRef) -> str:
    """`file:PATH@MD5`: one version of a file, the same id on every clone."""
    return f"file:{_name(entry.path)}@{entry.md5}"


def run_id(rec: Record) -> str:
    """`run:UUID` (`urn:uuid:UUID`), the UUID of the record's id."""
    return f"run:{run_uuid(rec.id)}"


def plan_id(rec: Record) -> str:
    """`script:PATH@COMMIT`: the script as it was at the run's commit."""
    assert rec.script is not None
    return f"script:{_name(rec.script.path)}@{rec.commit}"


def program_id(program: str) -> str:
    """`program:NAME`: the program the command started, as the command named it."""
    return f"program:{_name(program)}"


def _runs(lineage: Lineage) -> list[Record]:
    """Each run of the lineage once, in walk order (a run can pass on several outputs)."""
    return list({step.record.id: step.record for step in lineage.steps}.values())


def _has_plan(rec: Record) -> bool:
    """A script in the repository is a plan; one outside it (or none) is not known enough."""
    return rec.script is not None and (rec.script.blob is not None or rec.script.md5 is not None)


def _name(text: str) -> str:
    return quote_path(text, safe=_SAFE)
