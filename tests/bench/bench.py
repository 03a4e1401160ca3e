"""ntrk benchmarks: print medians and ratios against reference floors. Not part of the tests.

    python tests/bench/bench.py                 # every section, default sizes
    python tests/bench/bench.py dirty trace     # some sections (dirty, trace, notesclone,
                                                # coldindex, track, sidecars, openlineage,
                                                # observe, notes, hashing, gitlog, convergence)
    python tests/bench/bench.py --quick         # small sizes (CI keeps the script working)
    python tests/bench/bench.py --max-records 100000 coldindex   # skip the 1M-record sizes

Ratios are measured side by side in one run: a command and its floor run in turn, repeat
after repeat (`paired`), so that the load of a shared machine hits both alike. A target
column says `met`, or by how much a ratio misses.

Each section prints a table; the closing notes of the issues quote these tables.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

NT = str(Path(sys.executable).with_name("nt"))
GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


MAX_RECORDS: int | None = None  # --max-records


def capped(sizes: list[int]) -> list[int]:
    """The sizes (record counts) that --max-records allows."""
    return [size for size in sizes if MAX_RECORDS is None or size <= MAX_RECORDS]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout


def median_time(action: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(
    argv: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, cwd=cwd, env=env or GIT_ENV, capture_output=True, check=False)


def parse_lines(lines: list[bytes]) -> list[object]:
    """The floor for reading a log: stdlib json over every line, nothing else."""
    return [json.loads(line) for line in lines]


def table(title: str, rows: list[tuple[str, ...]]) -> None:
    print(f"\n## {title}\n")
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    sys.stdout.flush()


@contextmanager
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ntrk-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    (path / "step.py").write_text("import shutil, sys\nshutil.copy(sys.argv[2], sys.argv[4])\n")
    (path / ".gitignore").write_text("*.dat\n")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "init")
    return path


def chain_record(index: int, chains: int, commit: str) -> dict[str, object]:
    """Record `index` of K interleaved chains: step S of a chain reads fS.dat, writes fS+1.dat."""
    chain, step = index % chains, index // chains
    source = f"c{chain}/f{step}.dat"
    target = f"c{chain}/f{step + 1}.dat"
    return {
        "v": 1,
        "id": f"{index:032x}",
        "ts": "2026-01-01T00:00:00Z",
        "git": {"commit": commit, "branch": "main"},
        "cwd": ".",
        "script": {"path": "step.py", "blob": None, "md5": None},
        "command": ["python", "step.py", "-i", source, "-o", target],
        "inputs": [
            {"path": source, "md5": hashlib.md5(source.encode()).hexdigest(), "size": len(source)}
        ],
        "outputs": [
            {"path": target, "md5": hashlib.md5(target.encode()).hexdigest(), "size": len(target)}
        ],
    }


def deepest_file(root: Path, records: int, depth: int) -> str:
    """Create the last file of chain 0 (its bytes are its path, as the records say); name it."""
    chains = max(1, records // depth)
    last = f"c0/f{(records - 1) // chains + 1}.dat"
    (root / last).parent.mkdir(parents=True, exist_ok=True)
    (root / last).write_bytes(last.encode())
    return last


def synthetic_log(root: Path, records: int, depth: int) -> str:
    """Write K chains of depth D (K = records / depth) into the log; return the deepest file."""
    commit = git(root, "rev-parse", "HEAD").strip()
    (root / ".ntrk").mkdir(exist_ok=True)
    chains = max(1, records // depth)
    with (root / ".ntrk" / "runs.jsonl").open("w", encoding="utf-8") as log:
        for index in range(records):
            rec = chain_record(index, chains, commit)
            log.write(json.dumps(rec, sort_keys=True) + "\n")
    os.sync()  # else the first fsync of the log pays for writing all of it back
    return deepest_file(root, records, depth)


def bench_dirty(quick: bool) -> None:
    """`git status --porcelain -z` against pygit2's status on a repository of many files."""
    import pygit2

    files = 2_000 if quick else 20_000
    with scratch() as base:
        root = new_repo(base / "repo")
        for index in range(files):
            folder = root / f"d{index // 100}"
            folder.mkdir(exist_ok=True)
            (folder / f"f{index}.txt").write_text(str(index))
        git(root, "add", "-A")
        git(root, "commit", "-qm", "files")
        repo = pygit2.Repository(str(root))
        argv = ["git", "status", "--porcelain", "-z", "--untracked-files=all", "--no-renames"]
        git_status = median_time(lambda: run(argv, root), 9)
        pygit2_status = median_time(lambda: repo.status(untracked_files="all"), 9)
        table(
            f"dirty check, clean tree of {files:,} tracked files (median of 9)",
            [
                ("method", "seconds"),
                ("git status --porcelain -z -uall", f"{git_status:.4f}"),
                ("pygit2 Repository.status()", f"{pygit2_status:.4f}"),
            ],
        )


def bench_trace(quick: bool) -> None:
    """`nt trace` of a depth-100 chain: cold (index built), warm, after one new record."""
    sizes = capped([1_000, 10_000] if quick else [1_000, 100_000, 1_000_000])
    seed = seed_wheel()
    imports = median_time(partial(run, [sys.executable, "-c", "import click, pygit2"], Path.cwd()))
    rows = [
        (
            "records",
            "cold (s)",
            "warm (s)",
            "+1 record (s)",
            "cold RSS (MB)",
            "warm RSS (MB)",
            "0.1.0 (s)",
            "json.loads all (s)",
            "warm / import floor",
            "cold / json",
        )
    ]
    for records in sizes:
        with scratch() as base:
            root = new_repo(base / "repo")
            target = synthetic_log(root, records, depth=100)
            argv = [NT, "trace", target]
            cold = median_time(partial(cold_trace, root, argv), 1 if records >= 1_000_000 else 3)
            warm = median_time(partial(run, argv, root))
            result = run(argv, root)
            assert result.returncode == 0 and len(result.stdout.splitlines()) == 100, result
            rss = peak_rss_mb(argv, root)
            cold_trace(root, ["true"])  # drop the index, then measure a build's peak memory
            cold_rss = peak_rss_mb(argv, root)
            append_one(root)
            plus_one = median_time(partial(run, argv, root), 1)
            old = "n/a"
            if seed is not None and records <= 100_000:
                old_argv = [sys.executable, "-c", "from ntrk.cli import main; main()", *argv[1:]]
                env = {**GIT_ENV, "PYTHONPATH": str(seed)}
                old = f"{median_time(partial(run, old_argv, root, env), 1):.3f}"
            lines = (root / ".ntrk" / "runs.jsonl").read_bytes().splitlines()
            parse = median_time(partial(parse_lines, lines), 1)
            del lines
            rows.append(
                (
                    f"{records:,}",
                    f"{cold:.3f}",
                    f"{warm:.3f}",
                    f"{plus_one:.3f}",
                    f"{cold_rss:.0f}",
                    f"{rss:.0f}",
                    old,
                    f"{parse:.3f}",
                    f"{warm / imports:.2f}x",
                    f"{cold / parse:.2f}x",
                )
            )
    table(f"trace, depth 100 (import click, pygit2: {imports:.3f} s)", rows)


def drop_index(root: Path) -> None:
    """Delete the lineage index (it lives in the git directory, `.git/ntrk/`)."""
    for path in (root / ".git" / "ntrk").glob("index.sqlite*"):
        path.unlink()


def cold_trace(root: Path, argv: list[str]) -> None:
    drop_index(root)
    run(argv, root)


def append_one(root: Path) -> None:
    """One more record at the end of the log, as `nt track` would add it."""
    log = root / ".ntrk" / "runs.jsonl"
    last = json.loads(log.read_bytes().splitlines()[-1])
    last["id"] = "f" * 32
    with log.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(last, sort_keys=True) + "\n")


def peak_rss_mb(argv: list[str], cwd: Path) -> float:
    """Peak resident memory of one run of a command, as GNU time reports it.

    (wait4's ru_maxrss is no good here: a forked child starts with its parent's high-water
    mark, and this process holds whole logs in memory.)
    """
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *argv], cwd=cwd, env=GIT_ENV, capture_output=True, text=True
    )
    return int(done.stderr.strip().splitlines()[-1]) / 1024


def verdict(ratio: float, target: float) -> str:
    """`≤ 2x met`, or by how much a ratio misses its target."""
    if ratio <= target:
        return f"≤ {target:g}x met"
    if ratio < 2 * target:
        return f"≤ {target:g}x MISSED by {ratio / target - 1:.0%}"
    return f"≤ {target:g}x MISSED, {ratio / target:.1f}x over"


def timed_rss(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB, GNU time's) of one successful run."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *argv], cwd=cwd, env=GIT_ENV, capture_output=True, text=True
    )
    spent = time.perf_counter() - start
    assert done.returncode == 0, (argv, done.stderr)
    return spent, int(done.stderr.strip().splitlines()[-1]) / 1024


def chain_notes(root: Path, records: int, depth: int, per_note: int) -> list[bytes]:
    """Chains as `synthetic_log` writes them, but only in the notes: `per_note` records on
    each annotated object (ids that need not exist), then packed as `git gc` would.
    Returns every record's JSON text, as the notes hold it."""
    import pygit2

    from ntrk import record
    from ntrk.store import notes

    chains = max(1, records // depth)
    parsed = [
        record.parse(chain_record(i, chains, hashlib.sha1(b"c%d" % (i // per_note)).hexdigest()))
        for i in range(records)
    ]
    repo = pygit2.Repository(str(root))
    batch = max(per_note, 20_000 // per_note * per_note)  # a note's records in one batch
    for start in range(0, records, batch):
        notes.add(repo, parsed[start : start + batch])
    git(root, "gc", "-q")
    os.sync()
    return [rec.line.encode() for rec in parsed]


def child_times(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, its children included) of one successful run."""
    return wall_and_cpu(argv, cwd, GIT_ENV)


def call_times(action: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of a call in this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def cold_times(root: Path, argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of a run that must build the index from scratch."""
    drop_index(root)
    return child_times(argv, root)


def paired_times(
    actions: list[Callable[[], tuple[float, float]]], repeat: int
) -> list[tuple[float, float]]:
    """(median wall, median CPU) seconds of each action, run in turn, repeat after repeat.

    On a shared machine the wall ratio moves with the load; the CPU ratio is the steadier one.
    """
    walls: list[list[float]] = [[] for _ in actions]
    cpus: list[list[float]] = [[] for _ in actions]
    for _ in range(repeat):
        for action, wall, cpu in zip(actions, walls, cpus, strict=True):
            spent, used = action()
            wall.append(spent)
            cpu.append(used)
    return [
        (statistics.median(wall), statistics.median(cpu))
        for wall, cpu in zip(walls, cpus, strict=True)
    ]


def bench_notesclone(quick: bool) -> None:
    """A clone whose lineage is only in notes: `nt sync`, the first `nt trace`, a warm one."""
    sizes = capped([2_000] if quick else [20_000, 100_000])
    repeat = 5 if quick else 9
    first_rows = [
        (
            "records",
            "notes",
            "nt sync (s)",
            "json.loads (s)",
            "first trace (s)",
            "first / json",
            "target",
            "CPU: json (s)",
            "CPU: trace (s)",
            "CPU ratio",
            "peak RSS (MB)",
        )
    ]
    warm_rows = [
        (
            "records",
            "notes",
            "import (s)",
            "warm trace (s)",
            "warm / import",
            "target",
            "CPU: import (s)",
            "CPU: trace (s)",
            "CPU ratio",
            "peak RSS (MB)",
        )
    ]
    imports = [sys.executable, "-c", "import click, pygit2"]
    for records in sizes:
        for notes_count in (records, 100):
            with scratch() as base:
                origin = new_repo(base / "origin")
                lines = chain_notes(origin, records, 100, records // notes_count)
                remote = base / "remote.git"
                git(base, "init", "-q", "--bare", "--initial-branch=main", str(remote))
                git(origin, "push", "-q", str(remote), "HEAD:refs/heads/main", "refs/notes/*")
                git(base, "clone", "-q", str(remote), "clone")
                clone = base / "clone"
                assert not (clone / ".ntrk").exists()
                synced, _ = child_times([NT, "sync"], clone)
                target = deepest_file(clone, records, 100)
                argv = [NT, "trace", target]
                # The first trace right after the sync builds the index; then twice more so.
                (first, first_cpu), (parse, parse_cpu) = paired_times(
                    [
                        partial(cold_times, clone, argv),
                        partial(call_times, partial(parse_lines, lines)),
                    ],
                    3,
                )
                drop_index(clone)
                _, first_rss = timed_rss(argv, clone)
                result = run(argv, clone)
                assert result.returncode == 0 and len(result.stdout.splitlines()) == 100, result
                (warm, warm_cpu), (floor, floor_cpu) = paired_times(
                    [partial(child_times, argv, clone), partial(child_times, imports, clone)],
                    repeat,
                )
                _, warm_rss = timed_rss(argv, clone)
                first_rows.append(
                    (
                        f"{records:,}",
                        f"{notes_count:,}",
                        f"{synced:.2f}",
                        f"{parse:.3f}",
                        f"{first:.3f}",
                        f"{first / parse:.2f}x",
                        verdict(first / parse, 1),
                        f"{parse_cpu:.3f}",
                        f"{first_cpu:.3f}",
                        f"{first_cpu / parse_cpu:.2f}x",
                        f"{first_rss:.0f}",
                    )
                )
                warm_rows.append(
                    (
                        f"{records:,}",
                        f"{notes_count:,}",
                        f"{floor:.3f}",
                        f"{warm:.3f}",
                        f"{warm / floor:.2f}x",
                        verdict(warm / floor, 2),
                        f"{floor_cpu:.3f}",
                        f"{warm_cpu:.3f}",
                        f"{warm_cpu / floor_cpu:.2f}x",
                        f"{warm_rss:.0f}",
                    )
                )
    table(
        "notes-only clone, depth 100: the first nt trace after nt sync against json.loads of "
        "the records' lines (medians of 3 index builds from scratch, the first right after the "
        "sync, each in turn with the floor)",
        first_rows,
    )
    table(
        "notes-only clone, depth 100: warm nt trace against python -c 'import click, pygit2' "
        f"(medians of {repeat}, in turn)",
        warm_rows,
    )


def run_ok(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    done = run(argv, cwd)
    assert done.returncode == 0, (argv, done.stderr)
    return done


def bench_coldindex(quick: bool) -> None:
    """Building the index from the log, against stdlib json over every line; its memory."""
    sizes = capped([10_000] if quick else [100_000, 1_000_000])
    rows = [
        (
            "records",
            "log (MB)",
            "json.loads all (s)",
            "cold nt trace (s)",
            "warm (s)",
            "cold / json",
            "target",
            "CPU: json (s)",
            "CPU: cold (s)",
            "CPU ratio",
            "peak RSS (MB)",
            "target",
            "RSS, cold nt log -n 1 (MB)",
        )
    ]
    for records in sizes:
        with scratch() as base:
            root = new_repo(base / "repo")
            target = synthetic_log(root, records, depth=100)
            log = root / ".ntrk" / "runs.jsonl"
            lines = log.read_bytes().splitlines()
            # The walk of a depth-100 chain is a few milliseconds: a cold trace is the build.
            argv = [NT, "trace", target]
            (cold, cold_cpu), (parse, parse_cpu) = paired_times(
                [partial(cold_times, root, argv), partial(call_times, partial(parse_lines, lines))],
                1 if records >= 1_000_000 else 3,
            )
            del lines
            run_ok(argv, root)
            warm = median_time(partial(run, argv, root), 5)
            drop_index(root)
            _, rss = timed_rss(argv, root)
            drop_index(root)
            _, log_rss = timed_rss([NT, "log", "-n", "1"], root)
            rows.append(
                (
                    f"{records:,}",
                    f"{log.stat().st_size / 1e6:.0f}",
                    f"{parse:.3f}",
                    f"{cold:.3f}",
                    f"{warm:.3f}",
                    f"{cold / parse:.2f}x",
                    verdict(cold / parse, 0.5),
                    f"{parse_cpu:.3f}",
                    f"{cold_cpu:.3f}",
                    f"{cold_cpu / parse_cpu:.2f}x",
                    f"{rss:.0f}",
                    "≤ 100 met" if rss <= 100 else f"≤ 100 MISSED by {rss / 100 - 1:.0%}",
                    f"{log_rss:.0f}",
                )
            )
    table(
        "cold index build from the log, depth 100 (nt trace of the deepest file with the index "
        "deleted, each build in turn with the floor; warm: the same trace, index built)",
        rows,
    )


def bench_track(quick: bool) -> None:
    """What `nt track` adds to a trivial command, with an empty and a long history."""
    histories = capped([0, 10_000] if quick else [0, 1_000_000])
    repeat = 5 if quick else 11
    imports = [sys.executable, "-c", "import click, pygit2"]
    rows = [
        (
            "log records",
            "notes",
            "bare (s)",
            "nt track (s)",
            "overhead (s)",
            "import floor (s)",
            "overhead / import floor",
            "target",
            "CPU: overhead (s)",
            "CPU: import (s)",
            "CPU ratio",
            "overhead / at 0 records",
        )
    ]
    first_overhead: tuple[float, float] | None = None
    for records in histories:
        with scratch() as base:
            root = new_repo(base / "repo")
            if records:
                synthetic_log(root, records, depth=100)
                run([NT, "trace", "step.py"], root)  # build the index once, as any use would
                notes_count = min(records, 10_000 if quick else 100_000)
                add_fake_notes(root, notes_count)
            else:
                notes_count = 0
            (root / "in.dat").write_text("x")
            bare = [sys.executable, "step.py", "-i", "in.dat", "-o", "out.dat"]
            run_ok([NT, "track", *bare], root)  # the first run in a repository sets its config
            timed = paired_times(
                [
                    partial(child_times, bare, root),
                    partial(child_times, [NT, "track", *bare], root),
                    partial(child_times, imports, root),
                ],
                repeat,
            )
            (plain, plain_cpu), (tracked, tracked_cpu), (floor, floor_cpu) = timed
            overhead, overhead_cpu = tracked - plain, tracked_cpu - plain_cpu
            first_overhead = first_overhead or (overhead, overhead_cpu)
            at_zero, at_zero_cpu = first_overhead
            rows.append(
                (
                    f"{records:,}",
                    f"{notes_count:,}",
                    f"{plain:.4f}",
                    f"{tracked:.4f}",
                    f"{overhead:.4f}",
                    f"{floor:.4f}",
                    f"{overhead / floor:.2f}x",
                    verdict(overhead / floor, 1.3),
                    f"{overhead_cpu:.4f}",
                    f"{floor_cpu:.4f}",
                    f"{overhead_cpu / floor_cpu:.2f}x",
                    f"{overhead / at_zero:.2f}x (CPU {overhead_cpu / at_zero_cpu:.2f}x)",
                )
            )
    table(
        f"track overhead, notes included (medians of {repeat}, each run in turn with the bare "
        "command and the import floor `python -c 'import click, pygit2'`)",
        rows,
    )


WRITE_MANY = """
import pathlib, sys
out = pathlib.Path(sys.argv[2])
out.mkdir()
for n in range(int(sys.argv[1])):
    (out / f"f{n}.dat").write_text(str(n))
"""


def bench_sidecars(quick: bool) -> None:
    """Sidecar bytes of one `nt track` run with N outputs: O(N), at most 2 KB per output
    beyond the run's own fields."""
    sizes = [10, 100, 1_000] if quick else [10, 100, 1_000, 10_000]
    rows = [
        (
            "outputs",
            "nt track (s)",
            "record (B)",
            "run's own fields (B)",
            "sidecars (B)",
            "per output (B)",
            "per output - own fields (B)",
            "target",
        )
    ]
    for count in sizes:
        with scratch() as base:
            root = new_repo(base / "repo")
            (root / "write_many.py").write_text(WRITE_MANY)
            git(root, "add", "write_many.py")
            git(root, "commit", "-qm", "writer")
            argv = [NT, "track", "-o", "out/*.dat", "--", sys.executable, "write_many.py"]
            spent = median_time(partial(run_ok, [*argv, str(count), "out"], root), 1)
            sidecars = [path for path in (root / "out").iterdir() if path.name.endswith(".ntrk")]
            assert len(sidecars) == count, (len(sidecars), count)
            total = sum(path.stat().st_size for path in sidecars)
            line = (root / ".ntrk" / "runs.jsonl").read_bytes().splitlines()[-1]
            data = json.loads(line)
            assert len(data["outputs"]) == count
            data["outputs"] = []
            own = len(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
            beyond = total / count - own
            rows.append(
                (
                    f"{count:,}",
                    f"{spent:.2f}",
                    f"{len(line):,}",
                    f"{own:,}",
                    f"{total:,}",
                    f"{total / count:,.0f}",
                    f"{beyond:,.0f}",
                    "≤ 2,048 met" if beyond <= 2048 else f"≤ 2,048 MISSED by {beyond - 2048:,.0f}",
                )
            )
    table(
        "sidecars of one run with N outputs (nt track -o 'out/*.dat'; own fields: the record "
        "without its outputs, compact JSON)",
        rows,
    )


# Runs `nt` with only the packages of one install on its path: `-S`, then that directory
# as the one site directory (its .pth files processed, as at any start).
NT_IN_SITE = (
    "import site, sys; site.addsitedir(sys.argv.pop(1)); "
    "from ntrk.cli import main; sys.argv[0] = 'nt'; sys.exit(main())"
)


def wall_and_cpu(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, its waited-for children included) of a run."""
    start = time.perf_counter()
    child = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, argv
    return wall, usage.ru_utime + usage.ru_stime


def install_view(base: Path, requirement: str) -> Path:
    """A site directory holding, as links, just what `pip install REQUIREMENT` would have."""
    import importlib.metadata as metadata
    import sysconfig

    from packaging.requirements import Requirement

    site_packages = Path(sysconfig.get_paths()["purelib"])
    pending, done = [Requirement(requirement)], set()
    view = base / requirement.replace("[", "-").replace("]", "")
    view.mkdir()
    while pending:
        wanted = pending.pop()
        name = wanted.name.lower().replace("_", "-")
        if name in done:
            continue
        done.add(name)
        dist = metadata.distribution(wanted.name)
        for entry in {file.parts[0] for file in dist.files or () if file.parts[0] != ".."}:
            if (site_packages / entry).exists() and not (view / entry).exists():
                (view / entry).symlink_to(site_packages / entry)
        for line in dist.requires or ():
            needed = Requirement(line)
            extras = wanted.extras or {""}
            if needed.marker is None or any(
                needed.marker.evaluate({"extra": extra}) for extra in extras
            ):
                pending.append(needed)
    return view


def bench_openlineage(quick: bool) -> None:
    """`nt track` with and without the openlineage extra installed (not configured), and on."""
    import importlib.util

    if importlib.util.find_spec("openlineage.client") is None:
        print("\n## openlineage: skipped (pip install -e '.[openlineage]' to measure it)")
        return
    repeat = 9 if quick else 31
    # Compiled modules, as an installed package has them (a sandbox may turn caching off).
    env = {key: value for key, value in GIT_ENV.items() if key != "PYTHONDONTWRITEBYTECODE"}
    with scratch() as base:
        root = new_repo(base / "repo")
        (root / "in.dat").write_text("x")
        bare = [sys.executable, "step.py", "-i", "in.dat", "-o", "out.dat"]
        views = {name: install_view(base, name) for name in ("ntrk", "ntrk[openlineage]")}
        events = base / "events.ndjson"
        configured = {
            **env,
            "OPENLINEAGE__TRANSPORT__TYPE": "file",
            "OPENLINEAGE__TRANSPORT__LOG_FILE_PATH": str(events),
            "OPENLINEAGE__TRANSPORT__APPEND": "true",
        }
        cases = [
            ("ntrk", "not configured", env),
            ("ntrk[openlineage]", "not configured", env),
            ("ntrk[openlineage]", "file transport", configured),
        ]
        probe = "import importlib.util as u; print(u.find_spec('openlineage') is None)"
        for install, absent in (("ntrk", "True"), ("ntrk[openlineage]", "False")):
            check = [
                sys.executable,
                "-S",
                "-c",
                f"import site; site.addsitedir({str(views[install])!r}); {probe}",
            ]
            assert run(check, root, env).stdout.decode().strip() == absent, install
        commands = {"bare": (bare, env)}
        for install, state, case_env in cases:
            argv = [sys.executable, "-S", "-c", NT_IN_SITE, str(views[install]), "track", *bare]
            commands[f"{install} {state}"] = (argv, case_env)
        for argv, case_env in commands.values():
            run(argv, root, case_env)  # warm the caches, write bytecode
        # Interleaved, so that a busy moment of a shared machine hits every case alike; CPU
        # time (user + system, the command's included) is the steadier number there.
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeat):
            for name, (argv, case_env) in commands.items():
                wall, cpu = wall_and_cpu(argv, root, case_env)
                walls[name].append(wall)
                cpus[name].append(cpu)
        assert events.exists(), "the configured runs sent no events"
        plain, plain_cpu = statistics.median(walls["bare"]), statistics.median(cpus["bare"])
        rows = [("installed", "OpenLineage", "nt track (s)", "overhead (s)", "overhead CPU (s)")]
        for install, state, _ in cases:
            wall = statistics.median(walls[f"{install} {state}"]) - plain
            cpu = statistics.median(cpus[f"{install} {state}"]) - plain_cpu
            rows.append((install, state, f"{wall + plain:.4f}", f"{wall:.4f}", f"{cpu:.4f}"))
    table(f"track with OpenLineage (median of {repeat}; bare command: {plain:.4f} s)", rows)


def without_strace(base: Path) -> dict[str, str]:
    """GIT_ENV with a PATH that holds the programs a benchmark runs, but not strace."""
    tools = base / "bin-without-strace"
    tools.mkdir()
    for name in ("git", "sh", "true"):
        found = shutil.which(name)
        if found:
            (tools / name).symlink_to(found)
    (tools / "python").symlink_to(os.path.realpath(sys.executable))
    return {**GIT_ENV, "PATH": str(tools)}


OPEN_MANY = """
import sys
for n in range(int(sys.argv[1])):
    with open(f"files/{n}") as f:
        f.read()
"""


def paired(actions: list[Callable[[], object]], repeat: int) -> list[tuple[float, float]]:
    """(median, minimum) seconds of each action, run in turn so that load drifts hit all alike."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(repeat):
        for action, spent in zip(actions, times, strict=True):
            start = time.perf_counter()
            action()
            spent.append(time.perf_counter() - start)
    return [(statistics.median(spent), min(spent)) for spent in times]


def bench_observe(quick: bool) -> None:
    """What watching a run costs: nt track's default hint, --observe, the hook per open."""
    import compileall

    from ntrk.observe import python, strace

    # The hook's bytecode, as pip writes it at install (PYTHONDONTWRITEBYTECODE would otherwise
    # make every Python process of the benchmark compile it again).
    compileall.compile_dir(python.HOOK_DIR, quiet=1)
    repeat = 7 if quick else 31
    opens = 10_000
    tracer = strace.find()
    usable = tracer is not None and strace.problem(tracer) is None
    with scratch() as base:
        root = new_repo(base / "repo")
        (root / "in.dat").write_text("x")
        (root / "files").mkdir()
        for n in range(opens):  # each open a file of its own, as a step reading a dataset does
            (root / "files" / str(n)).write_text(str(n))
        (root / "open_many.py").write_text(OPEN_MANY)
        # Both repositories below read an ntrk.toml, so the comparison is of the hint alone.
        (root / "ntrk.toml").write_text("[track]\nwarn_unlisted = true\n")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "data")
        report = base / "report"
        report.touch()
        hook_env = python.environment(GIT_ENV, report, root)

        # The Python process itself: startup with the hook, and each file it opens.
        startup = [sys.executable, "-c", "pass"]
        many = [sys.executable, "open_many.py", str(opens)]
        cases = [
            partial(run, startup, root),
            partial(run, startup, root, hook_env),
            partial(run, many, root),
            partial(run, many, root, hook_env),
        ]
        labels = ["no observer", "audit hook"]
        if usable and tracer is not None:
            traced = [tracer, *strace.OPTIONS, "-o", str(base / "trace"), "--"]
            cases += [partial(run, [*traced, *startup], root), partial(run, [*traced, *many], root)]
            labels.append("strace")
        timed = paired(cases, repeat)
        starts = [timed[0], timed[1], *timed[4:5]]
        bulk = [timed[2], timed[3], *timed[5:6]]
        rows = [
            ("observer", "python -c pass (s)", "+ (ms)", f"{opens:,} opens (s)", "per open (µs)")
        ]
        for label, (start_med, _), (bulk_med, _) in zip(labels, starts, bulk, strict=True):
            rows.append(
                (
                    label,
                    f"{start_med:.4f}",
                    f"{(start_med - starts[0][0]) * 1000:.2f}",
                    f"{bulk_med:.4f}",
                    f"{(bulk_med - bulk[0][0]) / opens * 1e6:.2f}",
                )
            )
        table(f"observing a Python process (medians of {repeat}, run in turn)", rows)

        # nt track of a trivial step, and the same in a copy of the repository whose ntrk.toml
        # turns the hint off.
        quiet = base / "quiet"
        shutil.copytree(root, quiet)
        (quiet / "ntrk.toml").write_text("[track]\nwarn_unlisted = false\n")
        git(quiet, "add", "-A")
        git(quiet, "commit", "-qm", "no hint")
        bare = [sys.executable, "step.py", "-i", "in.dat", "-o", "out.dat"]
        cases = [
            partial(run, bare, root),
            partial(run, [NT, "track", *bare], quiet),
            partial(run, [NT, "track", *bare], root),
            partial(run, [NT, "track", "--observe", "--", *bare], root, without_strace(base)),
        ]
        labels = [
            "bare command",
            "nt track, no hook (warn_unlisted = false)",
            "nt track (default: the hook, for the warning)",
            "nt track --observe, audit hook",
        ]
        if usable:
            cases.append(partial(run, [NT, "track", "--observe", "--", *bare], root))
            labels.append("nt track --observe, strace")
        timed = paired(cases, repeat)
        plain = timed[0][0]
        rows = [("nt track of a trivial Python step", "median (s)", "min (s)", "overhead (s)")]
        for label, (median, fastest) in zip(labels, timed, strict=True):
            over = "-" if median is plain else f"{median - plain:.4f}"
            rows.append((label, f"{median:.4f}", f"{fastest:.4f}", over))
        hint = timed[2][0] - timed[1][0]
        rows.append(
            (
                "the hint's cost (default - no hook)",
                f"{hint:.4f}",
                "",
                f"{hint / (timed[1][0] - plain):.1%} of the overhead",
            )
        )
        imports = median_time(
            partial(run, [sys.executable, "-c", "import click, pygit2"], Path.cwd()), repeat
        )
        table(
            f"observation in nt track (medians of {repeat}, run in turn; import click, pygit2: "
            f"{imports:.4f} s)",
            rows,
        )


def add_fake_notes(root: Path, count: int) -> None:
    import pygit2

    from ntrk.store import notes

    repo = pygit2.Repository(str(root))
    batch = [
        fake_record(10_000_000 + i, hashlib.sha1(b"n%d" % i).hexdigest()) for i in range(count)
    ]
    for start in range(0, len(batch), 20_000):
        notes.add(repo, batch[start : start + 20_000])  # type: ignore[arg-type]
    git(root, "gc", "-q")
    os.sync()


def bench_hashing(quick: bool) -> None:
    """md5 throughput against md5sum, and what the stat cache saves."""
    from ntrk import hashing
    from ntrk.store.statcache import StatCache

    size = (256 if quick else 4096) * 1024**2
    with scratch() as base:
        path = base / "big.bin"
        with path.open("wb") as stream:
            block = os.urandom(1024 * 1024)
            for _ in range(size // len(block)):
                stream.write(block)
        os.utime(path, (1_600_000_000, 1_600_000_000))
        run(["cat", str(path)], base)  # into the page cache
        md5sum = median_time(partial(run, ["md5sum", str(path)], base), 3)
        ours = median_time(partial(hashing.md5_file, path), 3)
        (base / ".ntrk").mkdir()
        cache = StatCache(base / ".ntrk")
        hashing.md5_file(path, cache)
        cached = median_time(partial(hashing.md5_file, path, cache), 5)
        gib = size / 1024**3
        table(
            f"hashing a {gib:g} GiB file (page cache warm, median of 3)",
            [
                ("what", "seconds", "GiB/s"),
                ("md5sum", f"{md5sum:.2f}", f"{gib / md5sum:.2f}"),
                ("ntrk md5_file", f"{ours:.2f}", f"{gib / ours:.2f}"),
                ("ntrk, stat cache hit", f"{cached:.5f}", "-"),
                ("ntrk / md5sum throughput", f"{md5sum / ours:.2f}", ""),
            ],
        )


def filler_commits(root: Path, count: int) -> list[str]:
    """`count` real commits on `refs/heads/filler` (git notes annotate existing objects only)."""
    marks = root.parent / "filler.marks"
    stream = b"".join(
        b"commit refs/heads/filler\nmark :%d\ncommitter bench <bench@example.com> %d +0000\n"
        b"data %d\n%s\n" % (n + 1, 1_600_000_000 + n, len(b"filler %d" % n), b"filler %d" % n)
        for n in range(count)
    )
    subprocess.run(
        ["git", "fast-import", "--quiet", f"--export-marks={marks}"],
        cwd=root,
        env=GIT_ENV,
        input=stream,
        check=True,
        capture_output=True,
    )
    ids = dict(line.split() for line in marks.read_text().splitlines())
    return [ids[f":{n + 1}"] for n in range(count)]


def notes_by_git(root: Path, source_ref: str, ref: str) -> None:
    """The notes of `source_ref` (same objects, same blobs) written under `ref` by git's own
    fast-import, in one commit: git's fan-out, as `git notes` tooling writes bulk notes."""
    import pygit2

    from ntrk.store import notes

    repo = pygit2.Repository(str(root))
    commit = notes.notes_commit(repo, source_ref)
    assert commit is not None
    message = b"notes written by git fast-import"
    stream = [
        b"commit %s\ncommitter bench <bench@example.com> 1600000000 +0000\ndata %d\n%s\n"
        % (ref.encode(), len(message), message)
    ]
    stream += [
        b"N %s %s\n" % (str(blob).encode(), annotated.encode())
        for annotated, blob in notes.iter_notes(repo, commit.tree)
    ]
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=root,
        env=GIT_ENV,
        input=b"".join(stream),
        check=True,
        capture_output=True,
    )


def fanout_shape(root: Path, ref: str) -> str:
    """How a notes tree is laid out: notes per path depth, trees, the largest tree."""
    import pygit2

    repo = pygit2.Repository(str(root))
    tree = repo.references[ref].peel(pygit2.Commit).tree
    depths: dict[int, int] = {}
    trees, widest = 0, 0
    pending = [(tree, 1)]
    while pending:
        current, depth = pending.pop()
        trees += 1
        widest = max(widest, len(current))
        for entry in current:
            if entry.type_str == "tree":
                pending.append((repo[entry.id].peel(pygit2.Tree), depth + 1))
            else:
                depths[depth] = depths.get(depth, 0) + 1
    shape = ", ".join(f"{count:,} at depth {depth}" for depth, count in sorted(depths.items()))
    return f"{shape}; {trees:,} trees, the largest of {widest:,} entries"


def bench_git_log(quick: bool) -> None:
    """`git log --notes=ntrk -n 100` against the same command on the same notes as git writes
    them (fast-import), with many notes."""
    import pygit2

    from ntrk.store import notes

    count = 10_000 if quick else 100_000
    repeat = 21 if quick else 51  # milliseconds each: many repeats steady the medians
    with scratch() as base:
        root = new_repo(base / "repo")
        for index in range(100):
            (root / "f").write_text(str(index))
            git(root, "add", "f")
            git(root, "commit", "-qm", f"c{index}")
        repo = pygit2.Repository(str(root))
        shown = [str(c.id) for c in repo.walk(repo.head.target)][:100]
        annotated = filler_commits(root, count) + shown
        batch = [fake_record(10_000_000 + i, commit) for i, commit in enumerate(annotated)]
        for start in range(0, len(batch), 20_000):
            notes.add(repo, batch[start : start + 20_000])  # type: ignore[arg-type]
        notes_by_git(root, "refs/notes/ntrk", "refs/notes/bygit")
        git(root, "gc", "-q")
        os.sync()
        ours = ["git", "log", "--notes=ntrk", "-n", "100"]
        theirs = ["git", "log", "--notes=bygit", "-n", "100"]
        ours_text = run_ok(ours, root).stdout.replace(b"Notes (ntrk):", b"Notes (bygit):")
        assert ours_text == run_ok(theirs, root).stdout, "the two notes refs differ"
        assert ours_text.count(b"Notes (bygit):") == 100
        timed = paired_times(
            [
                partial(child_times, ["git", "log", "-n", "100"], root),
                partial(child_times, theirs, root),
                partial(child_times, ours, root),
            ],
            repeat,
        )
        (plain, plain_cpu), (floor, floor_cpu), (with_notes, notes_cpu) = timed
        trees = {git(root, "rev-parse", f"{ref}^{{tree}}") for ref in ("notes/bygit", "notes/ntrk")}
        same_tree = len(trees) == 1
        table(
            f"git log with {count + 100:,} notes on real commits (medians of {repeat}, in turn)",
            [
                ("command", "seconds", "CPU (s)", "ratio", "CPU ratio", "notes tree shape"),
                ("git log -n 100", f"{plain:.4f}", f"{plain_cpu:.4f}", "", "", ""),
                (
                    "git log --notes=bygit -n 100 (fast-import's notes)",
                    f"{floor:.4f}",
                    f"{floor_cpu:.4f}",
                    f"{floor / plain:.2f}x plain",
                    f"{floor_cpu / plain_cpu:.2f}x plain",
                    fanout_shape(root, "refs/notes/bygit"),
                ),
                (
                    "git log --notes=ntrk -n 100",
                    f"{with_notes:.4f}",
                    f"{notes_cpu:.4f}",
                    f"{with_notes / plain:.2f}x plain",
                    f"{notes_cpu / plain_cpu:.2f}x plain",
                    fanout_shape(root, "refs/notes/ntrk"),
                ),
                (
                    "ntrk / git's notes",
                    "",
                    "",
                    f"{with_notes / floor:.2f}x ({verdict(with_notes / floor, 1.1)})",
                    f"{notes_cpu / floor_cpu:.2f}x",
                    "the same tree" if same_tree else "different trees",
                ),
            ],
        )


def fake_record(index: int, commit: str) -> object:
    """A valid record on `commit` (which need not exist: notes may annotate any object id)."""
    from ntrk import record

    data = bytes(str(index), "ascii")
    return record.parse(
        {
            "v": 1,
            "id": f"{index:032x}",
            "ts": "2026-01-01T00:00:00Z",
            "git": {"commit": commit, "branch": "main"},
            "cwd": ".",
            "script": None,
            "command": ["python", "step.py", "-o", f"f{index}"],
            "inputs": [],
            "outputs": [{"path": f"f{index}", "md5": hashlib.md5(data).hexdigest(), "size": 1}],
        }
    )


def parse_all_notes(repo: object) -> int:
    """Every note line of refs/notes/ntrk, parsed as the indexer parses it: how many."""
    from ntrk.store import notes

    commit = notes.notes_commit(repo)  # type: ignore[arg-type]
    if commit is None:
        return 0
    return sum(
        len([notes.parse_line(line) for line in notes.note_lines(repo, blob)[0]])  # type: ignore[arg-type]
        for _, blob in notes.iter_notes(repo, commit.tree)  # type: ignore[arg-type]
    )


def bench_notes(quick: bool) -> None:
    """One note write at 0 / 10k / 100k existing notes; reading every note back."""
    import pygit2

    from ntrk.store import notes

    sizes = [0, 1_000, 10_000] if quick else [0, 10_000, 100_000]
    rows = [("existing notes", "one note write (ms, median of 20)", "read all notes (s)")]
    with scratch() as base:
        root = new_repo(base / "repo")
        repo = pygit2.Repository(str(root))
        existing = 0
        for size in sizes:
            batch = [
                fake_record(i, hashlib.sha1(b"%d" % i).hexdigest()) for i in range(existing, size)
            ]
            for start in range(0, len(batch), 20_000):
                notes.add(repo, batch[start : start + 20_000])
            existing = size
            writes = []
            for probe in range(20):
                index = 10_000_000 + size + probe
                rec = fake_record(index, hashlib.sha1(b"p%d" % index).hexdigest())
                began = time.perf_counter()
                notes.add(repo, [rec])
                writes.append(time.perf_counter() - began)
            existing += 20
            read = median_time(partial(parse_all_notes, repo), 3)
            rows.append((f"{size:,}", f"{statistics.median(writes) * 1000:.2f}", f"{read:.3f}"))
    table("git notes (pygit2, fan-out tree)", rows)


def bench_convergence(quick: bool) -> None:
    """Many clones recording runs, then all running `nt sync` at once against one bare
    remote, round after round until every sync has nothing to push (no target yet)."""
    import pygit2

    from ntrk.store import notes

    clones, runs_each = (4, 5) if quick else (16, 25)
    with scratch() as base:
        remote = base / "remote.git"
        git(base, "init", "-q", "--bare", "--initial-branch=main", str(remote))
        seed = new_repo(base / "seed")
        (seed / "in.dat").write_text("x")
        git(seed, "push", "-q", str(remote), "HEAD:refs/heads/main")
        places = []
        for number in range(clones):
            place = base / f"clone{number}"
            git(base, "clone", "-q", str(remote), place.name)
            (place / "in.dat").write_text("x")
            places.append(place)
        step = [sys.executable, "step.py", "-i", "in.dat", "-o"]
        started = time.perf_counter()
        for place in places:
            for index in range(runs_each):
                run_ok([NT, "track", *step, f"out{index}.dat"], place)
        recording = time.perf_counter() - started
        expected = clones * runs_each
        # Every git process a sync runs is traced to its clone's file, to count fetches and pushes.
        traces = {place: base / f"{place.name}.trace" for place in places}
        rounds: list[dict[str, int]] = []
        complete_at: float | None = None
        started = time.perf_counter()
        while True:
            syncs = [
                subprocess.Popen(
                    [NT, "sync"],
                    cwd=place,
                    env={**GIT_ENV, "GIT_TRACE": str(traces[place])},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
                for place in places
            ]
            outcome = {"pushed": 0, "nothing to push": 0, "failed": 0}
            for sync in syncs:
                out, err = sync.communicate()
                if sync.returncode != 0:
                    outcome["failed"] += 1
                    assert b"kept receiving" in err, err
                else:
                    outcome[
                        "pushed" if out.strip().endswith(b", pushed") else "nothing to push"
                    ] += 1
            rounds.append(outcome)
            on_remote = len(notes.record_ids(pygit2.Repository(str(remote))))
            if complete_at is None and on_remote == expected:
                complete_at = time.perf_counter() - started
            if outcome["nothing to push"] == clones:
                break
            assert len(rounds) < 20, rounds
        quiet_at = time.perf_counter() - started
        assert on_remote == expected, (on_remote, expected)
        for place in places:
            assert len(notes.record_ids(pygit2.Repository(str(place)))) == expected, place
        pushes = fetches = 0
        for trace in traces.values():
            text = trace.read_text(errors="replace")
            pushes += text.count("built-in: git push ")
            fetches += text.count("built-in: git fetch ")
        pushed = sum(r["pushed"] for r in rounds)
        rows = [
            ("round", "syncs pushed", "nothing to push", "failed (kept receiving)"),
            *[
                (str(n), str(r["pushed"]), str(r["nothing to push"]), str(r["failed"]))
                for n, r in enumerate(rounds, start=1)
            ],
        ]
        table(
            f"convergence: {clones} clones x {runs_each} runs, nt sync all at once each round "
            f"({recording:.1f} s to record the runs)",
            rows,
        )
        table(
            "convergence: totals",
            [
                ("measure", "value"),
                ("records on the remote at the end", f"{on_remote:,} of {expected:,}"),
                ("every clone holds them all", "yes"),
                ("wall time until the remote held them all (s)", f"{complete_at:.2f}"),
                ("wall time until every sync had nothing to push (s)", f"{quiet_at:.2f}"),
                ("rounds (the last one quiet)", str(len(rounds))),
                ("nt sync invocations", str(len(rounds) * clones)),
                ("git fetch processes", str(fetches)),
                ("git push processes", str(pushes)),
                ("pushes that landed", str(pushed)),
                ("pushes rejected, retried (git push processes - landed)", str(pushes - pushed)),
            ],
        )


def seed_wheel() -> Path | None:
    """ntrk 0.1.0's wheel, for side-by-side numbers (NTRK_SEED_WHEEL or a download)."""
    if os.environ.get("NTRK_SEED_WHEEL"):
        return Path(os.environ["NTRK_SEED_WHEEL"])
    target = Path(tempfile.gettempdir()) / "ntrk-bench-seed"
    found = list(target.glob("ntrk-0.1.0-*.whl"))
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "ntrk==0.1.0",
                "-d",
                str(target),
            ],
            capture_output=True,
        )
        found = list(target.glob("ntrk-0.1.0-*.whl"))
    return found[0] if found else None


SECTIONS = {
    "dirty": bench_dirty,
    "trace": bench_trace,
    "notesclone": bench_notesclone,
    "coldindex": bench_coldindex,
    "track": bench_track,
    "sidecars": bench_sidecars,
    "openlineage": bench_openlineage,
    "observe": bench_observe,
    "notes": bench_notes,
    "hashing": bench_hashing,
    "gitlog": bench_git_log,
    "convergence": bench_convergence,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", choices=[*SECTIONS, []], default=[])
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI")
    parser.add_argument(
        "--max-records",
        type=int,
        metavar="N",
        help="skip the sizes of more than N records (trace, notesclone, coldindex, track)",
    )
    args = parser.parse_args()
    global MAX_RECORDS
    MAX_RECORDS = args.max_records
    print(f"# ntrk benchmarks — {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for name in args.sections or SECTIONS:
        SECTIONS[name](args.quick)


if __name__ == "__main__":
    main()
