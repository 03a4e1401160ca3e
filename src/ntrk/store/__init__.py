"""What ntrk keeps: the run log, sidecars, git notes, and the derived index and stat cache.

`record_run` writes a new record to every sink, the log first: it is the source of truth, so
a sink after it that fails only warns (the record is safe, and `nt sync` mirrors what the
notes lack).
"""

from __future__ import annotations

from collections.abc import Mapping

from ntrk.console import CappedWarnings, say, warn
from ntrk.errors import NtrkError
from ntrk.record import Record
from ntrk.repo import Repo
from ntrk.store import notes, sidecar
from ntrk.store.runlog import LogWriter


def record_run(
    repo: Repo,
    rec: Record,
    log: LogWriter,
    manifests: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Append `rec` to the log, then write its sidecars (with the member manifests of its
    directory outputs, by output path) and its git note."""
    log.append([rec])
    failures = CappedWarnings("sidecars", "sidecars not written; the log has the run")
    for path, exc in sidecar.write_all(repo.root, rec, manifests):
        failures.add(f"cannot write the sidecar of {path} ({exc.strerror}); the log has it")
    failures.close()
    try:
        notes.add(repo.git, [rec])
    except notes.NotesError as exc:
        warn(f"cannot write the git note ({exc}); the log has the run — nt sync mirrors it later")
        return
    # Without notes.rewriteRef, the first `commit --amend` would drop the note it just wrote.
    try:
        changes = notes.configure(repo.git)
    except notes.NotesError as exc:
        warn(f"{exc}; the note is written — nt sync sets notes.rewriteRef later")
        return
    for change in changes:
        say(f"set {change}")


def configure_notes(repo: Repo, dry_run: bool = False) -> list[str]:
    """Set the notes config (see `notes.configure`) for a command that exists to set it."""
    try:
        return notes.configure(repo.git, dry_run=dry_run)
    except notes.NotesError as exc:
        raise NtrkError(
            str(exc), "another git may be writing .git/config: run the command again"
        ) from exc
