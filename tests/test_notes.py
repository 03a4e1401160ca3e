"""Lineage in git notes: the line format, the tree layout, concurrency, failures."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pygit2
import pytest
from conftest import NT, commit_all, git, give_to_nobody, hash_object, make_repo, read_log
from history import v1_record
from hypothesis import given
from hypothesis import strategies as st

from ntrk import layout, record
from ntrk.record import Record
from ntrk.store import notes

STEP = ["python", "step.py"]


def note_lines(root: Path, commit: str = "HEAD") -> list[str]:
    return git(root, "notes", "--ref=ntrk", "show", commit).splitlines()


def make(index: int, commit: str, command: list[str] | None = None) -> Record:
    data = v1_record(index, [("in put.csv", b"i")], [(f"out/ü{index}.csv", b"o")], commit=commit)
    if command is not None:
        data["command"] = command
    return record.parse(data)


# --- format ---------------------------------------------------------------------------------

awkward_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=300
)


@given(st.lists(awkward_text, min_size=1, max_size=8))
def test_line_round_trips_any_command(command: list[str]) -> None:
    rec = make(1, "a" * 40, command)
    line = notes.format_line(rec)
    assert "\n" not in line and "\r" not in line
    parsed = notes.parse_line(line)
    assert parsed.record == rec
    assert parsed.record is not None and parsed.record.line == rec.line


def test_line_reads_well() -> None:
    rec = make(7, "a" * 40, ["python", "clean data.py", "--tab\there", "-o", "out/ü7.csv"])
    summary, _, _ = notes.format_line(rec).partition("\t")
    assert summary.startswith(f"ntrk {rec.id[:8]} in put.csv@")
    assert " -> out/ü7.csv@" in summary and ":: python clean data.py --tab\\there" in summary


def test_long_command_is_shortened_in_the_summary_only() -> None:
    rec = make(1, "a" * 40, ["python", "x" * 500])
    line = notes.format_line(rec)
    summary, _, payload = line.partition("\t")
    assert summary.endswith("…") and len(summary) < 250
    assert json.loads(payload)["command"][1] == "x" * 500


@pytest.mark.parametrize("line", ["plain text from a person", "ntrk x\t{not json", "\t[]"])
def test_foreign_lines_are_rejected_cleanly(line: str) -> None:
    assert notes.parse_line(line).record is None


# --- what nt track writes ----------------------------------------------------------------------


def test_track_writes_one_line_per_run_on_the_run_commit(repo: Path, cli) -> None:
    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    cli("track", *STEP, "-i", "clean.csv", "-o", "final.csv")
    log = read_log(repo)
    lines = note_lines(repo)
    assert len(lines) == 2
    for line, rec in zip(lines, log, strict=True):
        assert json.loads(line.partition("\t")[2]) == rec


def test_git_log_shows_the_summary(repo: Path, cli) -> None:
    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    shown = git(repo, "log", "--notes=ntrk", "-n", "1")
    assert "Notes (ntrk):" in shown
    assert "raw.csv@" in shown and "-> clean.csv@" in shown and ":: python step.py" in shown


def test_notes_tree_uses_git_fan_out(repo: Path, cli) -> None:
    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    head = git(repo, "rev-parse", "HEAD").strip()
    listing = git(repo, "ls-tree", "-r", "--name-only", layout.NOTES_REF)
    assert listing.strip() == f"{head[:2]}/{head[2:]}"


def test_notes_commit_has_identity_and_message(repo: Path, cli) -> None:
    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    (rec,) = read_log(repo)
    shown = git(repo, "log", "-1", "--format=%an <%ae>|%cn|%s", layout.NOTES_REF).strip()
    assert (
        shown == f"Test User <test@example.com>|Test User|ntrk: record {rec['id'][:8]} "
        "(python step.py -i raw.csv -o clean.csv)"
    )


def test_fallback_identity_without_user_config(repo: Path, hermetic_git: Path) -> None:
    (hermetic_git / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    repository = pygit2.Repository(str(repo))
    assert notes.identity(repository).email == "ntrk@localhost"
    notes.add(repository, [make(1, git(repo, "rev-parse", "HEAD").strip())])
    author = git(repo, "log", "-1", "--format=%an <%ae>", layout.NOTES_REF).strip()
    assert author == "ntrk <ntrk@localhost>"


def test_adding_the_same_record_twice_is_a_no_op(repo: Path) -> None:
    repository = pygit2.Repository(str(repo))
    rec = make(1, git(repo, "rev-parse", "HEAD").strip())
    assert notes.add(repository, [rec]) == 1
    tip = git(repo, "rev-parse", layout.NOTES_REF)
    assert notes.add(repository, [rec]) == 0
    assert git(repo, "rev-parse", layout.NOTES_REF) == tip


def test_batch_writes_one_notes_commit(repo: Path) -> None:
    commits = [git(repo, "rev-parse", "HEAD").strip()]
    for index in range(3):
        (repo / f"f{index}").write_text(str(index))
        commits.append(commit_all(repo, f"c{index}"))
    repository = pygit2.Repository(str(repo))
    records = [make(i, commits[i % 4]) for i in range(10)]
    assert notes.add(repository, records) == 10
    assert git(repo, "rev-list", "--count", layout.NOTES_REF).strip() == "1"
    assert notes.record_ids(repository) == {r.id for r in records}


def test_reads_flat_and_deep_layouts_written_by_git(repo: Path) -> None:
    """git writes a flat tree for few notes; ntrk must read it and add beside it."""
    head = git(repo, "rev-parse", "HEAD").strip()
    first = make(1, head)
    git(repo, "notes", "--ref=ntrk", "add", "-m", notes.format_line(first), head)
    assert git(repo, "ls-tree", "--name-only", layout.NOTES_REF).strip() == head  # flat
    repository = pygit2.Repository(str(repo))
    second = make(2, head)
    assert notes.add(repository, [second]) == 1
    assert git(repo, "ls-tree", "--name-only", layout.NOTES_REF).strip() == head  # kept in place
    ids = [notes.parse_line(line).record.id for line in note_lines(repo)]  # type: ignore[union-attr]
    assert ids == [first.id, second.id]


def test_concurrently_moved_ref_is_not_overwritten(repo: Path, monkeypatch) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    (repo / "other").write_text("x")
    other = commit_all(repo, "other")
    repository = pygit2.Repository(str(repo))
    notes.add(repository, [make(1, head)])
    real_commit = notes._commit
    moved = []

    def commit_then_race(*args: object) -> pygit2.Oid:
        if not moved:  # another writer (plain git) moves the ref between read and update
            git(repo, "notes", "--ref=ntrk", "add", "-m", "a person's note", other)
            moved.append(True)
        return real_commit(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(notes, "_commit", commit_then_race)
    assert notes.add(repository, [make(2, head)]) == 1
    assert note_lines(repo, other) == ["a person's note"]
    assert len(note_lines(repo, head)) == 2


def test_notes_ref_pointing_at_a_blob_is_ignored(repo: Path, cli) -> None:
    blob = hash_object(repo, "junk")
    git(repo, "update-ref", layout.NOTES_REF, blob)
    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert cli("trace", "clean.csv").code == 0


def test_read_only_git_dir_keeps_the_run_and_sync_mirrors_it_later(
    unprivileged, hermetic_git
) -> None:
    base, prefix = unprivileged
    root = make_repo(base / "work")
    (base / ".gitconfig").write_text((hermetic_git / ".gitconfig").read_text())
    give_to_nobody(base)
    objects = root / ".git" / "objects"
    objects.chmod(0o555)
    env = {"HOME": str(base), "PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1"}
    argv = ["/bin/sh", "-c", "cp raw.csv copy.csv", "sh", "-i", "raw.csv", "-o", "copy.csv"]
    done = subprocess.run(
        [*prefix, NT, "track", *argv], cwd=root, env=env, capture_output=True, text=True
    )
    objects.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("cannot write the git note") == 1
    assert "nt sync mirrors it later" in done.stderr
    assert len(read_log(root)) == 1 and (root / ".copy.csv.ntrk").exists()
    git(base, "config", "--global", "--add", "safe.directory", "*")  # back to the test's user
    git(root, "init", "-q", "--bare", str(base / "server.git"))
    git(root, "remote", "add", "origin", str(base / "server.git"))
    result = subprocess.run([NT, "sync"], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 record(s) mirrored")
    assert len(note_lines(root)) == 1


def test_crowded_directories_split_a_level_deeper_and_git_still_reads_them(repo: Path) -> None:
    repository = pygit2.Repository(str(repo))
    # 600 fake commit ids that all share the first two hex digits: one crowded directory.
    ids = [f"ab{index:038x}" for index in range(600)]
    records = [make(i, commit) for i, commit in enumerate(ids)]
    notes.add(repository, records[:200])
    listing = git(repo, "ls-tree", "--name-only", f"{layout.NOTES_REF}:ab").split()
    assert len(listing) == 200 and all(len(name) == 38 for name in listing)
    for rec in records[200:]:  # one at a time, as nt track writes them
        notes.add(repository, [rec])
    listing = git(repo, "ls-tree", "--name-only", f"{layout.NOTES_REF}:ab").split()
    assert all(len(name) == 2 for name in listing)  # split into ab/00/…, ab/01/…
    assert notes.record_ids(repository) == {rec.id for rec in records}
    shown = git(repo, "notes", "--ref=ntrk", "show", ids[0])  # git finds notes in our layout
    assert records[0].id in shown
    assert git(repo, "notes", "--ref=ntrk", "list").count("\n") == 600


def test_diff_finds_notes_in_any_fan_out_and_ignores_moves(repo: Path) -> None:
    git_repo = pygit2.Repository(str(repo))
    head = git(repo, "rev-parse", "HEAD").strip()
    notes.add(git_repo, [make(1, head)])
    first = notes.notes_commit(git_repo)
    assert first is not None and [e.name for e in first.tree] == [head[:2]]  # fanned out
    gone, came = notes.diff(git_repo, None, first.tree)
    assert gone == {} and list(came) == [head]
    flat = git_repo.TreeBuilder()
    flat.insert(head, came[head], pygit2.enums.FileMode.BLOB)
    flat_tree = git_repo[flat.write()].peel(pygit2.Tree)
    assert notes.diff(git_repo, first.tree, flat_tree) == ({}, {})  # same note, moved
    notes.add(git_repo, [make(2, head)])
    second = notes.notes_commit(git_repo)
    assert second is not None
    gone, came = notes.diff(git_repo, first.tree, second.tree)
    assert list(gone) == [head] and list(came) == [head] and gone[head] != came[head]
