"""`nt track -i PATH -o PATH -- COMMAND`: declared files, and where ntrk's options end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import commit_all, git, read_log

# Positional arguments, as most real scripts take them: no -i/-o for ntrk to find.
COPY = "import sys, shutil; shutil.copy(sys.argv[1], sys.argv[2])"


def test_declared_files_are_recorded(repo: Path, cli) -> None:
    result = cli(
        "track",
        "-i",
        "raw.csv",
        "-o",
        "copy.csv",
        "--",
        "python",
        "-c",
        COPY,
        "raw.csv",
        "copy.csv",
    )
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert rec["command"] == ["python", "-c", COPY, "raw.csv", "copy.csv"]
    assert [entry["path"] for entry in rec["inputs"]] == ["raw.csv"]
    assert [entry["path"] for entry in rec["outputs"]] == ["copy.csv"]
    assert rec["declared"] == {"inputs": ["raw.csv"], "outputs": ["copy.csv"]}
    assert "observed" not in rec["inputs"][0] and "observe" not in rec


def test_declared_and_flagged_files_are_listed_once(repo: Path, cli) -> None:
    result = cli(
        "track",
        "-i",
        "raw.csv",
        "-o",
        "clean.csv",
        "--",
        "python",
        "step.py",
        "-i",
        "raw.csv",
        "-o",
        "clean.csv",
    )
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert [e["path"] for e in rec["inputs"]] == ["raw.csv"]
    assert [e["path"] for e in rec["outputs"]] == ["clean.csv"]


def test_long_option_names_and_inline_values(repo: Path, cli) -> None:
    argv = [
        "--input=raw.csv",
        "--output",
        "copy.csv",
        "--",
        "python",
        "-c",
        COPY,
        "raw.csv",
        "copy.csv",
    ]
    assert cli("track", *argv).code == 0
    (rec,) = read_log(repo)
    assert rec["declared"] == {"inputs": ["raw.csv"], "outputs": ["copy.csv"]}


def test_missing_declared_input_runs_nothing(repo: Path, cli) -> None:
    code = "open('ran', 'w').close()"
    result = cli("track", "-i", "ghost.csv", "-o", "ran", "--", "python", "-c", code)
    assert result.code == 1
    assert result.err == (
        "nt: declared input ghost.csv does not exist — check the -i path (relative to the "
        "current directory); nothing was run\n"
    )
    assert not (repo / "ran").exists()


def test_a_declared_name_longer_than_the_system_allows_is_a_clear_error(repo: Path, cli) -> None:
    long_name = "y" * 300  # one component past NAME_MAX: no such file can exist
    result = cli("track", "-i", long_name, "-o", "ran", "--", "python", "-c", "print(1)")
    assert result.code == 1
    assert result.err.startswith(f"nt: declared input {long_name} does not exist — ")


def test_declared_output_not_produced_records_nothing(repo: Path, cli) -> None:
    code = "open('made.csv', 'w').write('1')"
    result = cli("track", "-o", "made.csv", "-o", "model.pkl", "--", "python", "-c", code)
    assert result.code == 1
    assert result.err == (
        "nt: declared output model.pkl was not produced (does not exist) — the command "
        "succeeded without writing it: fix the command or the -o path; nothing was recorded\n"
    )
    assert read_log(repo) == []
    assert not (repo / ".made.csv.ntrk").exists()


def test_declared_paths_outside_the_repository_are_refused(repo: Path, cli, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("x")
    code = "open('ran', 'w').close()"
    result = cli("track", "-i", str(outside), "--", "python", "-c", code)
    assert result.code == 1 and "is not inside the repository" in result.err
    result = cli("track", "-o", "../elsewhere.csv", "--", "python", "-c", code)
    assert result.code == 1 and "declared output ../elsewhere.csv is not inside" in result.err
    assert "nothing was run" in result.err
    assert not (repo / "ran").exists()


def test_declared_directories_get_tree_hashes(repo: Path, cli) -> None:
    make = "import os; os.makedirs('results/sub'); open('results/sub/a', 'w').write('1')"
    assert cli("track", "-o", "results", "--", "python", "-c", make).code == 0
    use = "import os; open('summary', 'w').write(str(os.listdir('results')))"
    result = cli("track", "-i", "results", "-o", "summary", "--", "python", "-c", use)
    assert result.code == 0, result.err
    first, second = read_log(repo)
    assert first["outputs"][0]["path"] == "results" and first["outputs"][0]["files"] == 1
    assert second["inputs"][0] == first["outputs"][0]
    assert cli("trace", "summary").out.splitlines()[1].startswith("results -> ")


def test_quoted_glob_is_expanded_by_ntrk(repo: Path, cli) -> None:
    for name in ("a.csv", "b.csv", ".hidden.csv"):
        (repo / "data").mkdir(exist_ok=True)
        (repo / "data" / name).write_text(name)
    commit_all(repo, "data")
    code = "open('joined', 'w').write('j')"
    result = cli("track", "-i", "data/*.csv", "-o", "join*", "--", "python", "-c", code)
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert [e["path"] for e in rec["inputs"]] == ["data/a.csv", "data/b.csv"]
    assert [e["path"] for e in rec["outputs"]] == ["joined"]
    assert rec["declared"] == {"inputs": ["data/*.csv"], "outputs": ["join*"]}


def test_a_glob_that_matches_nothing_is_missing(repo: Path, cli) -> None:
    result = cli("track", "-i", "nothing/*.csv", "--", "python", "-c", "pass")
    assert result.code == 1
    assert "declared input nothing/*.csv matches nothing" in result.err


def test_an_existing_name_with_wildcards_is_taken_literally(repo: Path, cli) -> None:
    (repo / "run[1].csv").write_text("literal")
    (repo / "run1.csv").write_text("would match the pattern")
    commit_all(repo, "odd names")
    result = cli("track", "-i", "run[1].csv", "-o", "o", "--", "python", "-c", "open('o','w')")
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert [e["path"] for e in rec["inputs"]] == ["run[1].csv"]


def test_declared_paths_are_kept_relative_to_the_root(repo: Path, cli, monkeypatch) -> None:
    (repo / "sub").mkdir()
    (repo / "sub" / "in.csv").write_text("x")
    commit_all(repo, "sub")
    monkeypatch.chdir(repo / "sub")
    code = "import shutil; shutil.copy('in.csv', 'out.csv')"
    result = cli(
        "track", "-i", "in.csv", "-i", "../raw.csv", "-o", "out.csv", "--", "python", "-c", code
    )
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert rec["declared"] == {"inputs": ["sub/in.csv", "raw.csv"], "outputs": ["sub/out.csv"]}
    assert [e["path"] for e in rec["outputs"]] == ["sub/out.csv"]


def test_rerun_declares_again(repo: Path, cli) -> None:
    argv = ["-i", "raw.csv", "-o", "copy.csv", "--", "python", "-c", COPY, "raw.csv", "copy.csv"]
    assert cli("track", *argv).code == 0
    commit_all(repo, "copy")
    (repo / "raw.csv").write_text("new,data\n")
    commit_all(repo, "new data")
    plan = cli("rerun", "copy.csv", "--dry-run")
    assert "-i raw.csv -o copy.csv -- python -c" in plan.out
    result = cli("rerun", "copy.csv", "--yes")
    assert result.code == 0, result.err
    first, second = read_log(repo)
    assert second["declared"] == first["declared"]
    assert (repo / "copy.csv").read_text() == "new,data\n"


# --- where ntrk's options end ------------------------------------------------------------------


def test_without_a_separator_every_word_is_the_commands(repo: Path, cli) -> None:
    code = "import sys; open('argv.json','w').write(repr(sys.argv[1:]))"
    result = cli("track", "python", "-c", code, "-i", "x", "--", "--observe", "-o", "argv.json")
    assert result.code == 0, result.err
    assert (repo / "argv.json").read_text() == repr(
        ["-i", "x", "--", "--observe", "-o", "argv.json"]
    )
    (rec,) = read_log(repo)
    assert "declared" not in rec and "observe" not in rec


def test_a_leading_separator_is_still_dropped(repo: Path, cli) -> None:
    code = "import sys; open('argv.json','w').write(repr(sys.argv[1:]))"
    assert cli("track", "--", "python", "-c", code, "-o", "argv.json").code == 0
    assert (repo / "argv.json").read_text() == repr(["-o", "argv.json"])


@pytest.mark.parametrize(
    ("words", "example"),
    [
        (["-o", "model.pkl"], "nt track -o PATH -- COMMAND…"),
        (["--input=raw.csv"], "nt track --input=raw.csv -- COMMAND…"),
        (["--observe"], "nt track --observe -- COMMAND…"),
    ],
)
def test_own_options_without_a_separator_are_a_usage_error(
    repo: Path, cli, words: list[str], example: str
) -> None:
    result = cli("track", *words, "python", "train.py")
    assert result.code == 2
    assert f"{words[0]} is nt track's own option, and those end with -- before the command: " in (
        result.err
    )
    assert example in result.err


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["-i", "a.csv", "b.csv"], "b.csv is not an option: each -i/-o takes one PATH"),
        (["--frobnicate"], "no such option '--frobnicate'"),
        (["-i"], "option '-i' requires an argument"),
    ],
)
def test_bad_options_before_the_separator(repo: Path, cli, words: list[str], expected: str) -> None:
    result = cli("track", *words, "--", "python", "-c", "pass")
    assert result.code == 2
    assert expected in result.err
    assert result.err.count("\n") == 1  # one line, like every failure


def test_options_and_no_command(repo: Path, cli) -> None:
    result = cli("track", "-i", "raw.csv", "--")
    assert result.code == 2 and "missing the command to run" in result.err


def test_help_shows_the_options(cli) -> None:
    result = cli("track", "--help")
    assert result.code == 0
    assert "[-i PATH]... [-o PATH]... [--observe] [--] COMMAND [ARGS]..." in result.out
    assert "--observe / --no-observe" in result.out


def test_record_with_declarations_is_read_back(repo: Path, cli) -> None:
    argv = ["-i", "raw.csv", "-o", "copy.csv", "--", "python", "-c", COPY, "raw.csv", "copy.csv"]
    assert cli("track", *argv).code == 0
    listed = json.loads(cli("log", "--json").out)
    assert listed[0]["declared"] == {"inputs": ["raw.csv"], "outputs": ["copy.csv"]}
    assert git(repo, "status", "--porcelain")  # the run wrote copy.csv
