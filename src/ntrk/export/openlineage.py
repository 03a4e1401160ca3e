"""OpenLineage RunEvents for ntrk's runs: live from `nt track`, or from records for `nt export`.

Events are built with the official client's classes (`openlineage-python`, the `openlineage`
extra), imported only when an event is built. A run gives `START` (when the command starts,
with its inputs) and one of `COMPLETE` (with its outputs), `FAIL` (the command failed, or ntrk
could not record it) or `ABORT` (a signal ended it); the run id is the record's id. Names
follow `naming`; the facets are the standard ones where they fit —

- job: `jobType` (BATCH, integration NTRK, jobType COMMAND) and `sourceCodeLocation` (git, the
  script's URL at the commit, repository URL, path, commit, branch) for a committed script;
- run: `processing_engine` (ntrk and its version), `errorMessage` on FAIL and ABORT, and
  `ntrk`, the record: whole on COMPLETE (as in `.ntrk/runs.jsonl`), on START the fields known
  before the command runs, on FAIL and ABORT those with `duration` and `exit`. Its JSON Schema
  ships beside this module (`NtrkRunFacet.json`) and `_schemaURL` names it at this version's tag;
- datasets: `version` (the md5) and `inputStatistics`/`outputStatistics` (size, file count).

The client leaves out null values, so a record's null fields are absent from the facet.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ntrk import __version__, record
from ntrk.config import Config
from ntrk.console import warn
from ntrk.errors import NtrkError
from ntrk.export.client_config import CONFIG_FILE, EXTRA_HINT, configured, untrusted_config
from ntrk.record import FileRef, Record, Script
from ntrk.repo import Head, Repo
from ntrk.runner import FORWARDED, RunResult

if TYPE_CHECKING:
    from ntrk.export.delivery import Sender
    from ntrk.export.naming import Names

PRODUCER = f"https://github.com/tim-hudelmaier/ntrk/tree/v{__version__}"
FACET_SCHEMA_FILE = Path(__file__).with_name("NtrkRunFacet.json")
FACET_SCHEMA_URL = (
    f"https://raw.githubusercontent.com/tim-hudelmaier/ntrk/v{__version__}"
    "/src/ntrk/export/NtrkRunFacet.json#/$defs/NtrkRunFacet"
)
# The record's fields that are known before the command runs: a START event's `ntrk` facet.
STARTED_FIELDS = ("v", "id", "git", "cwd", "script", "command", "inputs", "start")
# Signals that stop a run rather than crash it: the run was aborted, not failed.
_STOPPING = FORWARDED | {signal.SIGKILL}
_LANGUAGES = {
    ".py": "PYTHON",
    ".r": "R",
    ".sh": "SHELL",
    ".jl": "JULIA",
    ".rb": "RUBY",
    ".js": "JAVASCRIPT",
    ".pl": "PERL",
}
_INTERPRETERS = {
    "python": "PYTHON",
    "rscript": "R",
    "r": "R",
    "bash": "SHELL",
    "sh": "SHELL",
    "zsh": "SHELL",
    "julia": "JULIA",
    "ruby": "RUBY",
    "node": "JAVASCRIPT",
    "perl": "PERL",
}


def record_events(records: Iterable[Record], repo: Repo, settings: Config) -> list[Any]:
    """START and COMPLETE for each record, in order, at the recorded times (`nt export`)."""
    from ntrk.export.naming import names

    naming = names(repo, settings)
    events, left_out = [], []
    for rec in records:
        began, ended = _times(rec)
        if began is None or ended is None:
            left_out.append(rec.id[:8])
            continue
        events.append(_start_event(rec, began, naming))
        events.append(_complete_event(rec, ended, naming))
    if left_out:
        some = ", ".join(left_out[:5]) + (" and more" if len(left_out) > 5 else "")
        warn(f"{len(left_out)} run(s) left out, their recorded times are not times: {some}")
    return events


def to_json(event: Any) -> str:
    """One event as one line of JSON, as the client's transports serialise it."""
    from openlineage.client.serde import Serde

    return Serde.to_json(event)


def emit(events: Sequence[Any], repo: Repo | None = None) -> str:
    """Send `events` in order through the configured transport; where they went.

    Each event gets the transport's timeout; the first one that fails stops the rest.
    """
    from ntrk.export import delivery

    _warn_untrusted(repo)
    if configured(repo) is None:
        raise NtrkError(
            "OpenLineage is not configured: there is nowhere to send events",
            "set OPENLINEAGE_URL (or write an openlineage.yml), or print them without --emit",
        )
    client = delivery.connect(untrusted_config(repo))
    where, seconds = delivery.destination(client), delivery.timeout_of(client)
    for number, event in enumerate(events, start=1):
        failure = delivery.call_within(functools.partial(client.emit, event), seconds)
        if failure is not None:
            raise NtrkError(
                f"OpenLineage event {number} of {len(events)} not delivered to {where} ({failure})",
                "check that the endpoint is up and run again; a lineage service keeps one "
                "state per run, so events sent twice do no harm",
            )
    delivery.call_within(functools.partial(client.close, seconds), seconds)
    return where


def track_events(repo: Repo) -> TrackEvents:
    """The events of one `nt track`: real when OpenLineage is configured, else no-ops."""
    _warn_untrusted(repo)
    return TrackEvents(repo, configured(repo))


def _warn_untrusted(repo: Repo | None) -> None:
    ignored = untrusted_config(repo)
    if ignored is not None:
        warn(
            f"{CONFIG_FILE} here came with the repository and says where run events go; "
            "ntrk sends them there only once you trust it (nt trust), so none were sent"
        )


class TrackEvents:
    """START before the command, COMPLETE, FAIL or ABORT after it; one warning on failure.

    Used as a context manager around `nt track`: an exception after START (ntrk could not
    record the run, or was interrupted) still ends the run with FAIL or ABORT, and leaving
    waits for delivery no longer than the transport's timeout. Nothing here ever changes the
    run's exit status or its record.
    """

    def __init__(self, repo: Repo, source: str | None) -> None:
        self.repo = repo
        self.source = source  # where OpenLineage is configured; None: do nothing at all
        self.missing_client = False
        self.sender: Sender | None = None
        self.draft: Record | None = None
        self.naming: Names | None = None
        self.end_time: str | None = None
        self.outcome: dict[str, Any] = {}  # duration and exit, once the command ended
        self.ended = False
        self.recorded = False

    def __enter__(self) -> TrackEvents:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if error is not None and not self.ended:
            state = "ABORT" if isinstance(error, KeyboardInterrupt) else "FAIL"
            self._end(state, str(error) or type(error).__name__)
        self._finish()

    def started(
        self,
        settings: Config,
        run_id: str,
        head: Head,
        cwd: str,
        script: Script | None,
        argv: Sequence[str],
        inputs: Sequence[FileRef],
        start: str,
    ) -> None:
        """Queue START; it is sent once `send` is called, when the command runs."""
        if self.source is None:
            return
        # Imported only now: most `nt track`s never get here, and these cost ~10 ms.
        from ntrk.export import delivery
        from ntrk.export.naming import names

        if not delivery.installed():
            self.missing_client = True
            return
        # The record ntrk will write, less what only the end of the run can say.
        self.draft = record.create(
            run_id=run_id,
            commit=head.commit,
            branch=head.branch,
            cwd=cwd,
            script=script,
            command=argv,
            inputs=inputs,
            outputs=(),
            start=start,
            duration=0.0,
        )
        self.naming = names(self.repo, settings)
        self.sender = delivery.Sender(untrusted_config(self.repo))
        self.sender.put(functools.partial(_start_event, self.draft, start, self.naming))

    def send(self) -> None:
        """Start sending (`runner.run` calls this once the command runs)."""
        if self.sender is not None:
            self.sender.start()

    def finished(self, result: RunResult) -> None:
        """Note how the command ended; queue FAIL or ABORT when it did not succeed."""
        if self.sender is None or self.draft is None:
            return
        self.end_time = record.now_precise()
        self.outcome = {"duration": round(result.duration, 6), "exit": result.exit_code}
        self.sender.start()
        self.sender.wait_ready()
        if result.succeeded:
            return
        program = self.draft.command[0]
        signo = result.interrupted_by or result.killed_by
        if signo is None:
            self._end("FAIL", f"{program} exited with status {result.exit_code}")
            return
        how = "interrupted" if result.interrupted_by else f"{program} was killed"
        state = "ABORT" if signo in _STOPPING else "FAIL"
        self._end(state, f"{how} by {signal.Signals(signo).name}")

    def completed(self, rec: Record | None) -> None:
        """Queue COMPLETE: with the record, or without one when no outputs were produced."""
        if self.sender is None or self.naming is None:
            return
        if rec is None:
            self._end("COMPLETE", None)
            return
        self.ended = self.recorded = True
        ended = _times(rec)[1] or record.now_precise()
        self.sender.put(functools.partial(_complete_event, rec, ended, self.naming))

    def _end(self, state: str, error: str | None) -> None:
        if self.sender is None or self.draft is None or self.naming is None:
            return
        self.ended = True
        when = self.end_time or record.now_precise()
        build = functools.partial(
            _end_event, self.draft, state, when, error, self.outcome, self.naming
        )
        self.sender.put(build)

    def _finish(self) -> None:
        if self.missing_client:
            warn(
                f"OpenLineage is configured ({self.source}) but its client is not installed — "
                f"{EXTRA_HINT}, or unset it"
            )
            return
        if self.sender is None or self.draft is None:
            return
        sender = self.sender
        sender.finish()
        later = "; nt export openlineage --emit can send it later" if self.recorded else ""
        if sender.setup_error is not None:
            problem = sender.setup_error
            warn(f"OpenLineage events of run {self.draft.id[:8]} not sent: {problem}{later}")
        elif sender.failure is not None:
            warn(
                f"OpenLineage events of run {self.draft.id[:8]} not delivered to "
                f"{sender.destination} ({sender.failure}) — is the endpoint up? "
                f"(configured by {self.source}){later}"
            )


def _start_event(rec: Record, when: str, naming: Names) -> Any:
    started = {key: rec.data[key] for key in STARTED_FIELDS if key in rec.data}
    return _event("START", when, rec, naming, started, outputs=())


def _complete_event(rec: Record, when: str, naming: Names) -> Any:
    return _event("COMPLETE", when, rec, naming, rec.to_dict(), outputs=rec.outputs)


def _end_event(
    rec: Record,
    state: str,
    when: str,
    error: str | None,
    outcome: Mapping[str, Any],
    naming: Names,
) -> Any:
    fields = {key: rec.data[key] for key in STARTED_FIELDS if key in rec.data}
    fields.update(outcome)
    return _event(state, when, rec, naming, fields, outputs=(), error=error)


def _event(
    state: str,
    when: str,
    rec: Record,
    naming: Names,
    fields: Mapping[str, Any],
    outputs: Sequence[FileRef],
    error: str | None = None,
) -> Any:
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import (
        error_message_run,
        job_type_job,
        processing_engine_run,
        source_code_location_job,
    )

    from ntrk.export.naming import run_uuid

    run_facets: dict[str, Any] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=__version__,
            name="ntrk",
            openlineageAdapterVersion=__version__,
            producer=PRODUCER,
        ),
        "ntrk": _facet_type()(record=dict(fields), producer=PRODUCER),
    }
    if error is not None:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage=_language(rec), producer=PRODUCER
        )
    job_facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="NTRK", jobType="COMMAND", producer=PRODUCER
        )
    }
    script = rec.script
    if script is not None and script.blob is not None:
        branch = rec.branch if rec.branch and rec.branch != "HEAD" else None
        job_facets["sourceCodeLocation"] = source_code_location_job.SourceCodeLocationJobFacet(
            type="git",
            url=naming.source_url(script.path, rec.commit),
            repoUrl=naming.repo_url,
            path=script.path,
            version=rec.commit,
            branch=branch,
            producer=PRODUCER,
        )
    return RunEvent(
        eventType=RunState[state],
        eventTime=when,
        run=Run(runId=run_uuid(rec.id), facets=run_facets),
        job=Job(
            namespace=naming.job_namespace,
            name=naming.job(script, rec.command),
            facets=job_facets,
        ),
        inputs=[_dataset(entry, naming, output=False) for entry in rec.inputs],
        outputs=[_dataset(entry, naming, output=True) for entry in outputs],
        producer=PRODUCER,
    )


def _dataset(entry: FileRef, naming: Names, output: bool) -> Any:
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import (
        dataset_version_dataset,
        input_statistics_input_dataset,
        output_statistics_output_dataset,
    )

    namespace, name = naming.dataset(entry.path)
    facets: dict[str, Any] = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=entry.md5, producer=PRODUCER
        )
    }
    if output:
        statistics = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            size=entry.size, fileCount=entry.files, producer=PRODUCER
        )
        return OutputDataset(
            namespace, name, facets=facets, outputFacets={"outputStatistics": statistics}
        )
    read = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
        size=entry.size, fileCount=entry.files, producer=PRODUCER
    )
    return InputDataset(namespace, name, facets=facets, inputFacets={"inputStatistics": read})


@functools.cache
def _facet_type() -> Any:
    """The `ntrk` run facet's class (made on first use: it derives from the client's)."""
    import attr
    from openlineage.client.facet_v2 import RunFacet

    @attr.define
    class NtrkRunFacet(RunFacet):
        record: dict[str, Any]

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA_URL

    return NtrkRunFacet


def _times(rec: Record) -> tuple[str | None, str | None]:
    """START's and COMPLETE's times: when the run started and ended, as RFC 3339 UTC text."""
    from ntrk.export.runtimes import rfc3339, run_times

    began, ended = run_times(rec)
    return rfc3339(began or ended), rfc3339(ended or began)


def _language(rec: Record) -> str:
    """The errorMessage facet's programmingLanguage: from the script, else the program."""
    if rec.script is not None:
        found = _LANGUAGES.get(PurePosixPath(rec.script.path).suffix.lower())
        if found:
            return found
    program = PurePosixPath(rec.command[0]).name.lower()
    for prefix, language in _INTERPRETERS.items():
        if program == prefix or (prefix == "python" and program.startswith("python")):
            return language
    return "UNKNOWN"
