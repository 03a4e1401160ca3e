"""The derived SQLite index: incremental, rebuilt when it must be, never a source of truth.

It lives in the git directory (`.git/ntrk/index.sqlite`), never in the work tree.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pygit2
import pytest
from conftest import NT, git, ignore_outputs, make_repo, nt, start_tracks
from history import RandomHistory, log_line, v1_record

from ntrk import layout
from ntrk.repo import discover
from ntrk.store import index, runlog

STEP = ["python", "step.py"]


def answers(cli, targets: list[str]) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    return [((r := cli("trace", t)).code, r.out) for t in targets]


def index_path(root: Path) -> Path:
    return root / ".git" / "ntrk" / layout.INDEX_NAME


def open_index(root: Path) -> index.LineageIndex:
    return index.open_index(discover(root))


def meta(root: Path) -> dict[str, object]:
    import sqlite3

    db = sqlite3.connect(index_path(root))
    return {key: value for key, value in db.execute("SELECT key, value FROM meta")}


def test_index_lives_in_the_git_directory(repo: Path, cli) -> None:
    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    cli("trace", "clean.csv")
    assert index_path(repo).exists()
    assert not list((repo / ".ntrk").glob("*.sqlite*"))
    git(repo, "add", ".ntrk")
    staged = git(repo, "diff", "--cached", "--name-only").split()
    assert staged == [".ntrk/.gitattributes", ".ntrk/.gitignore", ".ntrk/runs.jsonl"]


def test_new_records_are_read_from_where_the_index_stopped(repo: Path, cli, monkeypatch) -> None:
    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    cli("trace", "clean.csv")
    size = (repo / ".ntrk" / "runs.jsonl").stat().st_size
    assert json.loads(str(meta(repo)["log"]))["offset"] == size
    cli("track", *STEP, "-i", "clean.csv", "-o", "final.csv")
    reads: list[int] = []
    real_lines = runlog.raw_lines

    def spy(stream):  # type: ignore[no-untyped-def]
        reads.append(stream.tell())
        return real_lines(stream)

    monkeypatch.setattr(runlog, "raw_lines", spy)
    assert cli("trace", "final.csv").out.count("\n") == 2
    assert reads == [size]  # only the new line was read: the append was journaled
    reads.clear()
    cli("trace", "final.csv")
    assert reads == []  # nothing new: the warm path reads nothing


def test_rewritten_log_is_read_again(repo: Path, cli) -> None:
    records = [
        v1_record(i, [(f"f{i}", b"%d" % i)], [(f"f{i + 1}", b"%d" % (i + 1))]) for i in range(6)
    ]
    log = repo / ".ntrk" / "runs.jsonl"
    log.parent.mkdir()
    log.write_text("".join(map(log_line, records)))
    (repo / "f6").write_bytes(b"6")
    assert cli("trace", "f6").out.count("\n") == 6
    records[2]["outputs"][0]["md5"] = "0" * 32  # type: ignore[index]  # a merge changed history
    log.write_text("".join(map(log_line, records)))
    assert cli("trace", "f6").out.count("\n") == 3


@pytest.mark.parametrize("damage", [b"not a database at all" * 100, b""])
def test_corrupt_index_is_rebuilt(repo: Path, cli, damage: bytes) -> None:
    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    expected = cli("trace", "clean.csv").out
    index_path(repo).write_bytes(damage)
    result = cli("trace", "clean.csv")
    assert result.code == 0 and result.out == expected


def test_index_of_another_schema_is_rebuilt(repo: Path, cli) -> None:
    import sqlite3

    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    expected = cli("trace", "clean.csv").out
    db = sqlite3.connect(index_path(repo))
    db.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")
    db.execute("DELETE FROM records")
    db.commit()
    db.close()
    assert cli("trace", "clean.csv").out == expected


def test_incremental_index_equals_a_fresh_one(repo: Path, cli) -> None:
    history = RandomHistory(7).generate(steps=60)
    history.write(repo)
    log = repo / ".ntrk" / "runs.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:25]))
    open_index(repo).close()  # built on the first 25 records
    log.write_text("".join(lines[:40]) + lines[40][:30])  # a torn line at the end
    open_index(repo).close()
    log.write_text("".join(lines))
    targets = history.targets()
    incremental = answers(cli, targets)
    index_path(repo).unlink()
    assert answers(cli, targets) == incremental
    built = open_index(repo)
    assert [r.id for r in built.records()] == [json.loads(line)["id"] for line in lines]
    built.close()


def test_deleting_the_index_changes_no_answer(repo: Path, cli) -> None:
    history = RandomHistory(3).generate(steps=40)
    history.write(repo)
    targets = history.targets()
    first = answers(cli, targets)
    index_path(repo).unlink()
    assert answers(cli, targets) == first


def test_concurrent_traces_and_tracks_agree(repo: Path) -> None:
    ignore_outputs(repo)
    procs: list[subprocess.Popen[str]] = start_tracks(repo, [f"out{i}" for i in range(8)])
    procs += [
        subprocess.Popen(
            [NT, "trace", "raw.csv"],
            cwd=repo,
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    for proc in procs:
        proc.wait(timeout=120)
        err = proc.stderr.read() if proc.stderr else ""
        assert "Traceback" not in err and "internal error" not in err, err
    for i in range(8):
        assert nt(repo, "trace", f"out{i}").code == 0


def test_notes_arriving_later_are_indexed(repo: Path, cli) -> None:
    cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    head = git(repo, "rev-parse", "HEAD").strip()
    cli("trace", "clean.csv")
    other = v1_record(99, [], [("gen.csv", b"g")], commit=head)
    from ntrk import record
    from ntrk.store import notes

    notes.add(pygit2.Repository(str(repo)), [record.parse(other)])
    (repo / "gen.csv").write_bytes(b"g")
    assert cli(
        "trace", "gen.csv"
    ).out == "(no tracked inputs) -> step.py @ aaaaaaa -> gen.csv\n".replace("aaaaaaa", head[:7])


def test_read_only_git_directory_answers_from_memory(unprivileged, hermetic_git) -> None:
    from conftest import give_to_nobody

    base, prefix = unprivileged
    root = make_repo(base / "work")
    (root / "a").write_text("a")
    (root / ".ntrk").mkdir()
    head = git(root, "rev-parse", "HEAD").strip()
    (root / ".ntrk" / "runs.jsonl").write_text(
        log_line(v1_record(1, [], [("a", b"a")], commit=head))
    )
    (base / ".gitconfig").write_text((hermetic_git / ".gitconfig").read_text())
    give_to_nobody(base)
    (root / ".git").chmod(0o555)
    done = subprocess.run(
        [*prefix, NT, "trace", "a"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"HOME": str(base), "PATH": "/usr/bin:/bin"},
    )
    (root / ".git").chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"(no tracked inputs) -> step.py @ {head[:7]} -> a\n"
    assert not index_path(root).exists()


def test_a_notes_ref_past_its_byte_limit_is_left_out_whole(repo: Path, cli, monkeypatch) -> None:
    """notes.MAX_REF_BYTES bounds what one notes ref costs to index (a blob shared by many
    notes counts once per note). Crossing it either way, the incremental index answers as
    a fresh one does: the ref's records all in, or all out with one warning."""
    from ntrk import record
    from ntrk.store import notes

    repository = pygit2.Repository(str(repo))
    head = git(repo, "rev-parse", "HEAD").strip()
    made = [record.parse(v1_record(i, [], [(f"o{i}.csv", b"o")], commit=head)) for i in range(3)]
    notes.add(repository, made[:2])
    under = git(repo, "rev-parse", layout.NOTES_REF).strip()
    size = len(git(repo, "notes", "--ref=ntrk", "show", head).encode())
    monkeypatch.setattr(notes, "MAX_REF_BYTES", size + 10)

    def listed() -> tuple[list[str], str]:
        done = cli("log", "--json")
        return [r["id"] for r in json.loads(done.out or "[]")], done.err

    assert sorted(listed()[0]) == [r.id for r in made[:2]]
    notes.add(repository, made[2:])  # the note grows past the limit
    over, err = listed()
    assert over == [] and "refs/notes/ntrk not read: its notes hold more than" in err
    index_path(repo).unlink()
    assert listed() == (over, err)
    git(repo, "update-ref", layout.NOTES_REF, under)  # back under it: read whole again
    assert sorted(listed()[0]) == [r.id for r in made[:2]]


def test_times_no_clock_can_show_count_as_none(repo: Path) -> None:
    """A record whose time is not a real one (February 31, hour 24, month 13) sorts before
    every real time instead of after it; fraction digits compare as numbers would."""
    times = [
        "2026-01-01T00:00:00.5Z",  # half a second: after the whole second below
        "2026-02-31T00:00:00.000000Z",
        "2026-01-01T24:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
    ]
    records = []
    for number, moment in enumerate(times):
        rec = v1_record(number, [], [(f"o{number}.csv", b"o")])
        rec["start"] = rec["ts"] = moment
        records.append(rec)
    (repo / ".ntrk").mkdir()
    (repo / ".ntrk" / "runs.jsonl").write_text("".join(map(log_line, records)))
    built = open_index(repo)
    order = [r.id for r in built.records()]
    built.close()
    assert order == [records[n]["id"] for n in (1, 2, 3, 4, 0)]


def test_block_digests_resume_and_see_any_changed_byte(tmp_path: Path) -> None:
    """The log's prefix fingerprint: fed in pieces that straddle blocks, it equals one made in
    one go; resumed from the digests it equals it again; and a byte changed in any block,
    the last partial one included, is seen."""
    import io
    import random

    from ntrk.store.indexer import BlockDigests

    block = BlockDigests.BLOCK
    data = random.Random(4).randbytes(2 * block + 12_345)
    whole = BlockDigests()
    whole.update(data)
    pieces = BlockDigests()
    for start in range(0, len(data), 300_007):
        pieces.update(data[start : start + 300_007])
    assert pieces.digests() == whole.digests() and len(whole.digests()) == 3
    known = whole.digests()
    for verify in (False, True):
        resumed = BlockDigests.resumed(io.BytesIO(data), len(data), known, verify=verify)
        assert resumed is not None and resumed.digests() == known
    for at in (5, block + 5, 2 * block + 5):
        changed = bytearray(data)
        changed[at] ^= 1
        stream = io.BytesIO(bytes(changed))
        assert BlockDigests.resumed(stream, len(data), known, verify=True) is None
    tail_changed = io.BytesIO(bytes(changed))  # only the partial last block is read again
    assert BlockDigests.resumed(tail_changed, len(data), known, verify=False) is None


def test_one_bad_line_of_a_note_is_named_and_the_rest_is_read(repo: Path, cli) -> None:
    """Issue 17, item 4: a note with one bad line says which line was skipped (not that the
    note was), and the note's other record is still read."""
    good = v1_record(1, [("raw.csv", b"a,b\n1,2\n")], [("made.csv", b"m")])
    head = git(repo, "rev-parse", "HEAD").strip()
    body = "not an ntrk note line\n" + log_line(good).replace("{", "ntrk summary\t{", 1)
    git(repo, "notes", "--ref=ntrk", "add", "-m", body, head)
    result = cli("log", "--json")
    assert [rec["id"] for rec in json.loads(result.out)] == [good["id"]]
    assert f"the note on {head[:8]}, line 1 skipped (not an ntrk note line)" in result.err
    assert "line 2" not in result.err
