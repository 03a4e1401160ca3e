"""`nt sync`: mirror the log into the notes, then exchange notes with a remote.

Fetch and push run the `git` program, not libgit2, so that the user's transports,
credential helpers and SSH setup all work exactly as for their own `git fetch`/`git push`.
A fetched copy of a remote's notes is kept at `refs/notes/remotes/<remote>/ntrk` (read by
`nt trace` too), then merged into `refs/notes/ntrk`: the union of the records on every commit,
whatever the two notes commits' ancestry (see `notes`), so a sync never drops a record on
either side.

Every `git` it runs is bounded in time: `git config ntrk.networkTimeout SECONDS` (default 120)
per fetch or push, after which git and everything it started are killed and the remote is
named in one line. In a partial clone (`git clone --filter=blob:none`) the note blobs the
fetch left behind are fetched explicitly: libgit2 does not fetch missing objects itself.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field

import pygit2

from ntrk.console import CappedWarnings, warn
from ntrk.errors import NtrkError
from ntrk.gitcli import GitError, GitResult, GitTimeout, run
from ntrk.layout import NOTES_REF, tracking_ref
from ntrk.record import Record
from ntrk.repo import Repo
from ntrk.store import configure_notes, index, notes, runlog

PUSH_ATTEMPTS = 5
# Every way git says "the remote moved since you looked": matching only one of them is how
# a peer tool lost notes silently.
_RACE_MARKERS = (
    "fetch first",
    "non-fast-forward",
    "cannot lock ref",
    "stale info",
    "failed to update ref",
    "[rejected]",
)
_NO_REMOTE_REF = "couldn't find remote ref"
_DEFAULT_TIMEOUT = 120
_TIMEOUT_KEY = "ntrk.networkTimeout"
_FETCH_CHUNK = 500


@dataclass
class SyncReport:
    """What `nt sync` did (or, with --dry-run, would do)."""

    remote: str
    mirrored: int = 0
    fetched: int = 0
    remote_has_notes: bool = False
    merge: str = "up to date"
    pushed: bool = False
    push_attempts: int = 0
    configured: list[str] = field(default_factory=list)


def sync(repo: Repo, remote: str | None = None, dry_run: bool = False) -> SyncReport:
    """Mirror, fetch, merge and push lineage notes."""
    name = remote or repo.default_remote()
    if name not in remote_names(repo):
        raise NtrkError(
            f"no remote named '{name}'",
            "name one (nt sync REMOTE) or add it (git remote add origin URL)",
        )
    report = SyncReport(remote=name)
    report.configured = configure_notes(repo, dry_run=dry_run)
    try:
        known = notes.record_ids(repo.git)  # kept up to date below instead of read again
    except notes.HostileTree as exc:
        raise NtrkError(
            f"your {NOTES_REF} is not read: its notes tree {exc}",
            f"point it back at an earlier notes commit (git reflog {NOTES_REF})",
        ) from exc
    missing = unmirrored(repo, known)
    report.mirrored = len(missing)
    if dry_run:
        report.remote_has_notes = remote_has_notes(repo, name)
        return report
    if missing:
        try:
            notes.add(repo.git, missing, f"ntrk: mirror {len(missing)} record(s) from the log")
        except notes.NotesError as exc:
            raise NtrkError(
                f"cannot write git notes: {exc}", "check that .git is writable"
            ) from exc
        known |= {rec.id for rec in missing}
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        report.push_attempts = attempt
        _fetch_and_merge(repo, name, report, known)
        outcome = _push(repo, name)
        if outcome != "raced":
            report.pushed = outcome == "pushed"
            _index_fetched(repo)
            return report
    raise NtrkError(
        f"{name} kept receiving other notes while ntrk pushed ({PUSH_ATTEMPTS} attempts)",
        "run nt sync again; nothing was lost, your notes are merged locally",
    )


def _index_fetched(repo: Repo) -> None:
    """Index what the sync brought in, now: `nt track` orders its run after the newest record
    the index has seen (see `lineage`), and the next command may well be `nt track`."""
    with closing(index.open_index(repo)):
        pass


def unmirrored(repo: Repo, in_notes: set[str]) -> list[Record]:
    """Log records that the local notes do not hold yet (0.1.0 histories, failed writes)."""
    return [e.record for e in runlog.read(repo.root) if e.record.id not in in_notes]


def remote_has_notes(repo: Repo, remote: str) -> bool:
    """Whether the remote has a notes ref (asks the remote)."""
    done = _git(repo, remote, "ls-remote", "--exit-code", remote, NOTES_REF)
    return done.returncode == 0 and bool(done.stdout.strip())


def never_fetched(repo: Repo) -> list[str]:
    """Remotes whose lineage notes this clone never fetched (from local refs: no network)."""
    return [
        remote for remote in remote_names(repo) if tracking_ref(remote) not in repo.git.references
    ]


def remote_names(repo: Repo) -> list[str]:
    """The repository's configured remotes."""
    return [name for name in repo.git.remotes.names() if name]


def _fetch_and_merge(repo: Repo, remote: str, report: SyncReport, known: set[str]) -> None:
    """Fetch the remote's notes and merge them; `known` (the local record ids) grows with it."""
    refspec = f"+{NOTES_REF}:{tracking_ref(remote)}"
    before = notes.notes_commit(repo.git, tracking_ref(remote))
    done = _git(repo, remote, "fetch", "--no-tags", "--quiet", remote, refspec)
    if done.returncode != 0:
        if _NO_REMOTE_REF in done.stderr:
            report.remote_has_notes = False
            return
        raise NtrkError(
            f"cannot fetch notes from {remote}: {done.message}",
            f"check the remote and your access (git fetch {remote})",
        )
    report.remote_has_notes = True
    theirs = notes.notes_commit(repo.git, tracking_ref(remote))
    if theirs is None:
        raise NtrkError(
            f"{remote}'s {NOTES_REF} does not point at a commit",
            "ask whoever manages the remote; ntrk will not merge it",
        )
    _fetch_missing_blobs(repo, remote)
    try:
        arrived = _record_ids_added(repo, remote, before, theirs) - known
        report.merge, _ = notes.merge_tips(repo.git, theirs.id, f"ntrk: merge notes from {remote}")
    except notes.HostileTree as exc:
        _forget_fetch(repo, remote, before)
        raise NtrkError(
            f"{remote}'s lineage notes are not merged: their notes tree {exc}",
            f"ask whoever can push to {remote} to replace its {NOTES_REF}; yours are kept",
        ) from exc
    except notes.NotesError as exc:
        raise NtrkError(f"cannot merge notes: {exc}", "check that .git is writable") from exc
    report.fetched += len(arrived)
    known |= arrived


def _forget_fetch(repo: Repo, remote: str, before: pygit2.Commit | None) -> None:
    """Put the remote's tracking ref back where it was, so that no command reads a notes tree
    that was refused (the next sync fetches it again, and refuses it again)."""
    ref = tracking_ref(remote)
    try:
        if before is None:
            repo.git.references.delete(ref)
        else:
            repo.git.references.create(ref, before.id, force=True)
    except (KeyError, pygit2.GitError) as exc:
        warn(f"cannot reset {ref} ({exc}); run: git update-ref -d {ref}")


def _push(repo: Repo, remote: str) -> str:
    local = notes.notes_commit(repo.git)
    if local is None:
        return "nothing"
    fetched = notes.notes_commit(repo.git, tracking_ref(remote))
    if fetched is not None and fetched.id == local.id:
        return "nothing"
    # --no-verify: this push runs from ntrk's own pre-push hook too, and must not recurse.
    done = _git(repo, remote, "push", "--quiet", "--no-verify", remote, f"{NOTES_REF}:{NOTES_REF}")
    if done.returncode == 0:
        return "pushed"
    if f"{NOTES_REF}.lock" in done.stderr and "File exists" in done.stderr:
        raise NtrkError(
            f"{remote}'s {NOTES_REF} is locked: {done.message}",
            f"a push to it crashed or is still running; if none is, remove that "
            f"{NOTES_REF}.lock file on the server, then run nt sync again",
        )
    if any(marker in done.stderr for marker in _RACE_MARKERS):
        return "raced"
    raise NtrkError(
        f"cannot push notes to {remote}: {done.message}",
        f"check your access (git push {remote} {NOTES_REF}); your notes are kept locally",
    )


def _fetch_missing_blobs(repo: Repo, remote: str) -> None:
    """In a partial clone, fetch the note blobs that the notes fetch left behind."""
    if not _is_partial_clone(repo):
        return
    listing = run(repo.root, "rev-list", "--objects", "--missing=print", tracking_ref(remote))
    missing = [line[1:] for line in listing.stdout.split() if line.startswith("?")]
    for start in range(0, len(missing), _FETCH_CHUNK):
        chunk = missing[start : start + _FETCH_CHUNK]
        done = _git(
            repo, remote, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
            "--filter=blob:none", remote, *chunk,
        )  # fmt: skip
        if not done.ok:
            warn(
                f"{len(missing) - start} note(s) from {remote} are not in this partial clone "
                f"and could not be fetched ({done.message}); traces will lack them"
            )
            return


def _is_partial_clone(repo: Repo) -> bool:
    config = repo.git.config
    if "extensions.partialclone" in config:
        return True
    return any(
        config.get_bool(f"remote.{name}.promisor")
        for name in remote_names(repo)
        if f"remote.{name}.promisor" in config
    )


def _record_ids_added(
    repo: Repo, remote: str, before: pygit2.Commit | None, after: pygit2.Commit
) -> set[str]:
    """The ids of the records in notes that changed between two notes commits; notes that
    cannot be read are named (the first few: one bad blob may be named by thousands)."""
    _, came = notes.diff(repo.git, before.tree if before else None, after.tree)
    warnings = CappedWarnings(f"{remote}'s notes", "notes skipped")
    ids = notes.ids_in(repo.git, sorted(came.items()), warnings)
    warnings.close()
    return ids


def _git(repo: Repo, remote: str, *args: str) -> GitResult:
    """Run a networked git command against `remote`, bounded by ntrk.networkTimeout."""
    timeout = _timeout(repo)
    try:
        return run(repo.root, *args, timeout=timeout, network=True)
    except GitTimeout as exc:
        raise NtrkError(
            f"{remote} did not answer within {timeout:g} s (git {args[0]})",
            f"check the network and the remote's URL (git remote -v); to wait longer: "
            f"git config {_TIMEOUT_KEY} SECONDS",
        ) from exc
    except GitError as exc:
        raise NtrkError(f"cannot run git: {exc.message}", "check that git is installed") from exc


def _timeout(repo: Repo) -> float:
    try:
        value = repo.git.config.get_int(_TIMEOUT_KEY)
    except (KeyError, ValueError, pygit2.GitError):
        return _DEFAULT_TIMEOUT
    return float(value) if value > 0 else _DEFAULT_TIMEOUT
