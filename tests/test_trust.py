"""Issue 12: lineage across clones, teams and parallel pipelines is never silently wrong.

One test (or a small group) per numbered case of the issue, `test_12_NN_...`. Each goes through
interfaces that survive a refactoring: the installed `nt`, the `cli` fixture, `git` itself and
files on disk. Records are written by hand (`history.v1_record`) where a case needs a history
that `nt track` cannot produce on demand (a forged clock, a union merge).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import NT, STEP, clone, commit_all, git, make_repo, nt, read_log, states
from history import log_line, md5, v1_record
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

NOTES_REF = "refs/notes/ntrk"


# --- helpers: servers, clones, notes and the derived index, all through git and files ---------


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def note_records(root: Path, ref: str = NOTES_REF) -> dict[str, dict[str, object]]:
    """Every record in the notes under `ref` (works in a bare repository too), by id."""
    if git(root, "rev-parse", "-q", "--verify", ref, check=False).strip() == "":
        return {}
    found = {}
    for pair in git(root, "notes", f"--ref={ref}", "list").splitlines():
        annotated = pair.split()[1]
        text = git(root, "notes", f"--ref={ref}", "show", annotated)
        for line in text.split("\n"):
            if "\t" in line:
                rec = json.loads(line.partition("\t")[2])
                found[rec["id"]] = rec
    return found


def note_line(rec: dict[str, object]) -> str:
    """A note line as the README describes it: a summary for people, a TAB, the record."""
    return f"ntrk {str(rec['id'])[:8]} (by hand)\t{json.dumps(rec, sort_keys=True)}"


def set_note(root: Path, commit: str, records: list[dict[str, object]]) -> None:
    """Make the ntrk note on `commit` hold exactly `records` (plain git, as a peer might)."""
    path = root.parent / f"note-{os.getpid()}.txt"
    path.write_text("".join(note_line(rec) + "\n" for rec in records), encoding="utf-8")
    git(root, "notes", "--ref=ntrk", "add", "-f", "-F", str(path), commit)
    path.unlink()


def index_files(root: Path) -> list[Path]:
    """Every file of the derived index and caches: in the git directory, or in `.ntrk/`."""
    git_path = Path(git(root, "rev-parse", "--git-path", "ntrk").strip())
    cache_dir = git_path if git_path.is_absolute() else root / git_path
    found = [path for path in cache_dir.rglob("*") if path.is_file()] if cache_dir.is_dir() else []
    return found + sorted((root / ".ntrk").glob("*.sqlite*"))


def drop_index(root: Path) -> None:
    """Delete every derived file: what remains are the sources (log, sidecars, notes)."""
    git_path = Path(git(root, "rev-parse", "--git-path", "ntrk").strip())
    shutil.rmtree(git_path if git_path.is_absolute() else root / git_path, ignore_errors=True)
    for path in (root / ".ntrk").glob("*.sqlite*"):
        path.unlink()


def no_crash(err: str) -> None:
    assert "internal error" not in err and "Traceback" not in err, err


# --- 1. sync is a union ------------------------------------------------------------------------


def recorded_at_unpushed_commit(server: Path, alice: Path) -> str:
    """Alice records a run on a commit she never pushes, then syncs; returns the record id."""
    clone(server, alice)
    (alice / "local.txt").write_text("a commit that is never pushed\n")
    commit_all(alice, "unpushed work")
    result = nt(alice, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert result.code == 0, result.err
    (rid,) = {rec["id"] for rec in read_log(alice)}
    assert nt(alice, "sync").code == 0
    assert rid in note_records(server)
    return rid


def test_12_01_a_pruned_clone_never_erases_records_on_the_remote(
    server: Path, tmp_path: Path
) -> None:
    """Case 1: a clone that lacks a commit runs `git notes prune`, then `nt sync`: the remote,
    and every clone that syncs later, still has the record on that commit."""
    rid = recorded_at_unpushed_commit(server, tmp_path / "alice")
    bob = clone(server, tmp_path / "bob")
    assert nt(bob, "sync").code == 0
    assert rid in note_records(bob)
    git(bob, "notes", "--ref=ntrk", "prune")  # drops the note on the commit bob lacks
    assert rid not in note_records(bob)
    synced = nt(bob, "sync")
    no_crash(synced.err)
    assert rid in note_records(server), "bob's sync erased alice's record on the remote"
    carol = clone(server, tmp_path / "carol")
    assert nt(carol, "sync").code == 0
    assert rid in note_records(carol)


def test_12_01_a_descendant_notes_commit_never_drops_local_records(
    server: Path, tmp_path: Path
) -> None:
    """Case 1: the remote's notes commit descends from ours but lacks one of our records (a
    peer pruned and pushed with plain git): `nt sync` keeps the record, and gives it back."""
    alice = tmp_path / "alice"
    rid = recorded_at_unpushed_commit(server, alice)
    dave = clone(server, tmp_path / "dave")
    assert nt(dave, "sync").code == 0
    git(dave, "notes", "--ref=ntrk", "prune")
    git(dave, "push", "-q", "origin", f"{NOTES_REF}:{NOTES_REF}")  # a fast-forward
    assert rid not in note_records(server)

    (alice / ".ntrk" / "runs.jsonl").unlink()  # only alice's notes hold the record now
    synced = nt(alice, "sync")
    no_crash(synced.err)
    assert rid in note_records(alice), "a fast-forward to the remote's notes dropped a record"
    assert rid in note_records(server), "the union was not pushed back"


# --- 2. the index is a pure function of its sources ---------------------------------------------

# A small history with shared bytes and re-made files, so that which records exist, and in what
# order, changes what `nt trace c.csv` answers.
POOL = [
    v1_record(0, [], [("a.csv", b"A")], "make_a.py"),
    v1_record(1, [("a.csv", b"A")], [("b.csv", b"B")], "make_b.py"),
    v1_record(2, [], [("a.csv", b"A")], "remake_a.py"),
    v1_record(3, [("b.csv", b"B")], [("c.csv", b"C")], "make_c.py"),
    v1_record(4, [("a.csv", b"A"), ("b.csv", b"B")], [("b.csv", b"B")], "fix_b.py"),
    v1_record(5, [], [("c.csv", b"C")], "copy_c.py"),
]

OPERATIONS = st.one_of(
    st.tuples(st.just("append"), st.integers(0, len(POOL) - 1)),
    st.tuples(st.just("rewrite"), st.integers(0, len(POOL) - 1)),
    st.tuples(
        st.just("note"),
        st.integers(0, 1),
        st.lists(st.integers(0, len(POOL) - 1), max_size=3, unique=True),
    ),
    st.tuples(st.just("rewind")),
    st.tuples(st.just("fetch")),
    st.tuples(st.just("sidecar"), st.integers(0, len(POOL) - 1)),
    st.tuples(st.sampled_from(["unsidecar", "hide"]), st.sampled_from(["a.csv", "b.csv", "c.csv"])),
)


def apply_operation(root: Path, commits: list[str], operation: tuple[object, ...]) -> None:
    """Change one source the way users and git do: append, rewrite, (re)note, rewind, fetch."""
    log = root / ".ntrk" / "runs.jsonl"
    kind = operation[0]
    if kind == "append":
        with log.open("a", encoding="utf-8") as stream:
            stream.write(log_line(POOL[operation[1]]))  # type: ignore[index]
    elif kind == "rewrite":  # a pull or a hand edit: the lines of one record disappear
        unwanted = log_line(POOL[operation[1]])  # type: ignore[index]
        lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
        log.write_text("".join(line for line in lines if line != unwanted), encoding="utf-8")
    elif kind == "note":
        commit, members = commits[operation[1]], operation[2]  # type: ignore[index]
        if members:
            set_note(root, commit, [POOL[k] for k in members])  # type: ignore[union-attr]
        else:
            git(root, "notes", "--ref=ntrk", "remove", "--ignore-missing", commit)
    elif kind == "rewind":  # `git update-ref` to an older notes commit (a reset, a bad fetch)
        parent = git(root, "rev-parse", "-q", "--verify", f"{NOTES_REF}~1", check=False).strip()
        if parent:
            git(root, "update-ref", NOTES_REF, parent)
    elif kind == "fetch":  # what `nt sync` leaves behind: a fetched copy of someone's notes
        tip = git(root, "rev-parse", "-q", "--verify", NOTES_REF, check=False).strip()
        if tip:
            git(root, "update-ref", "refs/notes/remotes/origin/ntrk", tip)
    elif kind == "sidecar":  # a sidecar (re)written and staged, as the pre-commit hook does
        rec = POOL[operation[1]]  # type: ignore[index]
        output = rec["outputs"][0]["path"]  # type: ignore[index]
        sidecar = root / f".{output}.ntrk"
        sidecar.write_text(json.dumps({**rec, "sidecar_for": output}), encoding="utf-8")
        git(root, "add", "-f", sidecar.name)
    elif kind == "unsidecar":  # `git rm` of a sidecar
        git(root, "rm", "-q", "-f", "--ignore-unmatch", f".{operation[1]}.ntrk")
    elif kind == "hide":  # a sidecar gone from disk only (moved away; git's index untouched)
        (root / f".{operation[1]}.ntrk").unlink(missing_ok=True)


def answers(cli) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    listed = cli("log", "--json")
    traced = cli("trace", "c.csv")
    for outcome in (listed, traced):
        no_crash(outcome.err)
    return listed.code, json.loads(listed.out or "[]"), traced.code, traced.out


def fresh_answers(root: Path, cli) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    """The answers from an index built from nothing; the incremental one is put back after."""
    stash = root.parent / "stash"
    stash.mkdir()
    kept = index_files(root)
    for number, path in enumerate(kept):
        path.rename(stash / str(number))
    try:
        return answers(cli)
    finally:
        drop_index(root)
        for number, path in enumerate(kept):
            path.parent.mkdir(parents=True, exist_ok=True)
            (stash / str(number)).rename(path)
        stash.rmdir()


@settings(
    max_examples=30,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(OPERATIONS, min_size=1, max_size=6))
@example([("note", 0, [0, 1, 3]), ("note", 0, [3])])  # a note loses records
@example([("note", 0, [0, 3]), ("note", 1, [1]), ("rewind",)])  # the notes ref moves back
@example([("append", 0), ("append", 3), ("rewrite", 0), ("append", 1)])
@example([("sidecar", 3), ("sidecar", 5), ("hide", "c.csv"), ("sidecar", 3)])  # replaced
@example([("sidecar", 1), ("append", 3), ("unsidecar", "b.csv")])
def test_12_02_the_index_answers_as_a_fresh_rebuild_would(
    cli,  # type: ignore[no-untyped-def]
    operations: list[tuple[object, ...]],
) -> None:
    """Case 2: after any change to the log, the notes (added, removed, a ref rewound) or the
    sidecars (written, removed, gone from disk only), the answers (`nt log --json`,
    `nt trace`) equal those of an index built from nothing."""
    with tempfile.TemporaryDirectory() as scratch:
        root = make_repo(Path(scratch) / "work")
        (root / "later.txt").write_text("a second commit to annotate\n")
        commits = [head(root), commit_all(root, "second")]
        (root / ".ntrk").mkdir()
        (root / ".ntrk" / "runs.jsonl").write_text("")
        for name, data in (("a.csv", b"A"), ("b.csv", b"B"), ("c.csv", b"C")):
            (root / name).write_bytes(data)
        with contextlib.chdir(root):
            answers(cli)  # the index exists before the first change
            for operation in operations:
                apply_operation(root, commits, operation)
                incremental = answers(cli)
                assert incremental == fresh_answers(root, cli), f"after {operation}"


# --- 3. a same-size edit of the log is seen ---------------------------------------------------


def test_12_03_a_same_size_edit_of_the_log_is_seen(repo: Path) -> None:
    """Case 3: `git mv dat07.csv dat70.csv`, then `sed` the log: same size, new answer."""
    filler = [v1_record(n, [], [(f"filler{n:03d}.csv", b"f%d" % n)]) for n in range(1, 200)]
    moved = v1_record(500, [("raw.csv", b"a,b\n1,2\n")], [("dat07.csv", b"seven")])
    records = [*filler[:97], moved, *filler[97:]]
    (repo / ".ntrk").mkdir()
    (repo / ".ntrk" / "runs.jsonl").write_text("".join(map(log_line, records)))
    (repo / "dat07.csv").write_bytes(b"seven")
    commit_all(repo, "data and its lineage")
    before = nt(repo, "trace", "dat07.csv")
    assert before.out.endswith("-> dat07.csv\n"), before.err  # the index has read the log

    size = (repo / ".ntrk" / "runs.jsonl").stat().st_size
    git(repo, "mv", "dat07.csv", "dat70.csv")
    subprocess.run(["sed", "-i", "s/dat07/dat70/g", ".ntrk/runs.jsonl"], cwd=repo, check=True)
    assert (repo / ".ntrk" / "runs.jsonl").stat().st_size == size

    after = nt(repo, "trace", "dat70.csv")
    assert after.code == 0, after.err
    assert after.out == "raw.csv -> step.py @ aaaaaaa -> dat70.csv\n"
    logged = json.loads(nt(repo, "log", "--json", "dat70.csv").out)
    assert [rec["outputs"][0]["path"] for rec in logged] == ["dat70.csv"]


# --- 4. committed sidecars are read ------------------------------------------------------------


def test_12_04_a_fresh_clone_reads_every_committed_sidecar(repo: Path, tmp_path: Path) -> None:
    """Case 4: outputs and their sidecars were committed, the log was not (and no notes
    travelled): a fresh clone still traces every step."""
    for args in (("-i", "raw.csv", "-o", "clean.csv"), ("-i", "clean.csv", "-o", "final.csv")):
        result = nt(repo, "track", *STEP, *args)
        assert result.code == 0, result.err
    expected = nt(repo, "trace", "final.csv").out
    assert expected.count("\n") == 2
    git(repo, "add", "clean.csv", "final.csv", ".clean.csv.ntrk", ".final.csv.ntrk")
    git(repo, "commit", "-q", "-m", "results and their sidecars, without the log")

    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(repo), str(fresh))
    assert not (fresh / ".ntrk" / "runs.jsonl").exists()
    traced = nt(fresh, "trace", "final.csv")
    assert traced.code == 0, traced.err
    assert traced.out == expected


# --- 5. a file inside a directory output --------------------------------------------------------

MAKE_RESULTS = (
    "import os; os.makedirs('results', exist_ok=True); "
    "open('results/a.csv', 'w').write('A'); open('results/b.csv', 'w').write('B')"
)


def test_12_05_a_member_of_a_directory_output_has_lineage(repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """Case 5: `-o results/`, then trace and status of `results/a.csv`."""
    made = cli("track", "python", "-c", MAKE_RESULTS, "-i", "raw.csv", "-o", "results/")
    assert made.code == 0, made.err
    traced = cli("trace", "results/a.csv")
    assert traced.code == 0, traced.err
    assert traced.out.startswith("raw.csv -> "), traced.out
    assert "results" in traced.out
    assert states(cli, "results/a.csv") == {"results/a.csv": "ok"}
    (repo / "results" / "a.csv").write_text("edited")
    assert states(cli, "results/a.csv") == {"results/a.csv": "modified"}


# --- 6. "before" means by start time ----------------------------------------------------------


def timed(rec: dict[str, object], start: str) -> dict[str, object]:
    return {**rec, "start": start, "ts": start[:19] + "Z"}


def test_12_06_after_a_union_merge_before_means_started_before(repo: Path) -> None:
    """Case 6: main re-made x.csv after a feature branch's step read it; the merged log holds
    main's lines first ("ours, then theirs"), yet the step links to the run that ran before it."""
    first = timed(v1_record(1, [], [("x.csv", b"X")], "first.py"), "2026-01-01T10:00:00.000000Z")
    later = timed(v1_record(2, [], [("x.csv", b"X")], "later.py"), "2026-01-01T12:00:00.000000Z")
    step = timed(
        v1_record(3, [("x.csv", b"X")], [("y.csv", b"Y")], "use_x.py"),
        "2026-01-01T11:00:00.000000Z",
    )
    (repo / ".ntrk").mkdir()
    (repo / ".ntrk" / ".gitattributes").write_text("runs.jsonl merge=union\n")
    log = repo / ".ntrk" / "runs.jsonl"
    log.write_text(log_line(first))
    commit_all(repo, "x.csv's first producer")
    git(repo, "checkout", "-q", "-b", "feature")
    log.write_text(log_line(first) + log_line(step))
    commit_all(repo, "feature: a step reads x.csv at 11:00")
    git(repo, "checkout", "-q", "main")
    log.write_text(log_line(first) + log_line(later))
    commit_all(repo, "main: x.csv made again at 12:00")
    git(repo, "merge", "-q", "--no-edit", "feature")
    assert [rec["id"] for rec in read_log(repo)] == [first["id"], later["id"], step["id"]]

    (repo / "x.csv").write_bytes(b"X")
    (repo / "y.csv").write_bytes(b"Y")
    traced = nt(repo, "trace", "y.csv")
    assert traced.code == 0, traced.err
    assert traced.out.splitlines() == [
        "(no tracked inputs) -> first.py @ aaaaaaa -> x.csv",
        "x.csv -> use_x.py @ aaaaaaa -> y.csv",
    ], f"linked to a run that started after the step: {traced.out!r}"


# --- 7. a skewed clock never wins -------------------------------------------------------------


def test_12_07_a_run_recorded_here_is_newer_than_a_future_dated_note(repo: Path) -> None:
    """Case 7: a record from notes claims to start in 9999; re-running the step here must make
    the local run the newest one for status and trace."""
    forged = timed(
        v1_record(9, [("raw.csv", b"other bytes")], [("out.csv", b"A,B\n1,2\n")], "forged.py"),
        "9999-12-31T23:59:59.000000Z",
    )
    forged["git"] = {"commit": head(repo), "branch": "main"}
    set_note(repo, head(repo), [forged])
    listed = nt(repo, "log", "--json")  # the foreign record is indexed first
    assert [rec["id"] for rec in json.loads(listed.out)] == [forged["id"]], listed.err

    made = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "out.csv")
    assert made.code == 0, made.err
    status = nt(repo, "status", "out.csv")
    assert status.code == 0, status.out + status.err
    assert status.out.startswith("ok "), status.out
    traced = nt(repo, "trace", "out.csv")
    assert traced.out == f"raw.csv -> step.py @ {head(repo)[:7]} -> out.csv\n", traced.err


def test_12_07_a_future_dated_record_fetched_by_sync_counts_before_the_next_run(
    repo: Path, tmp_path: Path
) -> None:
    """Case 7, with no read command between: `nt sync` fetches a teammate's 9999-dated note,
    `nt track` re-runs the step at once; the local run is still the newest."""
    server = tmp_path / "server.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(server))
    git(repo, "remote", "add", "origin", f"file://{server}")
    bob = tmp_path / "bob"
    git(tmp_path, "clone", "-q", f"file://{server}", str(bob))
    forged = timed(
        v1_record(9, [("raw.csv", b"other bytes")], [("out.csv", b"A,B\n1,2\n")], "forged.py"),
        "9999-12-31T23:59:59.000000Z",
    )
    forged["git"] = {"commit": head(bob), "branch": "main"}
    set_note(bob, head(bob), [forged])
    git(bob, "push", "-q", "origin", "refs/notes/ntrk")

    synced = nt(repo, "sync")
    assert synced.code == 0, synced.err
    made = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "out.csv")
    assert made.code == 0, made.err
    status = nt(repo, "status", "out.csv")
    assert status.code == 0 and status.out.startswith("ok "), status.out + status.err


# --- 8. shared bytes make no false ancestors ----------------------------------------------------


@pytest.mark.parametrize("shared", [b"", b"id,value\n"], ids=["empty", "header-only"])
def test_12_08_committed_raw_data_is_a_root(repo: Path, shared: bytes) -> None:
    """Case 8: `survey.csv` is committed raw data that no run wrote; an earlier run happened to
    write the same bytes elsewhere. It is a root, not that run's output. A file that is not
    committed and that no run wrote at its path (a rename) still links by bytes."""
    (repo / "survey.csv").write_bytes(shared)
    commit = commit_all(repo, "raw survey data")
    records = [
        v1_record(1, [], [("tmp/blank.csv", shared)], "make_blank.py", commit),
        v1_record(2, [("survey.csv", shared)], [("summary.csv", b"S")], "summarise.py", commit),
        v1_record(3, [], [("made.csv", b"M")], "make.py", commit),
        v1_record(4, [("renamed.csv", b"M")], [("report.csv", b"R")], "report.py", commit),
    ]
    (repo / ".ntrk").mkdir()
    (repo / ".ntrk" / "runs.jsonl").write_text("".join(map(log_line, records)))
    for name, data in (("summary.csv", b"S"), ("renamed.csv", b"M"), ("report.csv", b"R")):
        (repo / name).write_bytes(data)

    short = commit[:7]
    summary = nt(repo, "trace", "summary.csv")
    assert summary.out == f"survey.csv -> summarise.py @ {short} -> summary.csv\n", (
        f"committed raw data linked to a run that wrote the same bytes elsewhere: {summary.out!r}"
    )
    report = nt(repo, "trace", "report.csv")  # renamed.csv: no run wrote it, not committed
    assert report.out == (
        f"(no tracked inputs) -> make.py @ {short} -> made.csv [missing]\n"
        f"renamed.csv -> report.py @ {short} -> report.csv\n"
    ), report.err


# --- 9. an output the command did not write is not its output -----------------------------------

SKIP_IF_PRESENT = (
    "import os, sys\n"
    "dst = sys.argv[sys.argv.index('-o') + 1]\n"
    "if not os.path.exists(dst):\n"
    "    open(dst, 'w').write('fresh')\n"
)


@pytest.mark.parametrize(
    ("program", "name"),
    [(SKIP_IF_PRESENT, "cached.csv"), ("open('results.csv', 'w').write('fresh')", "result.csv")],
    ids=["skips-work", "mistyped"],
)
def test_12_09_an_output_the_command_did_not_touch_is_not_recorded(
    repo: Path, program: str, name: str
) -> None:
    """Case 9: a step that skips work when its output exists, or an `-o` that names an existing
    file by mistake: the run did not make that file, so no record says it did, and a warning
    names it."""
    (repo / name).write_text("made last week, from other inputs")
    commit_all(repo, f"an old {name}")
    done = nt(repo, "track", "python", "-c", program, "-i", "raw.csv", "-o", name)
    assert done.code == 0, done.err
    assert (repo / name).read_text() == "made last week, from other inputs"
    claimed = [rec for rec in read_log(repo) if any(o["path"] == name for o in rec["outputs"])]
    assert claimed == [], "the run is recorded as the maker of a file it never wrote"
    assert name in done.err, done.err


# --- 10. the code is identified before the run; inputs must not change under it ------------------

SELF_EDITING = """\
import sys
with open(__file__, "a") as me:
    me.write("# edited while it ran\\n")
open(sys.argv[sys.argv.index("-o") + 1], "w").write("out")
"""


def test_12_10_the_script_is_identified_before_the_run(repo: Path) -> None:
    """Case 10: the script is edited while it runs; the record pairs the commit with the
    script that started, and ntrk says the script changed."""
    (repo / "slow.py").write_text(SELF_EDITING)
    commit_all(repo, "a slow step")
    done = nt(repo, "track", "python", "slow.py", "-i", "raw.csv", "-o", "out.csv")
    (rec,) = read_log(repo)
    assert rec["script"]["md5"] == md5(SELF_EDITING.encode()), "script.md5 read after the run"
    assert rec["script"]["blob"] == git(repo, "rev-parse", "HEAD:slow.py").strip()
    assert "slow.py" in done.err, done.err


def test_12_10_an_input_rewritten_during_the_run_is_refused(repo: Path) -> None:
    """Case 10: an input changed while the command ran: nothing recorded, a non-zero exit,
    the input named."""
    program = "open('raw.csv', 'a').write('3,4\\n'); open('out.csv', 'w').write('out')"
    done = nt(repo, "track", "python", "-c", program, "-i", "raw.csv", "-o", "out.csv")
    assert done.code != 0, f"recorded with the input's pre-run md5: {done.err}"
    assert "raw.csv" in done.err, done.err
    assert read_log(repo) == []


# --- 11. hidden code changes are refused ----------------------------------------------------------


@pytest.mark.parametrize("hidden", ["step.py", "raw.csv"], ids=["script", "input"])
@pytest.mark.parametrize("flag", ["--skip-worktree", "--assume-unchanged"])
def test_12_11_an_edit_hidden_from_git_status_is_refused(
    repo: Path, flag: str, hidden: str
) -> None:
    """Case 11: the script (or a recorded input under git), marked skip-worktree or
    assume-unchanged and edited, is a change like any other: refused before the run, named."""
    git(repo, "update-index", flag, hidden)
    with (repo / hidden).open("a") as stream:
        stream.write("# edited\n" if hidden == "step.py" else "3,4\n")
    assert git(repo, "status", "--porcelain") == ""  # git itself no longer shows the edit
    done = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "out.csv")
    assert done.code == 1, done.err
    assert hidden in done.err
    assert not (repo / "out.csv").exists()
    assert read_log(repo) == []


# --- 12. a step that edits its file in place ------------------------------------------------------

ADD_COLUMN = (
    "rows = open('data.csv').read().splitlines()\n"
    "open('data.csv', 'w').write(''.join(row + ',x\\n' for row in rows))\n"
)


def test_12_12_an_in_place_edit_is_judged_by_its_output(repo: Path) -> None:
    """Case 12: `-i data.csv -o data.csv`: ok right after the run, and nothing to rerun (which
    would apply the non-idempotent edit again)."""
    (repo / "data.csv").write_text("a,b\n1,2\n")
    commit_all(repo, "data")
    done = nt(repo, "track", "python", "-c", ADD_COLUMN, "-i", "data.csv", "-o", "data.csv")
    assert done.code == 0, done.err
    assert (repo / "data.csv").read_text() == "a,b,x\n1,2,x\n"
    status = nt(repo, "status", "data.csv")
    assert status.code == 0, status.out
    assert status.out.startswith("ok "), status.out
    plan = nt(repo, "rerun", "data.csv", "--dry-run")
    assert plan.code == 0, plan.err
    assert "plan:" not in plan.out, plan.out
    assert (repo / "data.csv").read_text() == "a,b,x\n1,2,x\n"


# --- 13. caches live in the git directory ---------------------------------------------------------

# The index as ntrk 0.2.0 wrote it to `.ntrk/index.sqlite`, up to date with a clone that has no
# log and no notes: an attacker can commit one (`git add -f`) claiming any record.
FORGED_INDEX_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (
    rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, pos REAL NOT NULL,
    from_log INTEGER NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL);
CREATE INDEX records_pos ON records (pos);
CREATE TABLE by_md5 (md5 TEXT NOT NULL, rid INTEGER NOT NULL, path TEXT NOT NULL);
CREATE INDEX by_md5_md5 ON by_md5 (md5);
CREATE TABLE by_path (path TEXT NOT NULL, rid INTEGER NOT NULL, md5 TEXT NOT NULL);
CREATE INDEX by_path_path ON by_path (path);
"""


def forge_index(path: Path, rec: dict[str, object]) -> None:
    import sqlite3

    empty_log = {"offset": 0, "lineno": 1, "windows": md5(b"0")}
    output = rec["outputs"][0]  # type: ignore[index]
    db = sqlite3.connect(path)
    with db:
        db.executescript(FORGED_INDEX_SCHEMA)
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("schema", "1"), ("log", json.dumps(empty_log)), ("notes", "{}")],
        )
        db.execute(
            "INSERT INTO records VALUES (1, ?, 1.0, 1, ?, ?)",
            (rec["id"], f"{rec['ts']}\0{rec['id']}", json.dumps(rec, sort_keys=True)),
        )
        db.execute("INSERT INTO by_md5 VALUES (?, 1, ?)", (output["md5"], output["path"]))
        db.execute("INSERT INTO by_path VALUES (?, 1, ?)", (output["path"], output["md5"]))
    db.close()


def test_12_13_caches_live_in_the_git_directory(server: Path, tmp_path: Path, repo: Path) -> None:
    """Case 13: tracing in a notes-only clone creates no `.ntrk/`; an index committed in the
    work tree, claiming a record no source has, is never read."""
    alice = clone(server, tmp_path / "alice")
    assert nt(alice, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv").code == 0
    assert nt(alice, "sync").code == 0
    bob = clone(server, tmp_path / "bob")
    assert nt(bob, "sync").code == 0
    shutil.copy(alice / "clean.csv", bob / "clean.csv")
    traced = nt(bob, "trace", "clean.csv")
    assert traced.code == 0 and traced.out.endswith("-> clean.csv\n"), traced.err
    assert not (bob / ".ntrk").exists()

    fake = v1_record(7, [], [("fake.csv", b"forged")], "evil.py", head(repo))
    (repo / ".ntrk").mkdir()
    forge_index(repo / ".ntrk" / "index.sqlite", fake)
    (repo / "fake.csv").write_bytes(b"forged")
    git(repo, "add", "-f", ".ntrk/index.sqlite", "fake.csv")
    git(repo, "commit", "-q", "-m", "a committed index")
    victim = tmp_path / "victim"
    git(tmp_path, "clone", "-q", str(repo), str(victim))
    assert (victim / ".ntrk" / "index.sqlite").is_file()
    listed = nt(victim, "log", "--json")
    no_crash(listed.err)
    assert json.loads(listed.out or "[]") == [], "a record from a committed index was read"
    forged = nt(victim, "trace", "fake.csv")
    assert forged.code == 1 and "evil.py" not in forged.out, forged.out


# --- 14. a rebuild is atomic --------------------------------------------------------------------


def test_12_14_concurrent_readers_after_a_log_rewrite_agree_with_a_rebuild(repo: Path) -> None:
    """Case 14: three `nt log --json` start at once after the log was rewritten; afterwards the
    index answers exactly as a fresh rebuild does: nothing missing, nothing twice."""
    records = [v1_record(n, [], [(f"out{n % 50}.csv", b"%d" % n)]) for n in range(4000)]
    log = repo / ".ntrk" / "runs.jsonl"
    log.parent.mkdir()
    log.write_text("".join(map(log_line, records)))
    assert nt(repo, "log", "-n", "1").code == 0  # the index has read the log
    for round_number in range(3):
        kept = records[round_number + 1 :]  # a pull rewrote the log: its first line went away
        log.write_text("".join(map(log_line, kept)))
        readers = [
            subprocess.Popen(
                [NT, "log", "--json"],
                cwd=repo,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        for reader in readers:
            out, err = reader.communicate(timeout=300)
            no_crash(err)
            assert "unusable" not in err, err
            assert reader.returncode == 0, err
            seen = [rec["id"] for rec in json.loads(out)]
            assert len(seen) == len(set(seen)), "a record listed twice"
        after = nt(repo, "log", "--json")
        ids = [rec["id"] for rec in json.loads(after.out)]
        drop_index(repo)
        fresh = [rec["id"] for rec in json.loads(nt(repo, "log", "--json").out)]
        assert ids == fresh, f"round {round_number}: {len(ids)} records, a rebuild has {len(fresh)}"
        assert len(fresh) == len(kept)


# --- 15. damage inside the index ----------------------------------------------------------------


def test_12_15_damage_inside_the_index_never_breaks_an_answer(repo: Path) -> None:
    """Case 15: bytes overwritten in the middle of the index (a torn copy, a bad sector): every
    command still answers as before, with at most one warning, never an internal error."""
    records = [v1_record(0, [], [("a.csv", b"A")])]
    records += [v1_record(n, [], [(f"f{n}.csv", b"%d" % n)]) for n in range(1, 3000)]
    records.append(v1_record(3000, [("a.csv", b"A")], [("b.csv", b"B")]))
    (repo / ".ntrk").mkdir()
    (repo / ".ntrk" / "runs.jsonl").write_text("".join(map(log_line, records)))
    (repo / "a.csv").write_bytes(b"A")
    (repo / "b.csv").write_bytes(b"B")
    commands = (["trace", "b.csv"], ["log", "--json"], ["status", "b.csv"], ["log", "b.csv"])
    expected = [nt(repo, *argv) for argv in commands]
    assert expected[0].out.count("\n") == 2 and expected[2].code == 0

    # The index is the big database among the derived files (3,000 records in it).
    damaged = [path for path in index_files(repo) if path.stat().st_size > 256 * 1024]
    assert damaged, "no index file found (looked in .ntrk/ and the git directory)"
    for path in damaged:
        size = path.stat().st_size
        with path.open("r+b") as stream:
            stream.seek(size // 3)
            stream.write(b"\xa5" * (size // 3))
    for argv, before in zip(commands, expected, strict=True):
        after = nt(repo, *argv)
        no_crash(after.err)
        assert (after.code, after.out) == (before.code, before.out), argv
        assert after.err.count("\n") <= 1, after.err


# --- 16. a blobless partial clone ---------------------------------------------------------------


def test_12_16_a_blobless_partial_clone_syncs_and_traces(server: Path, tmp_path: Path) -> None:
    """Case 16: `git clone --filter=blob:none`: libgit2 fetches no missing blob by itself;
    `nt sync` then `nt trace` work (or warn), never crash."""
    git(server, "config", "uploadpack.allowFilter", "true")
    alice = clone(server, tmp_path / "alice")
    for args in (("-i", "raw.csv", "-o", "clean.csv"), ("-i", "clean.csv", "-o", "final.csv")):
        assert nt(alice, "track", *STEP, *args).code == 0
    expected = nt(alice, "trace", "final.csv").out
    assert nt(alice, "sync").code == 0

    bob = clone(server, tmp_path / "bob", "--filter=blob:none")
    assert git(bob, "config", "remote.origin.promisor").strip() == "true"
    synced = nt(bob, "sync")
    no_crash(synced.err)
    assert synced.code == 0, synced.err
    shutil.copy(alice / "final.csv", bob / "final.csv")
    shutil.copy(alice / "clean.csv", bob / "clean.csv")
    traced = nt(bob, "trace", "final.csv")
    no_crash(traced.err)
    assert traced.code == 0, traced.err
    assert traced.out == expected
    for argv in (["log"], ["status"]):
        no_crash(nt(bob, *argv).err)


# --- 17. parallel pipelines ---------------------------------------------------------------------

PART = """\
import sys, time
out = sys.argv[sys.argv.index("-o") + 1]
with open(out, "w") as stream:
    stream.write("half ")
    stream.flush()
    time.sleep(0.5)
    stream.write(out)
"""
CONCAT = """\
import sys
args = sys.argv[1:]
parts = args[args.index("-i") + 1 : args.index("-o")]
open(args[-1], "w").write("".join(open(p).read() for p in parts))
"""


def test_12_17_parallel_steps_with_untracked_outputs_are_all_recorded(repo: Path) -> None:
    """Case 17: eight steps through `xargs -P 4`, outputs untracked (not ignored): a sibling's
    half-written output does not make the tree dirty; all are recorded, and a step consuming
    all eight traces them all."""
    if shutil.which("xargs") is None:
        pytest.skip("xargs is not installed")
    (repo / "part.py").write_text(PART)
    (repo / "concat.py").write_text(CONCAT)
    commit_all(repo, "a parallel pipeline")
    names = [f"part{n}.csv" for n in range(8)]
    done = subprocess.run(
        ["xargs", "-P", "4", "-I", "{}", NT, "track", sys.executable, "part.py", "-o", "{}"],
        cwd=repo,
        input="\n".join(names) + "\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    recorded = sorted(o["path"] for rec in read_log(repo) for o in rec["outputs"])
    assert recorded == names
    whole = nt(repo, "track", sys.executable, "concat.py", "-i", *names, "-o", "all.csv")
    assert whole.code == 0, whole.err
    traced = nt(repo, "trace", "all.csv").out.splitlines()
    assert len(traced) == 9, traced
    assert sorted(line.rsplit(" -> ", 1)[1] for line in traced[:-1]) == names
    assert all(" -> part.py @ " in line for line in traced[:-1])
