"""Hermetic git for every test: a temporary HOME, no system config, fixed dates."""

from __future__ import annotations

import fcntl
import os
import pty
import resource
import shutil
import signal
import subprocess
import sys
import termios
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest
from hypothesis import HealthCheck, settings

from ntrk.cli import main

NT = shutil.which("nt", path=str(Path(sys.executable).parent)) or "nt"
FIXED_DATE = "2026-01-01T00:00:00+00:00"

# Timing varies on shared CI machines; properties are checked, not speed.
settings.register_profile(
    "ntrk", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=150
)
settings.load_profile("ntrk")


@pytest.fixture(autouse=True)
def hermetic_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolate git (and pygit2, which reads its search path once at import) from the machine.

    OpenLineage settings are the machine's too: with them, every `nt track` would send events.
    """
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n",
        encoding="utf-8",
    )
    for key in list(os.environ):
        if key.startswith(("GIT_", "NTRK_", "OPENLINEAGE")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_DATE", FIXED_DATE)
    monkeypatch.setenv("GIT_COMMITTER_DATE", FIXED_DATE)
    monkeypatch.setenv("GIT_EDITOR", "false")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    levels = (pygit2.enums.ConfigLevel.GLOBAL, pygit2.enums.ConfigLevel.XDG)
    saved = {level: pygit2.settings.search_path[level] for level in levels}
    pygit2.settings.search_path[pygit2.enums.ConfigLevel.GLOBAL] = str(home)
    pygit2.settings.search_path[pygit2.enums.ConfigLevel.XDG] = str(home / ".config")
    yield home
    for level, value in saved.items():
        pygit2.settings.search_path[level] = value


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run git in `cwd`; fail the test on error (unless `check` is false)."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0 or not check, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def nt(cwd: Path, *args: str, input: str | None = None) -> Outcome:
    """Run the installed `nt` entry point as a subprocess."""
    done = subprocess.run([NT, *args], cwd=cwd, capture_output=True, text=True, input=input)
    return Outcome(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli(capfd: pytest.CaptureFixture[str]) -> Iterator[object]:
    """Call the CLI in-process (fast); the wrapped command's output is captured too."""

    def run(*args: str) -> Outcome:
        capfd.readouterr()
        code = main(list(args))
        captured = capfd.readouterr()
        return Outcome(code, captured.out, captured.err)

    yield run


STEP_SCRIPT = """\
import sys

args = sys.argv[1:]
src = args[args.index("-i") + 1]
dst = args[args.index("-o") + 1]
with open(src) as f, open(dst, "w") as g:
    g.write(f.read().upper())
"""


# A step that splits a file into a directory of parts, and one that counts them.
SPLIT = """\
import os, sys
args = sys.argv[1:]
src, dst = args[args.index("-i") + 1], args[args.index("-o") + 1]
os.makedirs(dst, exist_ok=True)
for number, line in enumerate(open(src)):
    with open(os.path.join(dst, f"part{number}.txt"), "w") as part:
        part.write(line)
"""
COUNT = """\
import os, sys
args = sys.argv[1:]
src, dst = args[args.index("-i") + 1], args[args.index("-o") + 1]
with open(dst, "w") as out:
    out.write(f"{len(os.listdir(src))}\\n")
"""


def make_repo(root: Path, ignore: str = "") -> Path:
    """Initialise `root` as a repository holding `step.py` and `raw.csv`, committed."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    (root / "step.py").write_text(STEP_SCRIPT, encoding="utf-8")
    (root / "raw.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    if ignore:
        (root / ".gitignore").write_text(ignore, encoding="utf-8")
    commit_all(root, "init")
    return root


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed repository holding `step.py` and `raw.csv`, as the current directory."""
    root = make_repo(tmp_path / "work")
    monkeypatch.chdir(root)
    return root


def make_server(root: Path) -> Path:
    """A bare repository `root/server.git` holding one commit (step.py, raw.csv), no notes."""
    seed = make_repo(root / "seed")
    bare = root / "server.git"
    git(root, "clone", "-q", "--bare", str(seed), str(bare))
    return bare


@pytest.fixture
def server(tmp_path: Path) -> Path:
    """A bare repository holding one commit (step.py, raw.csv), with no notes."""
    return make_server(tmp_path)


def clone(server: Path, where: Path, *options: str) -> Path:
    """A clone of `server` at `where`, over a file:// URL as a real remote is reached."""
    git(where.parent, "clone", "-q", *options, f"file://{server}", str(where))
    return where


MEMORY_LIMIT = 1536 * 1024 * 1024  # address space for one `nt`: ~10x what it needs


def at_a_terminal(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """Start `argv` in a session of its own whose controlling terminal is a new pty (so that
    Ctrl-C written to it signals the foreground group, as a terminal does); return the process
    and the pty's master side, for the caller to close."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    return proc, master


def bounded(cwd: Path, *args: str, timeout: float = 60) -> Outcome:
    """Run `nt ARGS` with at most MEMORY_LIMIT of address space; fail the test on a hang."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    proc = subprocess.Popen(
        [NT, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limit_memory,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"nt {' '.join(args)[:80]} still running after {timeout} s")
    return Outcome(proc.returncode, out, err)


def commit_all(root: Path, message: str) -> str:
    """Stage everything and commit; return the new commit id."""
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def read_log(root: Path) -> list[dict[str, object]]:
    import json

    path = root / ".ntrk" / "runs.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


NOBODY = 65534


@pytest.fixture
def unprivileged(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A directory that user `nobody` can use, and the argv prefix that runs as that user.

    Permission errors cannot be produced as root, and CI runs as root: there, commands are run
    as `nobody` through setpriv. When the tests already run unprivileged, the prefix is empty.
    """
    import tempfile

    if os.geteuid() != 0:
        yield tmp_path, []
        return
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop privileges")
    prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import ntrk"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("user nobody cannot run this Python")
    base = Path(tempfile.mkdtemp(prefix="ntrk-nobody-"))
    base.chmod(0o755)
    try:
        yield base, prefix
    finally:
        shutil.rmtree(base, ignore_errors=True)


def give_to_nobody(path: Path) -> None:
    """Make `path` (recursively) belong to `nobody` when running as root."""
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(path)], check=True)


def hash_object(root: Path, text: str) -> str:
    """Write a blob into the repository's object store; return its id."""
    done = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"],
        input=text,
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def ignore_outputs(root: Path) -> None:
    """Commit a .gitignore for `out*`, so concurrent runs find a clean tree."""
    (root / ".gitignore").write_text("out*\n")
    commit_all(root, "ignore outputs")


def start_tracks(root: Path, names: list[str]) -> list[subprocess.Popen[str]]:
    """Start one `nt track` per name, each writing the file of that name, all at once."""
    code = "import sys, time; time.sleep(0.05); open(sys.argv[2], 'w').write(sys.argv[2])"
    return [
        subprocess.Popen(
            [NT, "track", "python", "-c", code, "-o", name],
            cwd=root,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]


STEP = ["python", "step.py"]


@pytest.fixture
def chain(repo: Path, cli) -> Path:  # type: ignore[no-untyped-def]
    """raw.csv -> clean.csv -> final.csv, recorded and committed."""
    assert cli("track", *STEP, "-i", "raw.csv", "-o", "clean.csv").code == 0
    assert cli("track", *STEP, "-i", "clean.csv", "-o", "final.csv").code == 0
    commit_all(repo, "results")
    return repo


def snapshot_checkout(dest: Path) -> str:
    """This checkout's files as git would clone them (tracked and new, not ignored) in a fresh
    repository at `dest`, committed; returns the commit id. Stands for a clone of ntrk."""
    root = Path(__file__).resolve().parent.parent
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split(b"\0")):
        source = root / os.fsdecode(name)
        if source.is_file():  # a file deleted but not yet staged is still listed
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git(dest, "init", "-q")
    return commit_all(dest, "ntrk, as checked out")


def broken_installation(tmp_path: Path, missing: str) -> Path:
    """A Python environment where ntrk imports but its dependency `missing` does not."""
    venv = tmp_path / "broken"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    deps = tmp_path / "deps"
    deps.mkdir()
    for name in {"click", "pygit2"} - {missing}:  # what is still there, from this environment
        module = __import__(name)
        (deps / name).symlink_to(Path(module.__file__).parent)
    src = Path(__import__("ntrk").__file__).parent.parent
    (site / "ntrk.pth").write_text(f"{src}\n{deps}\n")
    return venv / "bin" / "python"


def states(cli, *paths: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """What `nt status --json` says of each path."""
    import json

    result = cli("status", "--json", *paths)
    return {entry["path"]: entry["state"] for entry in json.loads(result.out)}
