"""`nt trace`: resolution order, the walk rule, markers, and sameness with 0.1.0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import commit_all, git
from history import RandomHistory, log_line, md5, v1_record

SEED_WHEEL = (
    os.path.abspath(os.environ["NTRK_SEED_WHEEL"]) if os.environ.get("NTRK_SEED_WHEEL") else None
)


def write_log(root: Path, records: list[dict[str, object]]) -> None:
    (root / ".ntrk").mkdir(exist_ok=True)
    (root / ".ntrk" / "runs.jsonl").write_text("".join(map(log_line, records)), encoding="utf-8")


def put(root: Path, name: str, data: bytes) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(data)


def test_chain_roots_first(repo: Path, cli) -> None:
    write_log(
        repo,
        [
            v1_record(0, [("raw.csv", b"r")], [("clean.csv", b"c")]),
            v1_record(1, [("clean.csv", b"c")], [("final.csv", b"f")], "s2.py"),
        ],
    )
    for name, data in [("raw.csv", b"r"), ("clean.csv", b"c"), ("final.csv", b"f")]:
        put(repo, name, data)
    result = cli("trace", "final.csv")
    assert result.code == 0
    assert result.out == (
        "raw.csv -> step.py @ aaaaaaa -> clean.csv\nclean.csv -> s2.py @ aaaaaaa -> final.csv\n"
    )


def test_no_inputs_and_unknown_script(repo: Path, cli) -> None:
    write_log(repo, [v1_record(0, [], [("gen.csv", b"g")], script=None)])
    put(repo, "gen.csv", b"g")
    assert cli("trace", "gen.csv").out == "(no tracked inputs) -> ? @ aaaaaaa -> gen.csv\n"


def test_markers_modified_and_missing(repo: Path, cli) -> None:
    write_log(
        repo,
        [
            v1_record(0, [("raw.csv", b"r")], [("clean.csv", b"c")]),
            v1_record(1, [("clean.csv", b"c")], [("final.csv", b"f")]),
        ],
    )
    put(repo, "raw.csv", b"changed")
    put(repo, "final.csv", b"f")
    assert cli("trace", "final.csv").out == (
        "raw.csv [modified] -> step.py @ aaaaaaa -> clean.csv [missing]\n"
        "clean.csv [missing] -> step.py @ aaaaaaa -> final.csv\n"
    )


def test_resolution_prefers_sidecar(repo: Path, cli) -> None:
    recs = [
        v1_record(0, [], [("out.csv", b"o")], "first.py"),
        v1_record(1, [], [("out.csv", b"o")], "second.py"),
    ]
    write_log(repo, recs)
    put(repo, "out.csv", b"o")
    (repo / ".out.csv.ntrk").write_text(json.dumps({**recs[0], "sidecar_for": "out.csv"}))
    assert "first.py" in cli("trace", "out.csv").out


def test_resolution_exact_then_content_then_path(repo: Path, cli) -> None:
    write_log(
        repo,
        [
            v1_record(0, [], [("a.csv", b"same")], "exact.py"),
            v1_record(1, [], [("b.csv", b"same")], "content.py"),
            v1_record(2, [], [("a.csv", b"old")], "path.py"),
        ],
    )
    put(repo, "a.csv", b"same")
    assert "exact.py" in cli("trace", "a.csv").out  # same path and bytes beats newer
    put(repo, "renamed.csv", b"same")
    assert cli("trace", "renamed.csv").out.endswith("content.py @ aaaaaaa -> b.csv [missing]\n")
    put(repo, "a.csv", b"edited")
    assert (
        cli("trace", "a.csv").out
        == "(no tracked inputs) -> path.py @ aaaaaaa -> a.csv [modified]\n"
    )


def test_walk_links_to_newest_producer_before_the_step(repo: Path, cli) -> None:
    write_log(
        repo,
        [
            v1_record(0, [], [("x.csv", b"x")], "old.py"),
            v1_record(1, [], [("x.csv", b"x")], "newer.py"),
            v1_record(2, [("x.csv", b"x")], [("y.csv", b"y")], "use.py"),
            v1_record(3, [], [("x.csv", b"x")], "later.py"),  # re-makes the same bytes afterwards
        ],
    )
    put(repo, "y.csv", b"y")
    lines = cli("trace", "y.csv").out.splitlines()
    assert lines == [
        "(no tracked inputs) -> newer.py @ aaaaaaa -> x.csv [missing]",
        "x.csv [missing] -> use.py @ aaaaaaa -> y.csv",
    ]


def test_cycle_in_records_terminates(repo: Path, cli) -> None:
    write_log(
        repo,
        [
            v1_record(0, [("a", b"1")], [("b", b"2")]),
            v1_record(1, [("b", b"2")], [("a", b"1")]),
            v1_record(2, [("a", b"1")], [("b", b"2")]),
        ],
    )
    put(repo, "b", b"2")
    assert cli("trace", "b").code == 0


def test_deep_chain_has_no_recursion_limit(repo: Path, cli) -> None:
    depth = 3000
    write_log(
        repo,
        [
            v1_record(i, [(f"f{i}", str(i).encode())], [(f"f{i + 1}", str(i + 1).encode())])
            for i in range(depth)
        ],
    )
    put(repo, f"f{depth}", str(depth).encode())
    result = cli("trace", f"f{depth}")
    assert result.code == 0 and len(result.out.splitlines()) == depth


def test_nothing_found(repo: Path, cli) -> None:
    result = cli("trace", "raw.csv")
    assert result.code == 1
    assert result.err.startswith("nt: no lineage found for raw.csv — ")


def test_wrong_argument_count_is_usage(repo: Path, cli) -> None:
    assert cli("trace").code == 2
    assert cli("trace", "a", "b").code == 2


def test_outside_a_repository_the_sidecar_answers(repo: Path, cli, tmp_path, monkeypatch) -> None:
    assert cli("track", "python", "step.py", "-i", "raw.csv", "-o", "clean.csv").code == 0
    elsewhere = tmp_path / "copied"
    elsewhere.mkdir()
    for name in ("clean.csv", ".clean.csv.ntrk"):
        (elsewhere / name).write_bytes((repo / name).read_bytes())
    monkeypatch.chdir(elsewhere)
    result = cli("trace", "clean.csv")
    assert result.code == 0
    assert result.out.startswith("raw.csv -> step.py @ ") and result.out.endswith(" -> clean.csv\n")


def test_outside_the_tree_a_copied_file_is_hashed_and_a_directory_is_not(
    repo: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy outside the work tree, without its sidecar, is linked by its bytes; a directory
    outside it is never hashed (`nt trace /` read the whole file system to say "no lineage")."""
    from ntrk.commands import trace as trace_mod

    assert cli("track", "python", "step.py", "-i", "raw.csv", "-o", "clean.csv").code == 0
    elsewhere = tmp_path / "copied"
    elsewhere.mkdir()
    (elsewhere / "clean.csv").write_bytes((repo / "clean.csv").read_bytes())
    hashed: list[Path] = []
    real = trace_mod.hash_path
    monkeypatch.setattr(trace_mod, "hash_path", lambda path: hashed.append(path) or real(path))
    copy = cli("trace", str(elsewhere / "clean.csv"))
    assert copy.code == 0 and copy.out.endswith(" -> clean.csv\n"), copy.err
    assert hashed == [elsewhere / "clean.csv"]
    folder = cli("trace", str(elsewhere))
    assert folder.code == 1 and "no lineage found" in folder.err
    assert hashed == [elsewhere / "clean.csv"]


def test_invalid_log_lines_are_skipped_with_one_warning_each(repo: Path, cli) -> None:
    good = v1_record(0, [], [("o.csv", b"o")])
    bad_md5 = {**v1_record(1, [], [("p.csv", b"p")])}
    bad_md5["outputs"] = [{"path": "p.csv", "md5": 7, "size": 1}]
    log = repo / ".ntrk"
    log.mkdir()
    (log / "runs.jsonl").write_text(
        "not json\n" + log_line(good) + log_line(bad_md5) + "\n" + '{"v": 1, "id": "torn',
        encoding="utf-8",
    )
    put(repo, "o.csv", b"o")
    result = cli("trace", "o.csv")
    assert result.code == 0
    warnings = result.err.splitlines()
    assert len(warnings) == 2  # what is not JSON at all is reported when the log is indexed
    assert warnings[0].startswith("nt: warning: .ntrk/runs.jsonl:1: skipped, not a valid record")
    assert "interrupted write" in warnings[1] and ":5:" in warnings[1]
    # A line that is JSON but not a valid record is reported when a command first uses it.
    listed = [line for line in cli("log").err.splitlines() if ":3:" in line]
    assert listed[0].startswith("nt: warning: .ntrk/runs.jsonl:3: skipped, not a valid record")
    assert "has no valid md5" in listed[0]


def test_records_from_a_subdirectory_trace_from_anywhere(repo: Path, cli, monkeypatch) -> None:
    assert cli("track", "python", "step.py", "-i", "raw.csv", "-o", "clean.csv").code == 0
    commit_all(repo, "lineage")
    (repo / "deep").mkdir()
    monkeypatch.chdir(repo / "deep")
    assert cli("trace", "../clean.csv").out.startswith("raw.csv -> step.py @ ")


# --- sameness with ntrk 0.1.0 -----------------------------------------------------------------


@pytest.fixture(scope="session")
def seed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ntrk 0.1.0's wheel: from NTRK_SEED_WHEEL (CI downloads it), else from the registry."""
    if SEED_WHEEL:
        return Path(SEED_WHEEL)
    target = tmp_path_factory.mktemp("seed")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "ntrk==0.1.0", "-d", target],
        capture_output=True,
    )
    wheels = list(target.glob("ntrk-0.1.0-*.whl"))
    if done.returncode != 0 or not wheels:
        pytest.skip("ntrk 0.1.0 could not be downloaded (set NTRK_SEED_WHEEL)")
    return wheels[0]


SEED_DRIVER = """
import io, json, sys, contextlib
from ntrk.cli import main
results = []
for target in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["trace", target])
    results.append([code, out.getvalue()])
print(json.dumps(results))
"""


def trace_with_seed(wheel: Path, root: Path, targets: list[str]) -> list[list[object]]:
    assert zipfile.is_zipfile(wheel)
    env = {**os.environ, "PYTHONPATH": str(wheel)}
    done = subprocess.run(
        [sys.executable, "-c", SEED_DRIVER, json.dumps(targets)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("seed", range(12))
def test_same_output_as_0_1_0_on_random_histories(repo: Path, cli, seed_wheel, seed) -> None:
    history = RandomHistory(seed).generate(steps=30 + seed * 5)
    history.write(repo)
    targets = history.targets()
    expected = trace_with_seed(seed_wheel, repo, targets)
    ours = [[(r := cli("trace", t)).code, r.out] for t in targets]
    assert ours == expected
    assert sum(1 for code, _ in ours if code == 0) > len(targets) // 3  # the test has teeth


def test_the_seed_driver_really_runs_0_1_0(seed_wheel: Path, repo: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(seed_wheel)}
    done = subprocess.run(
        [sys.executable, "-c", "import ntrk; print(ntrk.__version__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "0.1.0"


def test_git_commit_shows_in_trace(repo: Path, cli) -> None:
    assert cli("track", "python", "step.py", "-i", "raw.csv", "-o", "clean.csv").code == 0
    head = git(repo, "rev-parse", "--short=7", "HEAD").strip()
    assert f"@ {head} ->" in cli("trace", "clean.csv").out
    assert md5(b"") == "d41d8cd98f00b204e9800998ecf8427e"
