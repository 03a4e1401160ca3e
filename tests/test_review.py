"""A security review of c96ae9d, as an attacker would try it: each test fails on that commit.

One test per finding, named `test_review_NN_...` after the finding's number in the review's
report. Through the installed `nt`, real git repositories and files on disk; nothing mocked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest
from conftest import NT, STEP, Outcome, bounded, clone, commit_all, git, make_repo, make_server, nt
from history import log_line, v1_record


def no_crash(outcome: Outcome) -> None:
    assert "internal error" not in outcome.err and "Traceback" not in outcome.err, outcome.err


def append_log(root: Path, *records: dict[str, object] | str) -> None:
    (root / ".ntrk").mkdir(exist_ok=True)
    with (root / ".ntrk" / "runs.jsonl").open("a", encoding="utf-8") as stream:
        for rec in records:
            stream.write(rec if isinstance(rec, str) else log_line(rec))


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def push_notes_tree(root: Path, entries: dict[str, str]) -> None:
    """Point refs/notes/ntrk of `root` at a notes commit whose tree maps each annotated
    object name to a blob id (2-hex fan-out, as git lays notes out), and push it."""
    fan: dict[str, list[str]] = {}
    for name, blob in entries.items():
        fan.setdefault(name[:2], []).append(f"100644 blob {blob}\t{name[2:]}")
    top = []
    for prefix, lines in fan.items():
        sub = subprocess.run(
            ["git", "mktree"], cwd=root, input="\n".join(lines) + "\n",
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        top.append(f"040000 tree {sub}\t{prefix}")
    tree = subprocess.run(
        ["git", "mktree"], cwd=root, input="\n".join(top) + "\n",
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    commit = git(root, "commit-tree", tree, "-m", "notes").strip()
    git(root, "update-ref", "refs/notes/ntrk", commit)
    git(root, "push", "-q", "-f", "origin", "refs/notes/ntrk:refs/notes/ntrk")


def write_blob(root: Path, data: bytes) -> str:
    return subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=root, input=data,
        capture_output=True, check=True,
    ).stdout.decode().strip()  # fmt: skip


# --- 1. a store linked out of the tree is read, and `nt sync` publishes what it holds ---------


def test_review_01_a_store_linked_out_of_the_tree_is_never_read_nor_pushed(
    tmp_path: Path,
) -> None:
    """`.ntrk` committed as a link to a sibling checkout's `.ntrk`: `nt track` refuses it,
    but `nt log`, `nt status`, `nt trace` and `nt sync` read the log through it, and
    `nt sync` mirrors the other project's records into notes and pushes them to the remote
    of the repository that planted the link."""
    secret = make_repo(tmp_path / "secret")
    made = nt(secret, "track", *STEP, "-i", "raw.csv", "-o", "secret-model.csv")
    assert made.code == 0, made.err
    server = make_server(tmp_path)
    mallory = clone(server, tmp_path / "mallory")
    (mallory / ".ntrk").symlink_to("../secret/.ntrk")
    commit_all(mallory, "a store that is a link")
    git(mallory, "push", "-q", "origin", "main")

    victim = clone(server, tmp_path / "victim")  # a sibling of `secret`, as checkouts are
    listed = nt(victim, "log")
    no_crash(listed)
    assert "secret-model.csv" not in listed.out, "the log was read through the link"
    synced = nt(victim, "sync")
    no_crash(synced)
    pushed = git(
        server.parent, "--git-dir", str(server), "log", "-p", "refs/notes/ntrk", check=False
    )
    assert "secret-model.csv" not in pushed, "records from outside the tree were pushed"


# --- 2. a committed sidecar whose name is not UTF-8 ----------------------------------------------


def test_review_02_a_sidecar_name_that_is_not_utf8_crashes_nothing(repo: Path) -> None:
    """One committed file `.\\xfe.ntrk` (a sidecar's name; any content): every command that
    reads the index dies with `internal error: UnicodeEncodeError`, on every clone, forever."""
    name = os.fsdecode(b".\xfe.ntrk")
    (repo / name).write_text("{}\n")
    commit_all(repo, "a sidecar named with a byte that is not UTF-8")
    for argv in (["log"], ["status"], ["trace", "raw.csv"]):
        done = nt(repo, *argv)
        no_crash(done)


# --- 3. many notes sharing one big blob -----------------------------------------------------------


def test_review_03_notes_sharing_one_big_blob_cost_bounded_memory(tmp_path: Path) -> None:
    """A remote whose notes tree has 24 entries that all name ONE ~64 MiB blob (just under
    MAX_NOTE_BYTES and MAX_NOTE_LINES, so it is read whole): the push is well under a
    megabyte, but `nt sync` holds every entry's lines at once (`_try_merge`'s `changes`),
    ~80 MB each: over 1.5 GB here, and it grows with the number of entries."""
    server = make_server(tmp_path)
    mallory = clone(server, tmp_path / "mallory")
    blob = write_blob(mallory, (b"x" * 330 + b"\n") * 199_999)
    push_notes_tree(mallory, {f"{n:040x}": blob for n in range(24)})

    victim = clone(server, tmp_path / "victim")
    made = nt(victim, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")  # notes of its own
    assert made.code == 0, made.err
    synced = bounded(victim, "sync", timeout=300)
    assert "MemoryError" not in synced.err, synced.err[-300:]
    no_crash(synced)
    assert synced.code == 0, synced.err[-300:]


# --- 4. a forged time that no clock can pass --------------------------------------------------


def test_review_04_a_forged_impossible_time_does_not_stay_newest(repo: Path) -> None:
    """A merged log line claims clean.csv with `start` = month 13. SQLite's GLOB accepts it
    as a time (it sorts after every real one), `_order_after` cannot parse it, so a run
    recorded here later gets no `order` and never counts as newer: `nt status` says
    `modified` forever, whatever the user re-runs."""
    made = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert made.code == 0, made.err
    forged = v1_record(7, [("raw.csv", b"a,b\n1,2\n")], [("clean.csv", b"forged")])
    forged["start"] = "2026-13-01T00:00:00.000000Z"
    append_log(repo, forged)
    commit_all(repo, "a merge brings in a record")
    again = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert again.code == 0, again.err
    commit_all(repo, "ran it again")
    status = nt(repo, "status", "--json", "clean.csv")
    assert json.loads(status.out)[0]["state"] == "ok", status.out


# --- 5. a CRC-32 collision makes the index disagree with a rebuild ------------------------------


def forge_crc(old: bytes, new: bytes, pad_at: int, pad_len: int) -> bytes:
    """`new` with bytes [pad_at, pad_at+pad_len) set to chars '@'..'O' so that its CRC-32
    equals `old`'s (CRC is affine over GF(2): solve for the low nibble of each char)."""
    base = bytearray(new)
    base[pad_at : pad_at + pad_len] = b"@" * pad_len
    zero = zlib.crc32(bytes(len(base)))
    target = zlib.crc32(old) ^ zlib.crc32(bytes(base))
    columns = []
    for i in range(pad_len):
        for bit in range(4):
            flip = bytearray(len(base))
            flip[pad_at + i] = 1 << bit
            columns.append((zlib.crc32(bytes(flip)) ^ zero, pad_at + i, 1 << bit))
    rows = [
        [sum(1 << c for c, col in enumerate(columns) if col[0] >> r & 1), target >> r & 1]
        for r in range(32)
    ]
    pivots, row = [], 0
    for c in range(len(columns)):
        found = next((k for k in range(row, 32) if rows[k][0] >> c & 1), None)
        if found is None:
            continue
        rows[row], rows[found] = rows[found], rows[row]
        for k in range(32):
            if k != row and rows[k][0] >> c & 1:
                rows[k][0] ^= rows[row][0]
                rows[k][1] ^= rows[row][1]
        pivots.append(c)
        row += 1
    for r, c in enumerate(pivots):
        if rows[r][1]:
            base[columns[c][1]] ^= columns[c][2]
    assert zlib.crc32(bytes(base)) == zlib.crc32(old)
    return bytes(base)


def test_review_05_an_edit_that_keeps_the_crc_is_seen(tmp_path: Path) -> None:
    """The index resumes reading a changed log when the CRC-32 of the bytes it read is the
    same. CRC-32 is no fingerprint against an adversary: a pushed rewrite of a record (its
    input raw.csv becomes bad.csv) with ten chars of a string field chosen to keep the CRC
    is never read by a clone that had indexed the log before the pull; a fresh index is."""
    server = make_server(tmp_path)
    alice = clone(server, tmp_path / "alice")
    (alice / "bad.csv").write_text("z,z\n9,9\n")
    commit_all(alice, "bad data")
    made = nt(alice, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert made.code == 0, made.err
    commit_all(alice, "a run")
    git(alice, "push", "-q", "origin", "main")
    bob = clone(server, tmp_path / "bob")
    assert nt(bob, "log", "--json").code == 0  # Bob's index has read the log

    log = alice / ".ntrk" / "runs.jsonl"
    old = log.read_bytes()
    new = old.replace(b'"path": "raw.csv"', b'"path": "bad.csv"')
    assert new != old
    at = new.index(b'"platform": "') + len(b'"platform": "')
    log.write_bytes(forge_crc(old, new, at, 10))
    commit_all(alice, "tidy the log")
    git(alice, "push", "-q", "origin", "main")

    git(bob, "pull", "-q")
    incremental = nt(bob, "log", "--json").out
    shutil.rmtree(bob / ".git" / "ntrk")
    fresh = nt(bob, "log", "--json").out
    assert "bad.csv" in fresh
    assert incremental == fresh, "the index answers from a log line that no longer exists"


# --- 6. duplicate keys: SQLite and Python read different records from one line ---------------


def test_review_06_one_line_is_one_record_for_every_reader(repo: Path) -> None:
    """A log line with two `outputs` keys: SQLite's json_extract/json_each (the index) take
    the first, Python's json (the record ntrk shows, and jq) the last. `nt status` then
    lists model.pkl as an output of a run that, as `nt log --json` and jq show it, never
    wrote it."""
    made = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert made.code == 0, made.err
    rec = v1_record(9, [("raw.csv", b"a,b\n1,2\n")], [("clean.csv", b"A,B\n1,2\n")])
    text = json.dumps(rec, sort_keys=True)
    shown = json.dumps(rec["outputs"], sort_keys=True)
    hidden = json.dumps([{"md5": "1" * 32, "path": "model.pkl", "size": 1}])
    text = text.replace(f'"outputs": {shown}', f'"outputs": {hidden}, "outputs": {shown}')
    assert text.count('"outputs"') == 2
    append_log(repo, text + "\n")
    logged = json.loads(nt(repo, "log", "--json").out)
    written = {o["path"] for r in logged for o in r["outputs"]}
    status = nt(repo, "status", "--json")
    listed = {entry["path"] for entry in json.loads(status.out)}
    assert listed <= written, f"status names outputs no record (as read) has: {listed - written}"


# --- 7. a committed raw file is traced to a run by its bytes alone ------------------------------


def test_review_07_a_committed_file_no_run_wrote_has_no_lineage(repo: Path) -> None:
    """Issue 12 case 8's rule (never link by bytes when the file is committed with those bytes
    and no run wrote its path) holds for inputs, not for the file `nt trace` is asked about:
    committed raw data that shares its bytes with any output (a header-only CSV) is "made" by
    that run, while `nt status` and `nt log` say no run wrote it."""
    made = nt(repo, "track", "python", "-c", "open('header.csv','w').write('a,b\\n')",
              "-o", "header.csv")  # fmt: skip
    assert made.code == 0, made.err
    commit_all(repo, "a run")
    (repo / "committed_raw.csv").write_text("a,b\n")
    commit_all(repo, "raw data")
    traced = nt(repo, "trace", "committed_raw.csv")
    assert "header.csv" not in traced.out, traced.out
    assert traced.code == 1, traced.out


# --- 8. a big integer where a number is shown -----------------------------------------------------


def test_review_08_a_huge_duration_is_no_crash(repo: Path) -> None:
    """`duration` is not validated; 10**400 is valid JSON and within the int-string limit, but
    `f"{duration:.2f}"` (nt log) and `math.isfinite(duration)` (nt export openlineage, PROV)
    raise OverflowError: internal error."""
    rec = v1_record(3, [], [("made.csv", b"m")])
    rec["duration"] = 10**400
    rec["start"] = "2026-01-01T00:00:00.000000Z"
    append_log(repo, rec)
    (repo / "made.csv").write_bytes(b"m")
    for argv in (["log"], ["export", "openlineage"], ["trace", "made.csv", "--format", "prov-n"]):
        done = nt(repo, *argv)
        no_crash(done)


# --- 9. a deep directory --------------------------------------------------------------------------


def remove_deep(top: Path) -> None:
    """Remove the deep tree under `top/d` level by level (shutil.rmtree, and so pytest's own
    clean-up of old temporary directories, recurse once per level and would fail on it)."""
    here = os.getcwd()
    os.chdir(top)
    depth = 0
    try:
        while os.path.isdir("d") and not os.path.islink("d"):
            os.chdir("d")
            depth += 1
        for name in os.listdir("."):
            os.unlink(name)
        for _ in range(depth):
            os.chdir("..")
            os.rmdir("d")
    finally:
        os.chdir(here)


def test_review_09_a_deep_directory_is_no_crash() -> None:
    """A committed directory 1,100 levels deep (git takes it) named as an input by a record:
    os.walk recurses once per level, so `nt status`, `nt trace` and `nt track -i d` die with
    RecursionError (internal error).

    The repository lives outside pytest's temporary directories: pytest removes those with
    shutil.rmtree, which recurses per level too, and a tree left behind by a killed run would
    break every later session's clean-up."""
    repo = make_repo(Path(tempfile.mkdtemp(prefix="ntrk-deep-")))
    here = Path.cwd()
    os.chdir(repo)
    try:
        for _ in range(1100):
            os.mkdir("d")
            os.chdir("d")
        Path("f").write_text("x")
    finally:
        os.chdir(here)
    try:
        out = b"1"
        rec = v1_record(4, [], [("o.csv", out)])
        rec["inputs"] = [{"path": "d", "md5": "0" * 32, "size": 1}]
        append_log(repo, rec)
        (repo / "o.csv").write_bytes(out)
        commit_all(repo, "a deep tree, and a record that read it")
        for argv in (
            ["status"],
            ["trace", "o.csv"],
            ["track", "python", "-c", "open('t.txt','w').write('1')", "-i", "d", "-o", "t.txt"],
        ):
            no_crash(nt(repo, *argv))
    finally:
        remove_deep(repo)
        shutil.rmtree(repo)


# --- 10. PROV of a file whose name is not UTF-8 ---------------------------------------------------


def test_review_10_prov_of_a_name_that_is_not_utf8(repo: Path) -> None:
    """ntrk records such names (issue 13 case 12); `urllib.parse.quote` in `prov._name` then
    raises UnicodeEncodeError for `nt trace --format prov-json` and `prov-n`."""
    name = os.fsdecode(b"f\xfe.csv")
    program = "import sys; open(sys.argv[2], 'w').write('q')"
    made = nt(repo, "track", "python", "-c", program, "-o", name)
    assert made.code == 0, made.err
    for fmt in ("prov-json", "prov-n"):
        no_crash(nt(repo, "trace", name, "--format", fmt))


def test_review_10b_openlineage_export_of_a_script_name_that_is_not_utf8(repo: Path) -> None:
    """A committed script whose name is not UTF-8: `naming.source_url` quotes it with
    `urllib.parse.quote` and `nt export openlineage` dies with UnicodeEncodeError."""
    script = os.fsdecode(b"\xfe.py")
    (repo / script).write_text("open('o.txt', 'w').write('1')\n")
    commit_all(repo, "a script named with a byte that is not UTF-8")
    made = nt(repo, "track", "python", script, "-o", "o.txt")
    assert made.code == 0, made.err
    no_crash(nt(repo, "export", "openlineage"))


# --- 11. control characters from records reach the terminal ------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["log"], ["trace", "e.csv", "--format", "prov-n"], ["trace", "e.csv", "--format", "dot"]],
    ids=["log", "prov-n", "dot"],
)
def test_review_11_record_strings_reach_the_terminal_visibly(repo: Path, argv: list[str]) -> None:
    """`render.log_line` shows `ts[:16]` raw, PROV-N writes labels (the command) raw, and DOT
    node ids hold paths raw: an escape sequence or carriage return in a merged record
    rewrites what the terminal shows."""
    rec = v1_record(5, [("in\x1b]0;pwn\x07\r.csv", b"i")], [("e.csv", b"e")])
    rec["ts"] = "\x1b]0;pwn\x07\r\x1b[2K"
    rec["command"] = ["python", "\r\x1b[2Kharmless", "-o", "e.csv"]
    append_log(repo, rec)
    (repo / "e.csv").write_bytes(b"e")
    out = subprocess.run([NT, *argv], cwd=repo, capture_output=True).stdout
    assert not any(char in out for char in (b"\x1b", b"\r", b"\x07")), out[:300]


# --- 12. warnings about a remote's notes are not capped -------------------------------------------


def test_review_12_warnings_about_unreadable_notes_are_capped(tmp_path: Path) -> None:
    """40 notes over MAX_NOTE_BYTES (one shared blob): `nt sync` prints a warning for each
    (`sync._record_ids_added`), 40 lines for one bad source."""
    server = make_server(tmp_path)
    mallory = clone(server, tmp_path / "mallory")
    blob = write_blob(mallory, b"\n" * (65 << 20))
    push_notes_tree(mallory, {f"{n:040x}": blob for n in range(40)})
    victim = clone(server, tmp_path / "victim")
    synced = nt(victim, "sync")
    no_crash(synced)
    warnings = [line for line in synced.err.splitlines() if "warning" in line]
    assert len(warnings) <= 6, f"{len(warnings)} warnings"


# --- 13. a shell word that means another argument -------------------------------------------------


@pytest.mark.parametrize("argument", ["a\u0085b", "a\x9bb"])
def test_review_13_a_shown_command_means_exactly_its_argv(argument: str) -> None:
    """`text.shell_join` writes C1 controls as `$'\\x85'`, which bash reads as the byte 0x85,
    not U+0085 (C2 85): the rerun plan shows a command other than the one that runs."""
    from ntrk.text import shell_join

    shown = shell_join(["printf", "%s", argument])
    ran = subprocess.run(["bash", "-c", shown], capture_output=True, check=True).stdout
    assert ran == argument.encode("utf-8"), (shown, ran)


# --- 14. a husky script that is a link ---------------------------------------------------------


def test_review_14_install_hooks_never_reads_through_a_committed_link(
    repo: Path, tmp_path: Path
) -> None:
    """`nt install-hooks --uninstall` reads `.husky/<hook>` whole through `is_file()` and
    `read_bytes()`: a committed link to any file outside (a multi-GB one eats the memory) is
    read through. Here the file outside says `nt hook pre-commit`, and ntrk reports it."""
    outside = tmp_path / "outside-hook"
    outside.write_text("nt hook pre-commit\n")
    (repo / ".husky").mkdir()
    (repo / ".husky" / "pre-commit").symlink_to(outside)
    commit_all(repo, "a husky script that is a link")
    done = nt(repo, "install-hooks", "--uninstall")
    no_crash(done)
    assert "husky script" not in done.out, "read through a link ntrk did not make"


# --- 15. a program the user did not name, from the work tree --------------------------------------


def test_review_15_the_signal_witness_is_no_program_from_the_work_tree(repo: Path) -> None:
    """`runner._GroupWitness` runs `cat` through PATH. With an empty PATH element (a leading
    ':' from `PATH=$EXTRA:$PATH`), that is the work tree's `./cat`, on every `nt track`,
    even of a command named by absolute path."""
    marker = repo.parent / "cat-ran"
    (repo / "cat").write_text(f"#!/bin/sh\ntouch '{marker}'\nexec /bin/cat \"$@\"\n")
    (repo / "cat").chmod(0o755)
    commit_all(repo, "a program named cat")
    env = {**os.environ, "PATH": ":" + os.environ.get("PATH", "/usr/bin:/bin")}
    python = shutil.which("python3") or "/usr/bin/python3"
    done = subprocess.run(
        [NT, "track", python, "step.py", "-i", "raw.csv", "-o", "clean.csv"],
        cwd=repo, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), "ntrk ran the repository's ./cat"


# --- 16. an untrusted ntrk.toml decides what leaves the machine -----------------------------------


def test_review_16_an_untrusted_config_fingerprints_no_secret(repo: Path) -> None:
    """A committed ntrk.toml asks for `env_vars = ["PGPASSWORD"]` and `hostname = true`:
    without any approval the record (committed, pushed as a note) holds the hostname and
    md5("PGPASSWORD=<value>\\n"), unsalted, which a dictionary reverses for weak values."""
    (repo / "ntrk.toml").write_text('[record]\nhostname = true\nenv_vars = ["PGPASSWORD"]\n')
    commit_all(repo, "a configuration from upstream")
    env = {**os.environ, "PGPASSWORD": "hunter2"}
    done = subprocess.run(
        [NT, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv"],
        cwd=repo, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = (repo / ".ntrk" / "runs.jsonl").read_text()
    assert md5(b"PGPASSWORD=hunter2\n") not in line, "a secret's md5 is in the record"
    assert '"hostname"' not in line, "the hostname is recorded on the repository's say-so"


def test_review_16b_configured_flags_never_take_a_built_in_one(repo: Path) -> None:
    """config.py: "Configured flags are added to the built-ins, never replace them". An
    untrusted `inputs = ["-o"]` makes every `-o` an input: nothing is recorded any more.

    Now a flag claimed by both kinds is a configuration error, said in one line before the
    command runs, and no record claims clean.csv was read."""
    (repo / "ntrk.toml").write_text('[flags]\ninputs = ["-o", "--out", "--output"]\n')
    commit_all(repo, "a configuration from upstream")
    done = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert done.code != 0
    assert done.err.startswith("nt: ntrk.toml") and done.err.count("\n") == 1, done.err
    assert "-o" in done.err and "flags.inputs" in done.err, done.err
    assert not (repo / "clean.csv").exists(), "the command ran under a configuration in error"
    assert (
        not (repo / ".ntrk" / "runs.jsonl").exists()
        or "clean.csv" not in (repo / ".ntrk" / "runs.jsonl").read_text()
    )


# --- 17. a committed sidecar that comes back is never read again --------------------------------


def test_review_17_a_sidecar_moved_away_and_back_is_read_again(repo: Path, tmp_path: Path) -> None:
    """Sidecars are listed from git's index only when that file changes; one whose file is
    gone is dropped from the remembered list. When it comes back (moved back, restored from a
    backup or a build cache: git's index untouched), the index never reads it again: `nt log`
    says "no recorded runs yet" and `nt status` fails, while a fresh index has the run."""
    made = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert made.code == 0, made.err
    git(repo, "add", "clean.csv", ".clean.csv.ntrk")
    git(repo, "commit", "-q", "-m", "output and sidecar, without the log")
    shutil.rmtree(repo / ".ntrk")  # a clone without the log and without notes
    git(repo, "update-ref", "-d", "refs/notes/ntrk")
    assert "clean.csv" in nt(repo, "log").out
    kept = tmp_path / "sidecar"
    (repo / ".clean.csv.ntrk").rename(kept)
    assert "clean.csv" not in nt(repo, "log").out
    kept.rename(repo / ".clean.csv.ntrk")
    incremental = nt(repo, "log").out
    shutil.rmtree(repo / ".git" / "ntrk")
    fresh = nt(repo, "log").out
    assert "clean.csv" in fresh
    assert incremental == fresh


# --- 18. names longer than a file name can be -----------------------------------------------------


def test_review_18_a_record_naming_an_overlong_file_is_no_crash(repo: Path) -> None:
    """A merged record whose output name has 300 bytes in one component: `Path.exists()`
    raises ENAMETOOLONG (Python only ignores ENOENT, ENOTDIR, EBADF, ELOOP) and `nt status`
    and `nt trace` die with internal error."""
    append_log(repo, v1_record(1, [], [("x" * 300 + ".csv", b"q")]))
    commit_all(repo, "a merged record")
    for argv in (["status"], ["trace", "x" * 300 + ".csv"]):
        no_crash(nt(repo, *argv))


def test_review_18b_the_hook_stages_the_log_beside_a_long_file_name(repo: Path) -> None:
    """Staging a file whose name has 250 bytes (legal; its sidecar's name would have 256):
    the pre-commit hook's `Path.is_file()` on that sidecar name raises ENAMETOOLONG, the hook
    dies with internal error, and the commit goes through without the log."""
    assert nt(repo, "install-hooks").code == 0
    made = nt(repo, "track", *STEP, "-i", "raw.csv", "-o", "clean.csv")
    assert made.code == 0, made.err
    (repo / ("x" * 250)).write_text("data\n")
    git(repo, "add", "x" * 250)
    done = subprocess.run(
        ["git", "commit", "-q", "-m", "a long name"], cwd=repo, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "internal error" not in done.stderr, done.stderr[:300]
    assert ".ntrk/runs.jsonl" in git(repo, "show", "--name-only", "--format=", "HEAD")


# --- 19. one merged line that costs a minute per command ---------------------------------------


def test_review_19_one_record_costs_bounded_time(repo: Path) -> None:
    """One merged log line (under the 4 MiB record limit) with 1,900 inputs 1,000 directories
    deep: `lineage.producer` asks the index once per input and per parent directory
    (`writers(directory)`), 1.9 million queries, so `nt status` and `nt trace` take about a
    minute each, every time; ten such lines, ten minutes. (The timeout stops a hang: a
    bounded walk answers in about a second.)"""
    rec = v1_record(1, [], [("o.csv", b"q")])
    deep = "a/" * 1000
    rec["inputs"] = [{"path": f"{deep}{n}.csv", "md5": "0" * 32, "size": 1} for n in range(1900)]
    append_log(repo, rec)
    (repo / "o.csv").write_bytes(b"q")
    for argv in (["status"], ["trace", "o.csv"]):
        done = bounded(repo, *argv, timeout=20)
        no_crash(done)


# --- 20. a notes tree whose subtrees repeat: billions of notes from six objects ---------------


def push_fanout_bomb(root: Path, width: int, levels: int) -> None:
    """refs/notes/ntrk as `levels` levels of `width` entries that all name ONE subtree:
    width**levels notes (paths differ, objects do not), pushed in a few hundred bytes."""
    blob = write_blob(root, b"not a record\n")
    tree = subprocess.run(
        ["git", "mktree"], cwd=root, input=f"100644 blob {blob}\t{'a' * (40 - 2 * levels)}\n",
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    for _ in range(levels):
        listing = "".join(f"040000 tree {tree}\t{n:02x}\n" for n in range(width))
        tree = subprocess.run(
            ["git", "mktree"], cwd=root, input=listing, capture_output=True, text=True, check=True
        ).stdout.strip()
    commit = git(root, "commit-tree", tree, "-m", "notes").strip()
    git(root, "update-ref", "refs/notes/ntrk", commit)
    git(root, "push", "-q", "-f", "origin", "refs/notes/ntrk:refs/notes/ntrk")


def test_review_20_a_notes_tree_of_repeated_subtrees_costs_bounded_memory(
    tmp_path: Path,
) -> None:
    """256**3 = 16.7 million notes from five objects: `notes.diff`/`iter_notes` (sync's
    `_record_ids_added`, the indexer) enumerate every path into one dict and run out of
    memory. The fetch has already moved the tracking ref and the merge (no local notes)
    adopts the tree as refs/notes/ntrk, so from then on every read command of that clone
    dies the same way."""
    server = make_server(tmp_path)
    mallory = clone(server, tmp_path / "mallory")
    push_fanout_bomb(mallory, 256, 3)
    victim = clone(server, tmp_path / "victim")
    for argv in (["sync"], ["sync"], ["log"]):
        done = bounded(victim, *argv, timeout=120)
        assert "MemoryError" not in done.err, (argv, done.err[-300:])
        no_crash(done)
        if argv == ["sync"]:  # refused, every time, and never adopted as the local notes
            assert done.code == 1 and "origin's lineage notes are not merged" in done.err
    assert git(victim, "for-each-ref", "refs/notes").strip() == ""
