"""OpenLineage: `nt track`'s events through the real client, and `nt export openlineage`.

Every event is checked against the OpenLineage JSON Schema (`tests/openlineage-spec/`, a copy
of the spec folder) with formats checked, and each facet against the schema its `_schemaURL`
names, resolved offline through a `referencing` registry; the `ntrk` facet against the schema
ntrk ships. Delivery goes through the client's own HTTP transport to a server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import COUNT, NT, SPLIT, commit_all, git, make_repo, read_log
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from ntrk import __version__
from ntrk.export import naming
from ntrk.export.openlineage import FACET_SCHEMA_FILE, FACET_SCHEMA_URL

SPEC = Path(__file__).parent / "openlineage-spec"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
REMOTE = "git@github.com:acme/pipeline.git"
NAMESPACE = "https://github.com/acme/pipeline"

PIPELINE = [
    ["python", "step.py", "-i", "raw.csv", "-o", "clean.csv"],
    ["python", "split.py", "-i", "clean.csv", "-o", "parts"],
    ["python", "count.py", "-i", "parts", "-o", "summary.txt"],
]


def _registry() -> Registry[Any]:
    resources = [Resource.from_contents(json.loads(FACET_SCHEMA_FILE.read_text()))]
    for path in [SPEC / "OpenLineage.json", *sorted((SPEC / "facets").glob("*.json"))]:
        resources.append(Resource.from_contents(json.loads(path.read_text())))
    return Registry().with_resources((resource.id(), resource) for resource in resources)  # type: ignore[misc]


REGISTRY = _registry()


def check(schema_url: str, instance: object) -> None:
    """Validate `instance` against the schema at `schema_url`, formats included."""
    validator = Draft202012Validator(
        {"$ref": schema_url},
        registry=REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    validator.validate(instance)


def validate_event(event: dict[str, Any]) -> None:
    """The event against RunEvent, and each facet against the schema its _schemaURL names."""
    check(RUN_EVENT, event)
    facet_groups = [event["run"].get("facets", {}), event["job"].get("facets", {})]
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        facet_groups.append(dataset.get("facets", {}))
        facet_groups.append(dataset.get("inputFacets", dataset.get("outputFacets", {})))
    for facets in facet_groups:
        for facet in facets.values():
            check(facet["_schemaURL"], facet)


class Server:
    """A lineage endpoint on 127.0.0.1 that keeps every event posted to it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, json.loads(body)))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for _, event in self.requests]

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


@pytest.fixture
def pipeline_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with the three steps' scripts and a GitHub remote."""
    root = make_repo(tmp_path / "work", ignore="parts/\n")
    (root / "split.py").write_text(SPLIT)
    (root / "count.py").write_text(COUNT)
    (root / "raw.csv").write_text("a,b\n1,2\n3,4\n")
    commit_all(root, "pipeline")
    git(root, "remote", "add", "origin", REMOTE)
    monkeypatch.chdir(root)
    return root


def track(root: Path, argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NT, "track", *argv], cwd=root, env={**os.environ, **env}, capture_output=True, text=True
    )


def nt(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NT, *args], cwd=root, env={**os.environ, **env}, capture_output=True, text=True
    )


def without_nulls(value: Any) -> Any:
    """What the OpenLineage client makes of a record: null fields left out."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


# -- the schemas themselves -------------------------------------------------------------------


def test_format_checks_are_really_on() -> None:
    """A validation that skips formats would pass anything: these must fail."""
    event = {"eventTime": "yesterday", "producer": "x", "schemaURL": "y"}
    event |= {"run": {"runId": "not-a-uuid"}, "job": {"namespace": "n", "name": "j"}}
    with pytest.raises(ValidationError):
        check(RUN_EVENT, event)
    for field, bad in [("eventTime", "2026-13-45"), ("producer", "no scheme"), ("runId", "x")]:
        good = {
            "eventTime": "2026-01-01T00:00:00Z",
            "producer": "https://example.com",
            "schemaURL": "https://example.com/s.json",
            "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": "n", "name": "j"},
        }
        check(RUN_EVENT, good)
        if field == "runId":
            good["run"]["runId"] = bad  # type: ignore[index]
        else:
            good[field] = bad
        with pytest.raises(ValidationError):
            check(RUN_EVENT, good)


def test_the_ntrk_facet_schema_is_named_at_this_version() -> None:
    schema = json.loads(FACET_SCHEMA_FILE.read_text())
    assert schema["$id"] + "#/$defs/NtrkRunFacet" == FACET_SCHEMA_URL
    assert f"/v{__version__}/src/ntrk/export/NtrkRunFacet.json" in schema["$id"]
    with pytest.raises(ValidationError):  # the facet schema does check the record
        check(FACET_SCHEMA_URL, {"_producer": "https://x", "_schemaURL": "https://y", "record": {}})


# -- nt track ---------------------------------------------------------------------------------


def test_a_three_step_pipeline_reaches_a_lineage_server(
    pipeline_repo: Path, server: Server
) -> None:
    for argv in PIPELINE:
        done = track(pipeline_repo, argv, OPENLINEAGE_URL=server.url)
        assert done.returncode == 0, done.stderr
        assert "warning" not in done.stderr
    failing = track(
        pipeline_repo, ["python", "step.py", "-i", "summary.txt"], OPENLINEAGE_URL=server.url
    )
    assert failing.returncode == 1
    records = read_log(pipeline_repo)
    assert len(records) == 3

    assert {path for path, _ in server.requests} == {"/api/v1/lineage"}
    events = server.events
    for event in events:
        validate_event(event)
    assert [event["eventType"] for event in events] == ["START", "COMPLETE"] * 3 + [
        "START",
        "FAIL",
    ]
    run_ids = [event["run"]["runId"] for event in events]
    expected_ids = [str(uuid.UUID(str(rec["id"]))) for rec in records]
    assert run_ids[:6] == [run_id for run_id in expected_ids for _ in range(2)]
    assert run_ids[6] == run_ids[7] and run_ids[6] not in expected_ids

    def names(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(dataset["namespace"], dataset["name"]) for dataset in datasets]

    completes = [event for event in events if event["eventType"] == "COMPLETE"]
    assert [names(event["inputs"]) for event in completes] == [
        [(NAMESPACE, "raw.csv")],
        [(NAMESPACE, "clean.csv")],
        [(NAMESPACE, "parts")],
    ]
    assert [names(event["outputs"]) for event in completes] == [
        [(NAMESPACE, "clean.csv")],
        [(NAMESPACE, "parts")],
        [(NAMESPACE, "summary.txt")],
    ]
    parts = completes[1]["outputs"][0]
    assert parts["facets"]["version"]["datasetVersion"] == records[1]["outputs"][0]["md5"]
    assert parts["outputFacets"]["outputStatistics"]["fileCount"] == 3
    assert [event["job"]["name"] for event in completes] == ["step.py", "split.py", "count.py"]
    assert {event["job"]["namespace"] for event in events} == {NAMESPACE}
    starts = [event for event in events if event["eventType"] == "START"]
    assert all(not event.get("outputs") for event in starts)
    assert [names(event["inputs"]) for event in starts][:3] == [
        names(event["inputs"]) for event in completes
    ]

    for event, rec in zip(completes, records, strict=True):
        facets = event["run"]["facets"]
        assert facets["ntrk"]["record"] == without_nulls(rec)
        assert facets["processing_engine"]["name"] == "ntrk"
        assert facets["processing_engine"]["version"] == __version__
        assert event["eventTime"].startswith(str(rec["start"])[:10])
        location = event["job"]["facets"]["sourceCodeLocation"]
        assert location["version"] == rec["git"]["commit"]  # type: ignore[index]
        assert location["url"] == (
            f"{NAMESPACE}/blob/{rec['git']['commit']}/{rec['script']['path']}"  # type: ignore[index]
        )
        assert location["repoUrl"] == REMOTE and location["type"] == "git"
        job_type = event["job"]["facets"]["jobType"]
        assert (job_type["processingType"], job_type["integration"]) == ("BATCH", "NTRK")
    assert starts[0]["run"]["facets"]["ntrk"]["record"]["start"] == records[0]["start"]
    assert "outputs" not in starts[0]["run"]["facets"]["ntrk"]["record"]

    fail = events[-1]
    assert fail["run"]["facets"]["errorMessage"]["message"] == "python exited with status 1"
    assert fail["run"]["facets"]["errorMessage"]["programmingLanguage"] == "PYTHON"
    assert fail["run"]["facets"]["ntrk"]["record"]["exit"] == 1
    assert names(fail["inputs"]) == [(NAMESPACE, "summary.txt")]


def test_a_run_ended_by_a_signal_is_aborted(pipeline_repo: Path, server: Server) -> None:
    suicide = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    done = track(pipeline_repo, ["python", "-c", suicide, "-o", "x"], OPENLINEAGE_URL=server.url)
    assert done.returncode == 128 + 15
    assert [event["eventType"] for event in server.events] == ["START", "ABORT"]
    abort = server.events[1]
    validate_event(abort)
    assert abort["run"]["facets"]["errorMessage"]["message"] == "python was killed by SIGTERM"
    assert read_log(pipeline_repo) == []


def test_ctrl_c_aborts_the_run(pipeline_repo: Path, server: Server) -> None:
    """Ctrl-C reaches the whole foreground process group: here the command sends SIGINT to its
    group (nt's, in a session of its own so that pytest is not in it), as the terminal does."""
    ctrl_c = "import os, signal, time; os.killpg(0, signal.SIGINT); time.sleep(5)"
    done = subprocess.run(
        [NT, "track", "python", "-c", ctrl_c, "-o", "x"],
        cwd=pipeline_repo,
        env={**os.environ, "OPENLINEAGE_URL": server.url},
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=120,  # only to stop a hang
    )
    assert done.returncode == 128 + 2, done.stderr
    assert [event["eventType"] for event in server.events] == ["START", "ABORT"]
    validate_event(server.events[1])
    assert "SIGINT" in server.events[1]["run"]["facets"]["errorMessage"]["message"]
    assert read_log(pipeline_repo) == []


def test_a_run_without_outputs_completes_without_a_record(
    pipeline_repo: Path, server: Server
) -> None:
    done = track(
        pipeline_repo, ["python", "-c", "pass", "-o", "never.txt"], OPENLINEAGE_URL=server.url
    )
    assert done.returncode == 0
    assert [event["eventType"] for event in server.events] == ["START", "COMPLETE"]
    complete = server.events[1]
    validate_event(complete)
    assert complete["run"]["facets"]["ntrk"]["record"]["exit"] == 0
    assert not complete.get("outputs")


def test_a_command_that_cannot_start_fails(pipeline_repo: Path, server: Server) -> None:
    """ntrk's own error after START (here: no such program) still ends the run, with FAIL."""
    done = track(pipeline_repo, ["no-such-program", "-o", "x"], OPENLINEAGE_URL=server.url)
    assert done.returncode == 127
    assert [event["eventType"] for event in server.events] == ["START", "FAIL"]
    validate_event(server.events[1])
    message = server.events[1]["run"]["facets"]["errorMessage"]["message"]
    assert message.startswith("command not found: no-such-program — ")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["refuses", "stalls"])
def dead_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    """An endpoint that refuses connections, or one that accepts them and never answers."""
    if request.param == "refuses":
        yield f"http://127.0.0.1:{_closed_port()}"
        return
    with socket.socket() as listener:  # the kernel completes connections; nobody reads them
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_dead_endpoint_costs_at_most_the_timeout(pipeline_repo: Path, dead_endpoint: str) -> None:
    """Unbounded, the client retries: ~9 s per event when refused, 6 timeouts when stalled."""
    timeout = 2
    step = ["python", "step.py", "-i", "raw.csv", "-o", "clean.csv"]
    began = time.monotonic()
    assert track(pipeline_repo, step).returncode == 0
    baseline = time.monotonic() - began
    (pipeline_repo / "clean.csv").unlink()
    settings = {
        "OPENLINEAGE__TRANSPORT__TYPE": "http",
        "OPENLINEAGE__TRANSPORT__URL": dead_endpoint,
        "OPENLINEAGE__TRANSPORT__TIMEOUT": str(timeout),
    }
    began = time.monotonic()
    done = track(pipeline_repo, step, **settings)
    elapsed = time.monotonic() - began
    assert done.returncode == 0
    assert len(read_log(pipeline_repo)) == 2  # recorded all the same
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert f"not delivered to {dead_endpoint}/api/v1/lineage" in warnings[0]
    assert "nt export openlineage --emit" in warnings[0]
    # Margin for importing and starting the client on a busy machine; the retries it cuts
    # short would take 18 s or more.
    assert elapsed < baseline + timeout + 4, (elapsed, baseline)


def test_nothing_is_imported_or_started_when_nothing_is_configured(pipeline_repo: Path) -> None:
    code = (
        "import sys, threading\n"
        "from ntrk.cli import main\n"
        "code = main(['track', 'python', 'step.py', '-i', 'raw.csv', '-o', 'clean.csv'])\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('openlineage', 'ntrk.export.')))\n"
        "threads = [t.name for t in threading.enumerate() if t.name.startswith('ntrk')]\n"
        "print(code, loaded, threads)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=pipeline_repo, capture_output=True, text=True
    )
    assert done.stdout == "0 ['ntrk.export.client_config', 'ntrk.export.openlineage'] []\n", (
        done.stderr
    )


def test_configured_without_the_client_warns_once(pipeline_repo: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['openlineage'] = None  # as if the extra were not installed\n"
        "from ntrk.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "OPENLINEAGE_URL": f"http://127.0.0.1:{_closed_port()}"}
    step = ["track", "python", "step.py", "-i", "raw.csv", "-o", "clean.csv"]
    done = subprocess.run(
        [sys.executable, "-c", code, *step],
        cwd=pipeline_repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0
    assert len(read_log(pipeline_repo)) == 1
    assert (
        "nt: warning: OpenLineage is configured (OPENLINEAGE_URL) but its client is not "
        "installed — pip install 'ntrk[openlineage]', or unset it"
    ) in done.stderr.splitlines()
    assert done.stderr.count("warning") == 1
    export = subprocess.run(
        [sys.executable, "-c", code, "export", "openlineage"],
        cwd=pipeline_repo,
        capture_output=True,
        text=True,
    )
    assert export.returncode == 1
    assert export.stderr == (
        "nt: the OpenLineage client is not installed — pip install 'ntrk[openlineage]'\n"
    )


def test_an_openlineage_yml_in_the_home_directory_is_used(
    pipeline_repo: Path, hermetic_git: Path
) -> None:
    events = hermetic_git / "events.ndjson"
    (hermetic_git / ".openlineage").mkdir()
    (hermetic_git / ".openlineage" / "openlineage.yml").write_text(
        f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n"
    )
    done = track(pipeline_repo, PIPELINE[0])
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
    written = [json.loads(line) for line in events.read_text().splitlines()]
    assert [event["eventType"] for event in written] == ["START", "COMPLETE"]
    for event in written:
        validate_event(event)


def test_an_openlineage_yml_that_came_with_the_repository_is_used_only_once_trusted(
    pipeline_repo: Path, hermetic_git: Path
) -> None:
    # A cloned repository must not choose where every run's command lines and paths go.
    events = hermetic_git / "exfiltrated.ndjson"
    (pipeline_repo / "openlineage.yml").write_text(
        f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n"
    )
    commit_all(pipeline_repo, "a repository that names its own lineage endpoint")
    done = track(pipeline_repo, PIPELINE[0])
    assert done.returncode == 0 and len(read_log(pipeline_repo)) == 1
    assert not events.exists()
    assert "openlineage.yml here came with the repository" in done.stderr
    assert "nt trust" in done.stderr
    trusted = nt(pipeline_repo, "trust")
    assert trusted.returncode == 0 and "openlineage.yml" in trusted.stdout
    done = track(pipeline_repo, PIPELINE[1])
    assert done.returncode == 0 and "came with the repository" not in done.stderr
    written = [json.loads(line) for line in events.read_text().splitlines()]
    assert [event["eventType"] for event in written] == ["START", "COMPLETE"]


def test_the_console_transport_prints_events_on_stderr(pipeline_repo: Path) -> None:
    done = track(pipeline_repo, PIPELINE[0], OPENLINEAGE__TRANSPORT__TYPE="console")
    assert done.returncode == 0
    printed = [line for line in done.stderr.splitlines() if line.startswith("nt: openlineage: ")]
    events = [json.loads(line.removeprefix("nt: openlineage: ")) for line in printed]
    assert [event["eventType"] for event in events] == ["START", "COMPLETE"]


def test_an_invalid_configuration_warns_and_records(pipeline_repo: Path) -> None:
    done = track(pipeline_repo, PIPELINE[0], OPENLINEAGE__TRANSPORT__TYPE="http")  # no url
    assert done.returncode == 0
    assert len(read_log(pipeline_repo)) == 1
    (warning,) = [line for line in done.stderr.splitlines() if "warning" in line]
    assert "the OpenLineage configuration is invalid" in warning
    assert "Traceback" not in done.stderr


# -- nt export openlineage --------------------------------------------------------------------


def test_export_writes_what_track_sent(pipeline_repo: Path, server: Server) -> None:
    for argv in PIPELINE:
        assert track(pipeline_repo, argv, OPENLINEAGE_URL=server.url).returncode == 0
    done = nt(pipeline_repo, "export", "openlineage")
    assert done.returncode == 0, done.stderr
    exported = [json.loads(line) for line in done.stdout.splitlines()]
    for event in exported:
        validate_event(event)
    sent = server.events
    for event in sent:
        del event["run"]["facets"]["tags"]  # the client adds its own version as a tag
    assert exported == sent


def test_export_of_paths_follows_their_lineage(pipeline_repo: Path, server: Server) -> None:
    for argv in PIPELINE:
        assert track(pipeline_repo, argv).returncode == 0
    records = read_log(pipeline_repo)
    done = nt(pipeline_repo, "export", "openlineage", "parts")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [event["run"]["runId"] for event in events] == [
        str(uuid.UUID(str(rec["id"]))) for rec in records[:2] for _ in range(2)
    ]
    assert [event["eventTime"] for event in events[::2]] == [
        str(rec["start"]) for rec in records[:2]
    ]

    target = pipeline_repo.parent / "events.ndjson"
    written = nt(pipeline_repo, "export", "openlineage", "summary.txt", "-o", str(target))
    assert written.returncode == 0 and written.stdout == ""
    assert written.stderr == f"nt: wrote 6 event(s) of 3 run(s) to {target}\n"
    assert len(target.read_text().splitlines()) == 6

    emitted = nt(pipeline_repo, "export", "openlineage", "--emit", OPENLINEAGE_URL=server.url)
    assert emitted.returncode == 0, emitted.stderr
    assert emitted.stderr == (f"nt: sent 6 event(s) of 3 run(s) to {server.url}/api/v1/lineage\n")
    assert [event["eventType"] for event in server.events] == ["START", "COMPLETE"] * 3


def test_export_refusals(pipeline_repo: Path) -> None:
    both = nt(pipeline_repo, "export", "openlineage", "--emit", "-o", "x.ndjson")
    assert both.returncode == 2 and "choose one" in both.stderr
    nothing = nt(pipeline_repo, "export", "openlineage", "--emit")
    assert (nothing.returncode, nothing.stderr) == (0, "nt: no recorded runs; nothing sent\n")
    assert track(pipeline_repo, PIPELINE[0]).returncode == 0
    nowhere = nt(pipeline_repo, "export", "openlineage", "--emit")
    assert nowhere.returncode == 1
    assert nowhere.stderr.startswith("nt: OpenLineage is not configured")
    dead = nt(
        pipeline_repo,
        "export",
        "openlineage",
        "--emit",
        OPENLINEAGE__TRANSPORT__TYPE="http",
        OPENLINEAGE__TRANSPORT__URL=f"http://127.0.0.1:{_closed_port()}",
        OPENLINEAGE__TRANSPORT__TIMEOUT="1",
    )
    assert dead.returncode == 1
    assert dead.stderr.count("\n") == 1 and "event 1 of 2 not delivered" in dead.stderr
    missing = nt(pipeline_repo, "export", "openlineage", "nowhere.csv")
    assert missing.returncode == 1 and "no lineage found for nowhere.csv" in missing.stderr


def test_export_leaves_out_runs_whose_times_are_not_times(pipeline_repo: Path) -> None:
    for argv in PIPELINE[:2]:
        assert track(pipeline_repo, argv).returncode == 0
    first, second = read_log(pipeline_repo)
    first.pop("start")
    first["ts"] = "the day before yesterday"
    log = pipeline_repo / ".ntrk" / "runs.jsonl"
    log.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    git(pipeline_repo, "update-ref", "-d", "refs/notes/ntrk")
    (pipeline_repo / ".git" / "ntrk" / "index.sqlite").unlink()
    done = nt(pipeline_repo, "export", "openlineage")
    assert done.returncode == 0
    assert done.stderr == (
        f"nt: warning: 1 run(s) left out, their recorded times are not times: {first['id'][:8]}\n"
    )
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert {event["run"]["runId"] for event in events} == {str(uuid.UUID(str(second["id"])))}


# -- names ------------------------------------------------------------------------------------


def test_two_clones_name_everything_the_same_way(pipeline_repo: Path, tmp_path: Path) -> None:
    for argv in PIPELINE:
        assert track(pipeline_repo, argv).returncode == 0
    commit_all(pipeline_repo, "results")
    clone = tmp_path / "elsewhere" / "copy"
    git(tmp_path, "clone", "-q", str(pipeline_repo), str(clone))
    git(clone, "remote", "set-url", "origin", "https://ci-token@github.com/acme/pipeline")

    def identities(root: Path) -> list[Any]:
        done = nt(root, "export", "openlineage")
        assert done.returncode == 0, done.stderr
        found = []
        for event in map(json.loads, done.stdout.splitlines()):
            datasets = event.get("inputs", []) + event.get("outputs", [])
            found.append(
                (
                    event["run"]["runId"],
                    event["job"]["namespace"],
                    event["job"]["name"],
                    [(dataset["namespace"], dataset["name"]) for dataset in datasets],
                )
            )
        return found

    assert identities(clone) == identities(pipeline_repo)
    assert "ci-token" not in nt(clone, "export", "openlineage").stdout


def test_the_job_namespace_can_be_set(pipeline_repo: Path) -> None:
    assert track(pipeline_repo, PIPELINE[0]).returncode == 0
    commit_all(pipeline_repo, "results")

    def namespaces(**env: str) -> set[tuple[str, str]]:
        done = nt(pipeline_repo, "export", "openlineage", **env)
        assert done.returncode == 0, done.stderr
        events = [json.loads(line) for line in done.stdout.splitlines()]
        return {(event["job"]["namespace"], event["inputs"][0]["namespace"]) for event in events}

    assert namespaces() == {(NAMESPACE, NAMESPACE)}
    (pipeline_repo / "ntrk.toml").write_text('[openlineage]\nnamespace = "team-ml"\n')
    assert namespaces() == {("team-ml", NAMESPACE)}  # datasets keep the repository's name
    assert namespaces(OPENLINEAGE_NAMESPACE="prod") == {("prod", NAMESPACE)}
    (pipeline_repo / "ntrk.toml").write_text("[openlineage]\nnamespace = 3\n")
    done = nt(pipeline_repo, "export", "openlineage")
    assert done.returncode == 1 and "openlineage.namespace must be a name" in done.stderr


def test_without_a_remote_files_have_their_local_names(repo: Path) -> None:
    done = track(repo, ["python", "step.py", "-i", "raw.csv", "-o", "clean.csv"])
    assert done.returncode == 0
    exported = nt(repo, "export", "openlineage")
    event = json.loads(exported.stdout.splitlines()[1])
    validate_event(event)
    assert (event["outputs"][0]["namespace"], event["outputs"][0]["name"]) == (
        "file",
        f"{repo}/clean.csv",
    )
    assert event["job"]["namespace"] == repo.as_uri()
    assert event["job"]["facets"]["sourceCodeLocation"]["url"] == f"{repo.as_uri()}/step.py"


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("git@github.com:Acme/pipeline.git", "https://github.com/Acme/pipeline"),
        ("https://github.com/Acme/pipeline.git", "https://github.com/Acme/pipeline"),
        ("https://x-token:secret@GitHub.com/Acme/pipeline/", "https://github.com/Acme/pipeline"),
        ("ssh://git@github.com:22/Acme/pipeline.git", "https://github.com/Acme/pipeline"),
        ("git://github.com/Acme/pipeline", "https://github.com/Acme/pipeline"),
        ("https://gitlab.example.com:8443/g/sub/p.git", "https://gitlab.example.com:8443/g/sub/p"),
        ("gitlab.example.com:g/p", "https://gitlab.example.com/g/p"),
        ("/srv/git/pipeline.git", "file:///srv/git/pipeline"),
        ("file:///srv/git/pipeline.git/", "file:///srv/git/pipeline"),
        ("../other/.git", "file:///work/other"),
        ("/srv/git/with space", "file:///srv/git/with%20space"),
    ],
)
def test_repository_urls(remote: str, expected: str) -> None:
    assert naming.repository_url(remote, Path("/work/repo")) == expected


def test_credentials_never_leave_the_remote_url() -> None:
    assert naming.without_credentials("https://user:pw@host/r.git") == "https://host/r.git"
    assert naming.without_credentials("https://ghp_token@host/r") == "https://host/r"
    assert naming.without_credentials("ssh://git:pw@host/r") == "ssh://git@host/r"
    assert naming.without_credentials("git@host:r.git") == "git@host:r.git"


def test_run_ids_are_uuids_on_every_machine() -> None:
    hex_id = uuid.uuid4().hex
    assert naming.run_uuid(hex_id) == str(uuid.UUID(hex_id))
    odd = naming.run_uuid("run-1")
    assert odd == naming.run_uuid("run-1") == str(uuid.UUID(odd))


def test_a_command_without_a_script_file_is_its_own_job(
    pipeline_repo: Path, server: Server
) -> None:
    """`python -c PROGRAM`: the program is no file (and can be too long to be a file name)."""
    program = "import sys; open(sys.argv[-1], 'w').write('x')  # " + "padding " * 40
    done = track(
        pipeline_repo, ["python", "-c", program, "-o", "x.txt"], OPENLINEAGE_URL=server.url
    )
    assert done.returncode == 0, done.stderr
    assert len(read_log(pipeline_repo)) == 1
    job = server.events[0]["job"]
    assert job["name"].startswith("python -c 'import sys;") and len(job["name"]) == 200
    assert "sourceCodeLocation" not in job["facets"]
    assert {event["job"]["name"] for event in server.events} == {job["name"]}


def test_the_readme_shows_a_valid_event() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n### OpenLineage\n") : readme.index("\n### W3C PROV\n")]
    (block,) = re.findall(r"```json\n(.*?)```", section, flags=re.S)
    event = json.loads(block)
    validate_event(event)
    assert event["run"]["facets"]["ntrk"]["_schemaURL"] == FACET_SCHEMA_URL
