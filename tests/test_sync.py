"""`nt sync` and tracing across clones: a bare repository stands in for the server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import NT, clone, commit_all, git, nt, read_log
from history import log_line, v1_record

from ntrk import layout

STEP = ["python", "step.py"]


def track(root: Path, *args: str) -> None:
    result = nt(root, "track", *args)
    assert result.code == 0, result.err


def note_ids(root: Path, ref: str = layout.NOTES_REF) -> set[str]:
    listing = git(root, "notes", f"--ref={ref}", "list").split()
    ids = set()
    for annotated in listing[1::2]:
        for line in git(root, "notes", f"--ref={ref}", "show", annotated).splitlines():
            ids.add(json.loads(line.partition("\t")[2])["id"])
    return ids


def test_fresh_clone_traces_from_notes_alone(server: Path, tmp_path: Path) -> None:
    alice = clone(server, tmp_path / "alice")
    track(alice, *STEP, "-i", "raw.csv", "-o", "clean.csv")
    track(alice, *STEP, "-i", "clean.csv", "-o", "final.csv")
    expected = nt(alice, "trace", "final.csv").out
    assert expected.count("\n") == 2
    sync = nt(alice, "sync")
    assert sync.code == 0, sync.err
    assert sync.out == "0 record(s) mirrored, 0 fetched from origin, pushed\n"

    bob = clone(server, tmp_path / "bob")  # no log, no sidecars: the log was never committed
    for name in ("clean.csv", "final.csv"):
        shutil.copy(alice / name, bob / name)
    before = nt(bob, "trace", "final.csv")
    assert before.code == 1
    assert "this clone never fetched lineage notes from origin" in before.err
    assert "(nt sync origin)" in before.err
    fetched = nt(bob, "sync")
    assert fetched.out == "0 record(s) mirrored, 2 fetched from origin, nothing to push\n"
    assert not (bob / ".ntrk" / "runs.jsonl").exists()
    assert nt(bob, "trace", "final.csv").out == expected


def test_log_and_notes_give_byte_identical_traces(server: Path, tmp_path: Path) -> None:
    alice = clone(server, tmp_path / "alice")
    track(alice, *STEP, "-i", "raw.csv", "-o", "clean.csv")
    track(alice, *STEP, "-i", "clean.csv", "-o", "final.csv")
    with_both = nt(alice, "trace", "final.csv").out
    log = alice / ".ntrk" / "runs.jsonl"
    saved = log.read_bytes()
    log.unlink()
    for side in alice.glob(".*.ntrk"):
        side.unlink()
    notes_only = nt(alice, "trace", "final.csv").out
    log.write_bytes(saved)
    git(alice, "update-ref", "-d", layout.NOTES_REF)
    log_only = nt(alice, "trace", "final.csv").out
    assert with_both == notes_only == log_only


def test_two_clones_on_one_commit_both_survive(server: Path, tmp_path: Path) -> None:
    alice = clone(server, tmp_path / "alice")
    bob = clone(server, tmp_path / "bob")
    track(alice, *STEP, "-i", "raw.csv", "-o", "a.csv")
    track(bob, *STEP, "-i", "raw.csv", "-o", "b.csv")
    assert nt(alice, "sync").code == 0
    bob_sync = nt(bob, "sync")
    assert bob_sync.code == 0, bob_sync.err
    assert bob_sync.out == "0 record(s) mirrored, 1 fetched from origin, pushed\n"
    assert nt(alice, "sync").out == "0 record(s) mirrored, 1 fetched from origin, nothing to push\n"
    everything = {r["id"] for r in read_log(alice)} | {r["id"] for r in read_log(bob)}
    assert note_ids(alice) == note_ids(bob) == everything
    head = git(alice, "rev-parse", "HEAD").strip()
    assert len(git(alice, "notes", "--ref=ntrk", "show", head).splitlines()) == 2


def test_walk_order_across_clones_uses_start_time(server: Path, tmp_path: Path) -> None:
    """Bob re-makes Alice's intermediate later; Alice's step still links to Alice's producer."""
    alice = clone(server, tmp_path / "alice")
    bob = clone(server, tmp_path / "bob")
    track(alice, "python", "-c", "open('x.csv','w').write('X')", "-o", "x.csv")
    track(alice, "python", "-c", "open('y.csv','w').write('Y')", "-i", "x.csv", "-o", "y.csv")
    assert nt(alice, "sync").code == 0
    track(bob, "python", "-c", "open('x.csv','w').write('X') # bob", "-o", "x.csv")
    assert nt(bob, "sync").code == 0
    assert nt(alice, "sync").code == 0
    lines = nt(alice, "trace", "y.csv").out.splitlines()
    assert lines[0].endswith("-> x.csv") and "# bob" not in lines[0]
    alice_log = read_log(alice)
    assert alice_log[0]["command"] != read_log(bob)[0]["command"]
    # Bob has only his log; Alice's records arrive by notes and are placed by start time.
    shutil.copy(alice / "y.csv", bob / "y.csv")
    bob_lines = nt(bob, "trace", "y.csv").out.splitlines()
    assert bob_lines == lines


@pytest.mark.parametrize(
    "moment",
    [
        "server-update",  # Bob lands while the server applies Alice's push: "cannot lock ref"
        "after-fetch",  # Bob lands right after Alice's fetch: "fetch first"
    ],
)
def test_push_race_is_retried_and_loses_nothing(server: Path, tmp_path: Path, moment: str) -> None:
    alice = clone(server, tmp_path / "alice")
    bob = clone(server, tmp_path / "bob")
    track(bob, *STEP, "-i", "raw.csv", "-o", "b1.csv")
    assert nt(bob, "sync").code == 0
    track(bob, *STEP, "-i", "raw.csv", "-o", "b2.csv")  # lands on the server mid-sync
    once = f"[ ! -e {tmp_path}/raced ] && touch {tmp_path}/raced"
    if moment == "server-update":
        git(bob, "push", "-q", "origin", f"{layout.NOTES_REF}:refs/prepared/ntrk")
        script = server / "hooks" / "update"
        land = "git update-ref refs/notes/ntrk $(git rev-parse refs/prepared/ntrk)"
        script.write_text(f'#!/bin/sh\n[ "$1" = refs/notes/ntrk ] && {once} && {land}\nexit 0\n')
    else:
        script = alice / ".git" / "hooks" / "reference-transaction"
        script.write_text(
            f"#!/bin/sh\n{once} && git -C {bob} push -q origin refs/notes/ntrk\nexit 0\n"
        )
    script.chmod(0o755)
    track(alice, *STEP, "-i", "raw.csv", "-o", "a.csv")
    result = nt(alice, "sync")
    assert result.code == 0, result.err
    assert (tmp_path / "raced").exists()
    assert result.out == "0 record(s) mirrored, 2 fetched from origin, pushed\n"
    expected = {r["id"] for r in read_log(alice)} | {r["id"] for r in read_log(bob)}
    assert len(expected) == 3
    assert note_ids(alice) == expected
    fresh = clone(server, tmp_path / "fresh")
    git(fresh, "fetch", "-q", "origin", f"{layout.NOTES_REF}:{layout.NOTES_REF}")
    assert note_ids(fresh) == expected


@pytest.mark.parametrize(
    ("server_says", "expected"),
    [
        ("error: cannot lock ref refs/notes/ntrk", "kept receiving other notes"),  # every time
        ("policy: no notes here", "cannot push notes to origin"),  # not a race: no retry
    ],
)
def test_push_that_keeps_failing_fails_loudly(
    server: Path, tmp_path: Path, server_says: str, expected: str
) -> None:
    alice = clone(server, tmp_path / "alice")
    track(alice, *STEP, "-i", "raw.csv", "-o", "a.csv")
    hook = server / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\necho '{server_says}' >&2\nexit 1\n")
    hook.chmod(0o755)
    result = nt(alice, "sync")
    assert result.code == 1
    assert result.err.startswith("nt: ") and expected in result.err and " — " in result.err


def test_remote_without_notes_and_missing_remote(server: Path, tmp_path: Path) -> None:
    alice = clone(server, tmp_path / "alice")
    assert nt(alice, "sync").out == "0 record(s) mirrored, 0 fetched from origin, nothing to push\n"
    missing = nt(alice, "sync", "nowhere")
    assert missing.code == 1
    assert missing.err == (
        "nt: no remote named 'nowhere' — name one (nt sync REMOTE) or add it "
        "(git remote add origin URL)\n"
    )


def test_upstream_remote_is_the_default(server: Path, tmp_path: Path) -> None:
    alice = clone(server, tmp_path / "alice")
    git(alice, "remote", "rename", "origin", "upstream")
    git(alice, "branch", "-q", "--set-upstream-to=upstream/main")
    track(alice, *STEP, "-i", "raw.csv", "-o", "a.csv")
    result = nt(alice, "sync")
    assert result.out == "0 record(s) mirrored, 0 fetched from upstream, pushed\n"


def test_dry_run_changes_nothing(server: Path, tmp_path: Path) -> None:
    alice = clone(server, tmp_path / "alice")
    (alice / ".ntrk").mkdir()
    head = git(alice, "rev-parse", "HEAD").strip()
    (alice / ".ntrk" / "runs.jsonl").write_text(
        log_line(v1_record(1, [], [("o", b"o")], commit=head))
    )
    result = nt(alice, "sync", "--dry-run")
    assert result.code == 0
    assert result.out.startswith("would mirror 1 record(s) into the notes; origin has no notes yet")
    assert "would set notes.rewriteRef=refs/notes/ntrk" in result.err
    assert layout.NOTES_REF not in git(alice, "for-each-ref")
    assert git(alice, "config", "--get-all", "notes.rewriteRef", check=False) == ""


def test_old_log_is_backfilled_idempotently(server: Path, tmp_path: Path) -> None:
    alice = clone(server, tmp_path / "alice")
    head = git(alice, "rev-parse", "HEAD").strip()
    records = [v1_record(i, [], [(f"o{i}", b"o")], commit=head) for i in range(5)]
    (alice / ".ntrk").mkdir()
    (alice / ".ntrk" / "runs.jsonl").write_text("".join(map(log_line, records)))
    first = nt(alice, "sync")
    assert first.out == "5 record(s) mirrored, 0 fetched from origin, pushed\n"
    tip = git(alice, "rev-parse", layout.NOTES_REF)
    second = nt(alice, "sync")
    assert second.out == "0 record(s) mirrored, 0 fetched from origin, nothing to push\n"
    assert git(alice, "rev-parse", layout.NOTES_REF) == tip
    assert note_ids(alice) == {r["id"] for r in records}
    assert second.err == ""  # the config was set once, by the first sync


def test_sync_sets_notes_config_once(server: Path, tmp_path: Path) -> None:
    alice = clone(server, tmp_path / "alice")
    result = nt(alice, "sync")
    assert result.err.splitlines() == [
        "nt: set notes.rewriteRef=refs/notes/ntrk (notes follow commit --amend and rebase)",
        "nt: set notes.ntrk.mergeStrategy=cat_sort_uniq (git notes merge keeps every record)",
    ]
    assert git(alice, "config", "--get-all", "notes.rewriteRef").split() == [layout.NOTES_REF]
    assert git(alice, "config", "notes.ntrk.mergeStrategy").strip() == "cat_sort_uniq"
    assert "push" not in git(alice, "config", "--get-regexp", "remote.origin")


def test_amend_and_rebase_keep_notes(server: Path, tmp_path: Path) -> None:
    alice = clone(server, tmp_path / "alice")
    nt(alice, "sync")  # sets notes.rewriteRef
    track(alice, *STEP, "-i", "raw.csv", "-o", "a.csv")
    (rec,) = read_log(alice)
    commit_all(alice, "lineage")  # the record is on the commit before
    git(alice, "checkout", "-q", "HEAD~1")
    git(alice, "commit", "-q", "--amend", "-m", "init, reworded")
    amended = git(alice, "rev-parse", "HEAD").strip()
    assert rec["id"] in git(alice, "notes", "--ref=ntrk", "show", amended)
    git(alice, "checkout", "-q", "main")
    git(alice, "rebase", "-q", "--onto", amended, "HEAD~1")
    assert rec["id"] in git(alice, "notes", "--ref=ntrk", "show", "HEAD~1")


def test_plain_git_notes_merge_keeps_every_record(server: Path, tmp_path: Path) -> None:
    alice = clone(server, tmp_path / "alice")
    bob = clone(server, tmp_path / "bob")
    nt(alice, "sync")
    track(alice, *STEP, "-i", "raw.csv", "-o", "a.csv")
    track(bob, *STEP, "-i", "raw.csv", "-o", "b.csv")
    git(bob, "push", "-q", "origin", layout.NOTES_REF)
    git(alice, "fetch", "-q", "origin", f"{layout.NOTES_REF}:refs/notes/theirs")
    git(alice, "notes", "--ref=ntrk", "merge", "refs/notes/theirs")  # cat_sort_uniq from config
    assert note_ids(alice) == {read_log(alice)[0]["id"], read_log(bob)[0]["id"]}
    assert nt(alice, "trace", "a.csv").code == 0


def test_trace_reads_fetched_remote_notes_without_merging(server: Path, tmp_path: Path) -> None:
    alice = clone(server, tmp_path / "alice")
    track(alice, *STEP, "-i", "raw.csv", "-o", "a.csv")
    git(alice, "push", "-q", "origin", layout.NOTES_REF)
    bob = clone(server, tmp_path / "bob")
    git(bob, "fetch", "-q", "origin", f"{layout.NOTES_REF}:refs/notes/remotes/origin/ntrk")
    shutil.copy(alice / "a.csv", bob / "a.csv")
    assert nt(bob, "trace", "a.csv").out == nt(alice, "trace", "a.csv").out


def test_nt_entry_point_is_installed() -> None:
    assert Path(NT).exists()


def test_read_commands_never_touch_a_remote(repo: Path) -> None:
    # A remote whose transport is a program: any fetch, push or ls-remote runs it.
    git(repo, "config", "protocol.ext.allow", "always")
    spy = repo.parent / "contacted"
    git(repo, "remote", "add", "spy", f"ext::sh -c touch% {spy}")
    nt(repo, "track", "python", "step.py", "-i", "raw.csv", "-o", "out.csv")
    for args in (["trace", "unknown.csv"], ["trace", "out.csv"], ["status"], ["log"]):
        nt(repo, *args)
    assert nt(repo, "rerun", "out.csv", "--dry-run", "--all").code == 0
    assert not spy.exists(), "a read command contacted a remote"
    unknown = nt(repo, "trace", "unknown.csv")
    assert "never fetched lineage notes from spy" in unknown.err


def test_a_stale_lock_on_the_remote_is_named_with_how_to_clear_it(
    server: Path, tmp_path: Path
) -> None:
    """Issue 17, item 4: a `refs/notes/ntrk.lock` left on the remote by a crashed push is
    reported as a lock (and how to clear it), not as "kept receiving other notes"."""
    alice = clone(server, tmp_path / "alice")
    assert nt(alice, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv").code == 0
    (server / "refs" / "notes").mkdir(parents=True, exist_ok=True)
    (server / "refs" / "notes" / "ntrk.lock").write_text("")
    done = nt(alice, "sync")
    assert done.code == 1
    assert done.err.count("\n") == 1, done.err
    assert done.err.startswith("nt: origin's refs/notes/ntrk is locked"), done.err
    assert "remove that refs/notes/ntrk.lock file on the server" in done.err
    assert "kept receiving" not in done.err
