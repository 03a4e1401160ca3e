"""`nt track --observe`: the files a run opened, seen by strace or by Python's audit hook."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import getstarted
import pytest
from conftest import NT, at_a_terminal, commit_all, git, read_log
from test_trace import seed_wheel  # noqa: F401  (the fixture: ntrk 0.1.0's wheel)

from ntrk.observe import strace

STRACE = strace.find()
STRACE_PROBLEM = strace.problem(STRACE) if STRACE else "strace is not installed"
needs_strace = pytest.mark.skipif(STRACE_PROBLEM is not None, reason=str(STRACE_PROBLEM))
# What the tests run besides strace: the interpreter, a shell, cp and git.
TOOLS = {
    "python": os.path.realpath(sys.executable),
    "python3": os.path.realpath(sys.executable),
    **{name: shutil.which(name) for name in ("sh", "cp", "git", "true", "cat")},
}


@pytest.fixture(params=["strace", "python"])
def observer(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Each test twice: with strace, and with strace hidden from PATH (the audit hook alone)."""
    if request.param == "strace":
        if STRACE_PROBLEM is not None:
            pytest.skip(STRACE_PROBLEM)
        return "strace"
    hide_strace(tmp_path, monkeypatch)
    return "python-audit-hook"


def hide_strace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH holding only what the tests run: no strace."""
    tools = tmp_path / "bin-without-strace"
    tools.mkdir()
    for name, target in TOOLS.items():
        assert target, f"{name} is needed by the tests"
        (tools / name).symlink_to(target)
    monkeypatch.setenv("PATH", str(tools))
    assert strace.find() is None


def paths(entries: list[dict[str, object]]) -> list[object]:
    return [entry["path"] for entry in entries]


# --- the get-started pipeline --------------------------------------------------------------------


@pytest.fixture
def pipeline(repo: Path) -> Path:
    getstarted.write(repo)
    (repo / ".gitignore").write_text("model.pkl\n")  # as DVC does; outputs need not be in git
    commit_all(repo, "pipeline")
    return repo


def scripts_in_trace(text: str) -> set[str]:
    return {line.split(" -> ")[1].split(" @ ")[0] for line in text.splitlines()}


def test_declared_pipeline_traces_all_three_steps(pipeline: Path, cli) -> None:
    for declared, step in zip(getstarted.DECLARED, getstarted.STEPS, strict=True):
        result = cli("track", *declared, "--", *step)
        assert result.code == 0, result.err
        assert "which the record does not list" not in result.err
    trace = cli("trace", "model.pkl")
    assert trace.code == 0, trace.err
    lines = trace.out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("data/data.xml, params.yaml -> src/prepare.py @ ")
    assert lines[0].endswith(" -> data/prepared")
    assert lines[1].startswith("data/prepared, params.yaml -> src/featurization.py @ ")
    assert lines[2].startswith("data/features, params.yaml -> src/train.py @ ")
    assert lines[2].endswith(" -> model.pkl")


def test_observed_pipeline_traces_all_three_steps(pipeline: Path, cli, observer: str) -> None:
    for step in getstarted.STEPS:
        result = cli("track", "--observe", "--", *step)
        assert result.code == 0, result.err
    records = read_log(pipeline)
    assert [rec["observe"] for rec in records] == [observer] * 3
    for rec in records:
        assert "params.yaml" in paths(rec["inputs"])
        assert all(entry["observed"] is True for entry in rec["inputs"] + rec["outputs"])
    prepare, featurize, train = records
    assert paths(prepare["inputs"]) == ["data/data.xml", "params.yaml"]
    assert paths(prepare["outputs"]) == ["data/prepared/test.tsv", "data/prepared/train.tsv"]
    assert paths(featurize["inputs"]) == [
        "data/prepared/test.tsv",
        "data/prepared/train.tsv",
        "params.yaml",
    ]
    assert paths(featurize["outputs"]) == ["data/features/test.pkl", "data/features/train.pkl"]
    assert paths(train["inputs"]) == ["data/features/train.pkl", "params.yaml"]
    assert paths(train["outputs"]) == ["model.pkl"]
    trace = cli("trace", "model.pkl")
    assert trace.code == 0, trace.err
    assert scripts_in_trace(trace.out) == {
        "src/prepare.py",
        "src/featurization.py",
        "src/train.py",
    }
    assert trace.out.splitlines()[-1].endswith("-> model.pkl")


@pytest.mark.parametrize("how", ["declared", "observed"])
def test_changing_params_makes_every_step_stale(pipeline: Path, cli, how: str) -> None:
    for declared, step in zip(getstarted.DECLARED, getstarted.STEPS, strict=True):
        options = declared if how == "declared" else ["--observe"]
        assert cli("track", *options, "--", *step).code == 0
    commit_all(pipeline, "results")
    assert cli("status").code == 0
    params = pipeline / "params.yaml"
    params.write_text(params.read_text().replace("n_est: 5", "n_est: 50"))
    result = cli("status", "--json")
    assert result.code == 1
    states = {entry["path"]: entry for entry in json.loads(result.out)}
    assert states and all(entry["state"] == "stale" for entry in states.values())
    for entry in states.values():
        assert "input params.yaml changed" in entry["reasons"]
    # Every step's outputs: data/prepared (or its files), data/features (or its), model.pkl.
    assert {path.split("/")[0] if path != "model.pkl" else path for path in states} == {
        "data",
        "model.pkl",
    }
    assert {path.split("/")[1] for path in states if path.startswith("data/")} == {
        "prepared",
        "features",
    }


def test_without_observe_a_python_step_says_what_the_record_lacks(pipeline: Path, cli) -> None:
    result = cli("track", "-o", "data/prepared", "--", *getstarted.STEPS[0])
    assert result.code == 0
    assert (
        "nt: warning: the run read data/data.xml, params.yaml, which the record does not list "
        "— declare them (nt track -i data/data.xml -i params.yaml -- COMMAND…) or use "
        "nt track --observe\n"
    ) in result.err
    (rec,) = read_log(pipeline)
    assert paths(rec["inputs"]) == [] and "observe" not in rec


def test_the_warning_can_be_turned_off(pipeline: Path, cli) -> None:
    (pipeline / "ntrk.toml").write_text("[track]\nwarn_unlisted = false\n")
    commit_all(pipeline, "quiet")
    result = cli("track", "-o", "data/prepared", "--", *getstarted.STEPS[0])
    assert result.code == 0
    assert "does not list" not in result.err


def test_observe_can_be_the_default_and_switched_off(pipeline: Path, cli) -> None:
    (pipeline / "ntrk.toml").write_text("[track]\nobserve = true\n")
    commit_all(pipeline, "observe by default")
    assert cli("track", *getstarted.STEPS[0]).code == 0
    assert cli("track", "--no-observe", "-o", "data/features", "--", *getstarted.STEPS[1]).code == 0
    first, second = read_log(pipeline)
    assert "params.yaml" in paths(first["inputs"]) and "observe" in first
    assert paths(second["inputs"]) == [] and "observe" not in second


def test_no_outputs_names_what_the_run_wrote(pipeline: Path, cli) -> None:
    result = cli("track", *getstarted.STEPS[0])
    assert result.code == 0
    assert result.err == (
        "nt: no tracked outputs produced; nothing recorded — the run read data/data.xml, "
        "params.yaml and wrote data/prepared/test.tsv, data/prepared/train.tsv: declare them "
        "(nt track -i data/data.xml -i params.yaml -o data/prepared/test.tsv "
        "-o data/prepared/train.tsv -- COMMAND…) or use nt track --observe -- COMMAND…\n"
    )
    assert read_log(pipeline) == []


def test_no_outputs_from_a_program_ntrk_cannot_see_names_the_ways(repo: Path, cli) -> None:
    result = cli("track", "sh", "-c", "cp raw.csv copy.csv")
    assert result.code == 0
    assert result.err == (
        "nt: no tracked outputs produced; nothing recorded — ntrk finds outputs after -o, "
        "--out, --output in the command (add flag names under [flags] outputs in ntrk.toml), "
        "declared ones (nt track -o PATH -- COMMAND…), or the files it sees the run write "
        "(nt track --observe -- COMMAND…)\n"
    )


def test_ntrk_0_1_0_reads_observed_and_declared_records_alike(
    pipeline: Path,
    cli,
    seed_wheel,  # noqa: F811  (the fixture imported above)
) -> None:
    """Old readers ignore the new fields: 0.1.0's trace prints what ours prints."""
    from test_trace import trace_with_seed

    first, second, third = getstarted.STEPS
    assert cli("track", "--observe", "--", *first).code == 0
    assert cli("track", "--observe", "--", *second).code == 0
    declared = ["-i", "data/features/train.pkl", "-i", "params.yaml", "-o", "model.pkl"]
    assert cli("track", *declared, "--", *third).code == 0
    targets = ["model.pkl", "data/features/train.pkl", "data/prepared/test.tsv"]
    ours = [[(result := cli("trace", target)).code, result.out] for target in targets]
    assert ours == trace_with_seed(seed_wheel, pipeline, targets)
    assert all(code == 0 for code, _ in ours)


# --- what observation sees ----------------------------------------------------------------------


def test_python_children_are_observed(repo: Path, cli, observer: str) -> None:
    child = "import shutil; shutil.copy('raw.csv', 'child.csv')"
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    result = cli("track", "--observe", "--", "python", "-c", code)
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert paths(rec["inputs"]) == ["raw.csv"] and paths(rec["outputs"]) == ["child.csv"]


@needs_strace
def test_a_shell_script_calling_cp_is_observed_by_strace(repo: Path, cli) -> None:
    (repo / "copy.sh").write_text("mkdir -p out\ncp raw.csv out/copy.csv\ncat raw.csv > cat.csv\n")
    commit_all(repo, "script")
    result = cli("track", "--observe", "--", "sh", "copy.sh")
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert rec["observe"] == "strace"
    assert rec["script"]["path"] == "copy.sh"
    assert paths(rec["inputs"]) == ["raw.csv"]
    assert paths(rec["outputs"]) == ["cat.csv", "out/copy.csv"]


def test_without_strace_a_shell_script_gets_its_declared_files(
    repo: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hide_strace(tmp_path, monkeypatch)
    (repo / "copy.sh").write_text("cp raw.csv copy.csv\n")
    commit_all(repo, "script")
    result = cli("track", "--observe", "-o", "copy.csv", "--", "sh", "copy.sh")
    assert result.code == 0, result.err
    assert result.err.startswith(
        "nt: strace is not installed, so only the Python processes of this run are observed, "
        "and sh is not one — install strace (apt-get install strace) or declare its files "
        "(nt track -i PATH -o PATH -- COMMAND…)\n"
    )
    (rec,) = read_log(repo)
    assert paths(rec["outputs"]) == ["copy.csv"] and "observed" not in rec["outputs"][0]
    assert rec["inputs"] == []


def test_a_python_step_starting_other_programs_says_so_without_strace(
    repo: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hide_strace(tmp_path, monkeypatch)
    code = "import subprocess; subprocess.run(['cp', 'raw.csv', 'copy.csv']); open('o', 'w')"
    result = cli("track", "--observe", "--", "python", "-c", code)
    assert result.code == 0, result.err
    assert "nt: warning: the run started cp, whose files ntrk did not observe" in result.err
    (rec,) = read_log(repo)
    assert paths(rec["outputs"]) == ["o"]


def test_renamed_into_place_is_an_output(repo: Path, cli, observer: str) -> None:
    code = (
        "import os; open('model.tmp', 'w').write('m'); os.replace('model.tmp', 'model.pkl'); "
        "open('link.tmp', 'w').write('l'); os.rename('link.tmp', 'sub.pkl')"
    )
    result = cli("track", "--observe", "--", "python", "-c", code)
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert paths(rec["outputs"]) == ["model.pkl", "sub.pkl"]
    assert rec["inputs"] == []


def test_a_file_read_and_then_removed_is_not_an_input(repo: Path, cli, observer: str) -> None:
    (repo / "scratch.csv").write_text("s")
    commit_all(repo, "scratch")
    code = (
        "import os; data = open('scratch.csv').read(); os.remove('scratch.csv'); "
        "open('out.csv', 'w').write(data); open('tmp', 'w').write('t'); os.remove('tmp')"
    )
    result = cli("track", "--observe", "--", "python", "-c", code)
    assert result.code == 0, result.err
    assert (
        "nt: warning: the run read scratch.csv and then removed or moved it away, so it is not "
        "an input of the record — declare it (nt track -i scratch.csv -- …) to hash it before "
        "the run\n"
    ) in result.err
    (rec,) = read_log(repo)
    assert rec["inputs"] == [] and paths(rec["outputs"]) == ["out.csv"]


def test_declared_and_flagged_files_stay_unmarked(repo: Path, cli, observer: str) -> None:
    (repo / "data").mkdir()
    (repo / "data" / "a.csv").write_text("a")
    commit_all(repo, "data")
    code = "import shutil; shutil.copy('raw.csv', 'clean.csv'); shutil.copy('data/a.csv', 'b.csv')"
    argv = ["-i", "data", "--observe", "--", "python", "-c", code, "-o", "clean.csv"]
    result = cli("track", *argv)
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert rec["inputs"] == [
        {"path": "data", "md5": rec["inputs"][0]["md5"], "size": 1, "files": 1},
        {"path": "raw.csv", "md5": rec["inputs"][1]["md5"], "size": 8, "observed": True},
    ]
    assert [(e["path"], e.get("observed", False)) for e in rec["outputs"]] == [
        ("clean.csv", False),
        ("b.csv", True),
    ]


def test_what_observation_leaves_out(repo: Path, cli, observer: str, tmp_path: Path) -> None:
    venv = repo / ".venv"
    (venv / "lib").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "lib" / "module.txt").write_text("m")
    (repo / "helper.py").write_text("VALUE = 1\n")
    (repo / ".gitignore").write_text(".venv/\n__pycache__/\n")
    commit_all(repo, "environment")
    (tmp_path / "outside.txt").write_text("o")
    code = (
        "import sys; sys.path.insert(0, '.'); import helper; "
        "open('.venv/lib/module.txt').read(); open('.git/HEAD').read(); "
        f"open({str(tmp_path / 'outside.txt')!r}).read(); "
        "open('.ntrk-ish', 'w').write('x'); import py_compile; py_compile.compile('helper.py')"
    )
    result = cli("track", "--observe", "--", "python", "-c", code)
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert rec["inputs"] == []
    assert paths(rec["outputs"]) == [".ntrk-ish"]


def test_a_file_opened_for_writing_but_unchanged_counts_as_read(repo: Path) -> None:
    """SQLite and others open read-write and may only read: the file's times decide."""
    import time

    from ntrk import observe
    from ntrk.observe.events import Events

    events = Events()
    events.add("W", str(repo / "raw.csv"))
    events.add("W", str(repo / "step.py"))
    started_later = observe.Session([], None, "test", events, started_ns=time.time_ns() + 10**10)
    found = observe.settle(repo, started_later, [], [], None)
    assert (found.reads, found.writes) == (("raw.csv",), ())  # step.py: code, left out
    started_before = observe.Session([], None, "test", events, started_ns=time.time_ns() - 10**10)
    found = observe.settle(repo, started_before, [], [], None)
    assert found.writes == ("raw.csv", "step.py")


def test_a_file_written_inside_a_declared_input_directory_is_an_output(
    repo: Path, cli, observer: str
) -> None:
    (repo / "data").mkdir()
    (repo / "data" / "a.csv").write_text("a")
    commit_all(repo, "data")
    code = "open('data/summary.csv', 'w').write(open('data/a.csv').read())"
    result = cli("track", "-i", "data", "--observe", "--", "python", "-c", code)
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert paths(rec["inputs"]) == ["data"]
    assert paths(rec["outputs"]) == ["data/summary.csv"]


def test_no_temporary_directory_skips_the_hint_and_refuses_to_observe(
    repo: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))
    code = "open('o', 'w').write(open('raw.csv').read())"
    result = cli("track", "--", "python", "-c", code, "-o", "o")
    assert result.code == 0, result.err
    assert "nt: recorded" in result.err and "warning" not in result.err
    result = cli("track", "--observe", "--", "python", "-c", code.replace("'o'", "'p'"))
    assert result.code == 1
    assert result.err == (
        f"nt: cannot observe the run: no private directory in {tmp_path / 'missing'} (No such "
        "file or directory) — set TMPDIR to a directory you can write to; nothing was run\n"
    )
    assert not (repo / "p").exists()


def test_too_many_files_are_not_recorded_one_by_one(repo: Path, cli, observer: str) -> None:
    code = "import os\nos.mkdir('many')\nfor n in range(300):\n    open(f'many/{n}', 'w')\n"
    result = cli("track", "--observe", "-o", "many", "--", "python", "-c", code)
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert paths(rec["outputs"]) == ["many"]  # declared: the files inside count as listed
    result = cli("track", "--observe", "--", "python", "-c", code.replace("many", "more"))
    assert result.code == 0
    assert "the run used 300 files in the work tree, more than ntrk records one by one" in (
        result.err
    )
    assert len(read_log(repo)) == 1


# --- the audit hook in Python processes ---------------------------------------------------------


def test_an_existing_sitecustomize_still_runs(repo: Path, cli, tmp_path, monkeypatch) -> None:
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "sitecustomize.py").write_text("MARK = 'theirs'\n")
    monkeypatch.setenv("PYTHONPATH", str(custom))
    code = (
        "import sitecustomize, sys, os, json; json.dump([sitecustomize.MARK, "
        "[p for p in sys.path if 'pyhook' in p], os.environ['PYTHONPATH']], open('seen', 'w'))"
    )
    result = cli("track", "--", "python", "-c", code, "-o", "seen")
    assert result.code == 0, result.err
    mark, hook_on_path, pythonpath = json.loads((repo / "seen").read_text())
    assert mark == "theirs"
    assert hook_on_path == []
    assert pythonpath.endswith(os.pathsep + str(custom))
    assert "Error in sitecustomize" not in result.err


def test_the_hook_never_breaks_the_program(repo: Path, tmp_path: Path) -> None:
    """A report that cannot be written is lost quietly; the program runs as without ntrk."""
    from ntrk.observe import python

    env = python.environment(os.environ, tmp_path / "no" / "such" / "report", repo)
    code = "open('o', 'w').write('fine'); print('ok')"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")


def test_the_hook_reports_reads_writes_moves_and_removals(repo: Path, tmp_path: Path) -> None:
    from ntrk.observe import python
    from ntrk.observe.events import Events

    report = tmp_path / "report"
    report.touch()
    env = python.environment(os.environ, report, repo)
    code = (
        "import os, subprocess\n"
        "open('raw.csv').read()\n"
        "fd = os.open('w.txt', os.O_WRONLY | os.O_CREAT); os.close(fd)\n"
        "os.rename('w.txt', 'v.txt')\n"
        "os.remove('v.txt')\n"
        "open('a.txt', 'a').close()\n"
        "subprocess.run(['true'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    events = Events()
    python.read_report(report, events)
    root = str(repo)
    assert events.paths == {
        f"{root}/raw.csv": {"R"},
        f"{root}/w.txt": {"W", "M"},
        f"{root}/v.txt": {"W", "D"},
        f"{root}/a.txt": {"W"},
    }
    assert events.unfollowed == {"true"}


def test_garbage_in_a_report_is_skipped(tmp_path: Path) -> None:
    from ntrk.observe import python
    from ntrk.observe.events import Events

    report = tmp_path / "report"
    report.write_bytes(b"R/ok\0Qbad\0R\0Rrelative\0" + b"R/" + b"x" * 70_000 + b"\0W/fine\0")
    events = Events()
    python.read_report(report, events)
    assert events.paths == {"/ok": {"R"}, "/fine": {"W"}}


# --- strace's trace ------------------------------------------------------------------------------


def hexed(text: str) -> str:
    return "".join(f"\\x{byte:02x}" for byte in text.encode())


def parse(lines: list[str], start: str = "/start") -> dict[str, set[str]]:
    from ntrk.observe.events import Events

    events = Events()
    parser = strace.Parser(start, events)
    for line in lines:
        parser.feed(line.encode())
    return events.paths


def test_trace_lines_become_events() -> None:
    cwd = f"AT_FDCWD<{hexed('/work')}>"
    assert parse(
        [
            f'7 openat({cwd}, "{hexed("in.csv")}", O_RDONLY) = 3<{hexed("/real/in.csv")}>',
            f'7 openat({cwd}, "{hexed("out.csv")}", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 4',
            f'7 openat({cwd}, "{hexed("dir")}", O_RDONLY|O_DIRECTORY) = 5',
            f'7 openat(5<{hexed("/work/dir")}>, "{hexed("x")}", O_RDONLY) = 6',
            f'7 rename("{hexed("tmp")}", "{hexed("final")}") = 0',
            f'7 renameat2({cwd}, "{hexed("a")}", {cwd}, "{hexed("b")}", RENAME_EXCHANGE) = 0',
            f'7 unlinkat({cwd}, "{hexed("gone")}", 0) = 0',
            f'7 unlinkat({cwd}, "{hexed("subdir")}", AT_REMOVEDIR) = 0',
            f'7 openat2({cwd}, "{hexed("o2")}", {{flags=O_RDWR|O_CREAT, mode=0600}}, 24) = 3',
            f'7 creat("{hexed("/abs/c")}", 0644) = 3',
            f'7 linkat({cwd}, "{hexed("l1")}", {cwd}, "{hexed("l2")}", 0) = 0',
            "7 +++ exited with 0 +++",
            "garbage",
        ]
    ) == {
        "/real/in.csv": {"R"},
        "/work/out.csv": {"W"},
        "/work/dir/x": {"R"},
        "/work/tmp": {"M"},
        "/work/final": {"W"},
        "/work/a": {"W"},
        "/work/b": {"W"},
        "/work/gone": {"D"},
        "/work/o2": {"W"},
        "/abs/c": {"W"},
        "/work/l2": {"W"},
    }


def test_trace_follows_directories_and_processes() -> None:
    assert parse(
        [
            f'7 chdir("{hexed("sub")}") = 0',
            f'7 unlink("{hexed("a")}") = 0',
            "7 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD) = 8",
            f'8 unlink("{hexed("b")}") = 0',
            f"7 fchdir(3<{hexed('/elsewhere')}>) = 0",
            f'7 unlink("{hexed("c")}") = 0',
            f'9 unlink("{hexed("d")}") = 0',
        ]
    ) == {
        "/start/sub/a": {"D"},
        "/start/sub/b": {"D"},
        "/elsewhere/c": {"D"},
        "/start/d": {"D"},
    }


def test_trace_joins_unfinished_calls() -> None:
    cwd = f"AT_FDCWD<{hexed('/w')}>"
    assert parse(
        [
            f'7 openat({cwd}, "{hexed("x")}", O_WRONLY|O_CREAT <unfinished ...>',
            f'8 openat({cwd}, "{hexed("y")}", O_RDONLY) = 3',
            "7 <... openat resumed>, 0644) = 4",
        ]
    ) == {"/w/x": {"W"}, "/w/y": {"R"}}


def test_names_that_would_confuse_a_parser(repo: Path, cli, observer: str) -> None:
    name = 'we"ird, name) = 3<\n>.csv'
    code = f"open({name!r}, 'w').write('x')"
    result = cli("track", "--observe", "--", "python", "-c", code)
    assert result.code == 0, result.err
    (rec,) = read_log(repo)
    assert paths(rec["outputs"]) == [name]


@needs_strace
def test_exit_status_and_signals_are_the_commands(repo: Path) -> None:
    code = "import os, signal; open('out', 'w'); os.kill(os.getpid(), signal.SIGTERM)"
    done = subprocess.run(
        [NT, "track", "--observe", "--", "python", "-c", code],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 128 + 15
    assert "killed by SIGTERM" in done.stderr
    (repo / "out").unlink()
    done = subprocess.run(
        [NT, "track", "--observe", "--", "no-such-program"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 127 and "command not found: no-such-program" in done.stderr


COUNTS_SIGNALS = """
import signal, time
got = []
signal.signal(signal.SIGINT, lambda signo, frame: got.append(signo))
signal.signal(signal.SIGTERM, lambda signo, frame: got.append(signo))
open("started", "w").close()
deadline = time.time() + 1.5
while time.time() < deadline:
    time.sleep(0.01)
open("got", "w").write(repr(got))
"""


def wait_until_started(repo: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while not (repo / "started").exists():
        assert time.monotonic() < deadline and proc.poll() is None, "the command never started"
        time.sleep(0.01)


@needs_strace
def test_a_signal_sent_to_ntrk_reaches_the_traced_command_once(repo: Path) -> None:
    argv = [NT, "track", "--observe", "--", "python", "-c", COUNTS_SIGNALS]
    proc = subprocess.Popen(argv, cwd=repo, stderr=subprocess.PIPE)
    wait_until_started(repo, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    assert (repo / "got").read_text() == repr([int(signal.SIGTERM)])
    assert read_log(repo) == []


@needs_strace
def test_ctrl_c_reaches_the_traced_command_once(repo: Path) -> None:
    """The terminal signals its foreground group; the tracer is in a group of its own."""
    proc, master = at_a_terminal(
        [NT, "track", "--observe", "--", "python", "-c", COUNTS_SIGNALS], repo
    )
    try:
        wait_until_started(repo, proc)
        os.write(master, b"\x03")
        assert proc.wait(timeout=20) == 128 + signal.SIGINT
    finally:
        os.close(master)
    assert (repo / "got").read_text() == repr([int(signal.SIGINT)])
    assert read_log(repo) == []


# --- the README's example -----------------------------------------------------------------------

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def readme_section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    return README[start : README.index("\n## ", start + 1)]


def fresh_pipeline(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q")
    getstarted.write(root)
    (root / ".gitignore").write_text("model.pkl\n")
    commit_all(root, "pipeline")
    return root


def test_readme_example_runs_as_written(tmp_path: Path) -> None:
    import re

    section = readme_section("Scripts without -i/-o flags")
    scripts = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    expected = re.findall(r"```text\n(.*?)```", section, flags=re.S)
    consoles = re.findall(r"```console\n(.*?)```", section, flags=re.S)
    env = {**os.environ, "PATH": f"{Path(NT).parent}{os.pathsep}{os.environ['PATH']}"}
    for index, (script, text) in enumerate(zip(scripts[:2], expected[:2], strict=True)):
        root = fresh_pipeline(tmp_path / f"example{index}")
        done = subprocess.run(
            ["bash", "-e", "-c", script], cwd=root, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        commit = subprocess.run(
            ["git", "rev-parse", "--short=7", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        assert done.stdout == text.replace("1a2b3c4", commit)
    root = tmp_path / "example0"
    commit_all(root, "results")
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("n_est: 5", "n_est: 50"))
    status = subprocess.run([NT, "status"], cwd=root, capture_output=True, text=True)
    assert "$ nt status\n" + status.stdout == consoles[1]
    first = fresh_pipeline(tmp_path / "unwrapped")
    done = subprocess.run(
        [NT, "track", "python", "src/prepare.py", "data/data.xml"],
        cwd=first,
        capture_output=True,
        text=True,
    )
    assert "$ nt track python src/prepare.py data/data.xml\n" + done.stderr == consoles[0]


def test_a_process_reports_a_bounded_number_of_files(
    repo: Path, tmp_path: Path, monkeypatch
) -> None:
    """Past its limit, the hook says so once and remembers nothing more."""
    from ntrk.observe import python
    from ntrk.observe.events import Events

    hook = python.HOOK_DIR / "sitecustomize.py"
    source = hook.read_text().replace("_MAX_ENTRIES = 100_000", "_MAX_ENTRIES = 3")
    small = tmp_path / "small-hook"
    small.mkdir()
    (small / "sitecustomize.py").write_text(source)
    monkeypatch.setattr(python, "HOOK_DIR", small)
    report = tmp_path / "report"
    report.touch()
    code = "for n in range(10):\n    open(f'f{n}', 'w').close()\n"
    env = python.environment(os.environ, report, repo)
    subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, check=True)
    assert report.read_bytes().count(b"\0") == 4  # three files, then "O"
    events = Events()
    python.read_report(report, events)
    assert len(events.paths) == 3 and events.dropped == 1
