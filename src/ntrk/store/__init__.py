"""What ntrk keeps: the run log, sidecars, git notes, and the derived index and stat cache.

`record_run` writes a new record to every sink, the log first: it is the source of truth, so
a sink after it that fails only warns (the record is safe, and `nt sync` mirrors what the
notes lack).
"""

from __future__ import annotations

from ntrk.console import warn
from ntrk.record import Record
from ntrk.repo import Repo
from ntrk.store import notes, runlog, sidecar


def record_run(repo: Repo, rec: Record) -> None:
    """Append `rec` to the log, then write its sidecars and its git note."""
    runlog.append(repo.root, [rec])
    for output in rec.outputs:
        try:
            sidecar.write(repo.root / output.path, output.path, rec)
        except OSError as exc:
            warn(f"cannot write the sidecar of {output.path} ({exc.strerror}); the log has it")
    try:
        notes.add(repo.git, [rec])
    except notes.NotesError as exc:
        warn(f"cannot write the git note ({exc}); the log has the run — nt sync mirrors it later")
