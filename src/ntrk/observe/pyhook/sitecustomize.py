"""ntrk's observer inside Python processes: an audit hook reporting the files a process opens.

`nt track` puts this directory first on PYTHONPATH, so every Python process of a tracked run
imports this module as `sitecustomize` at startup, and passes it on to its own Python children
through the environment. The hook reports each file inside the work tree that the process
opens, renames, links or removes, once per file and kind, as `<kind><absolute path>\\0`
appended to the file named by NTRK_OBSERVE_REPORT: `R` read, `W` written or created (or renamed
or linked into place), `M` renamed away, `D` removed; `X<program>` names a program started
that this hook cannot follow (not Python, or Python with a replaced environment); a lone `O`
says the process stopped reporting, having reported too many.

Then it steps aside: it takes its directory off sys.path and imports the `sitecustomize` that
would have run without it, if there is one, as `site` would have.

Written for any Python 3 (3.8 brought audit hooks; older ones only chain), and it never raises
into the program it observes: a report that cannot be written is lost, not an error.
"""

import os
import sys

_REPORT = "NTRK_OBSERVE_REPORT"
_ROOT = "NTRK_OBSERVE_ROOT"
_WATCHED = frozenset(
    ["open", "os.rename", "os.remove", "os.link", "subprocess.Popen", "os.posix_spawn", "os.exec"]
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Entries one process remembers (and reports). Past this, it reports `O` once and stops, so a
# process that opens millions of files pays no more memory for being observed.
_MAX_ENTRIES = 100_000


def _install() -> None:
    report = os.environ.get(_REPORT)
    root = os.environ.get(_ROOT)
    if not report or not root or not hasattr(sys, "addaudithook"):
        return
    try:
        out = os.open(report, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    except OSError:
        return
    inside = os.path.join(root, "")
    skipped = [inside + ".git" + os.sep, inside + ".ntrk" + os.sep]
    # A virtual environment inside the work tree: its modules are not the step's data.
    for prefix in (sys.prefix, sys.exec_prefix, sys.base_prefix):
        prefix = os.path.join(prefix, "")
        if prefix.startswith(inside):
            skipped.append(prefix)
    skip = tuple(skipped)
    cache_dir = os.sep + "__pycache__" + os.sep
    sep = os.sep
    seen: set[str] = set()
    fspath, fsdecode, fsencode = os.fspath, os.fsdecode, os.fsencode
    getcwd, normpath, write = os.getcwd, os.path.normpath, os.write

    # Called for every file the process opens: string work only, no more system calls than
    # getcwd for a relative name, and one write per new file and kind.
    def put(kind: str, path: object, dir_fd: object = None) -> None:
        if isinstance(path, int):  # an open file descriptor: opened, and seen, before
            return
        name = fspath(path)  # type: ignore[call-overload]
        if isinstance(name, bytes):
            name = fsdecode(name)
        if name[:1] != sep:
            if isinstance(dir_fd, int) and dir_fd >= 0:
                name = os.readlink("/proc/self/fd/" + str(dir_fd)) + sep + name
            else:
                name = getcwd() + sep + name
        if "/." in name or "//" in name:
            name = normpath(name)
        if not name.startswith(inside) or name.startswith(skip) or cache_dir in name:
            return
        entry = kind + name
        if entry not in seen:
            remember(entry)

    def remember(entry: str) -> None:
        if len(seen) < _MAX_ENTRIES:
            seen.add(entry)
            write(out, fsencode(entry) + b"\0")
        elif "O" not in seen:
            seen.add("O")
            write(out, b"O\0")

    def started(program: object, env: object) -> None:
        name = os.path.basename(fsdecode(fspath(program)))  # type: ignore[call-overload]
        followed = name.startswith("python") and (env is None or _REPORT in env)  # type: ignore[operator]
        if not followed and "X" + name not in seen:
            remember("X" + name)

    def hook(event: str, args: "tuple[object, ...]") -> None:
        if event not in _WATCHED:
            return
        try:
            if event == "open":
                flags = args[2]
                put("W" if isinstance(flags, int) and flags & _WRITE_FLAGS else "R", args[0])
            elif event == "os.rename":
                put("M", args[0], args[2])
                put("W", args[1], args[3])
            elif event == "os.remove":
                put("D", args[0], args[1])
            elif event == "os.link":
                put("W", args[1], args[3])
            elif event == "subprocess.Popen":  # (executable, args, cwd, env), shell resolved
                started(args[0], args[3])
            else:  # os.posix_spawn and os.exec: (path, argv, env)
                started(args[0], args[2])
        except Exception:
            pass

    sys.addaudithook(hook)


def _chain() -> None:
    """Import the `sitecustomize` this one hides, as `site` imports it."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]
    ours = sys.modules.pop(__name__)
    try:
        import sitecustomize  # type: ignore[import-not-found]  # noqa: F401  (the next one)
    except ImportError as exc:
        if exc.name != "sitecustomize":
            raise
    # importlib reads the module back from sys.modules after running it.
    sys.modules.setdefault(__name__, ours)


try:  # noqa: SIM105  (contextlib would be one more import in every Python process)
    _install()
except Exception:
    pass
_chain()
