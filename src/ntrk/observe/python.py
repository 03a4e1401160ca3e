"""The audit-hook observer: every Python process of a run reports the files it opens.

No dependency and no privilege: `pyhook/sitecustomize.py` goes first on PYTHONPATH, so each
Python process of the run (children too, through the environment) installs an audit hook at
startup and appends what it opens to a report file that ntrk reads after the run. It sees what
Python code opens (`open`, `os.open`, pandas, pickle, numpy's loaders); not what a C library
opens by itself, nor any process that is not Python, nor Python started with `-I`, `-E` or
`-S`, or with an environment that leaves out ntrk's variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ntrk.observe.events import KINDS, Events

HOOK_DIR = Path(__file__).resolve().with_name("pyhook")
REPORT_VARIABLE = "NTRK_OBSERVE_REPORT"
ROOT_VARIABLE = "NTRK_OBSERVE_ROOT"
_CHUNK = 1 << 20
_MAX_ENTRY = 1 << 16  # a path is at most PATH_MAX (4096) bytes; anything longer is garbage


def environment(base: Mapping[str, str], report: Path, root: Path) -> dict[str, str]:
    """`base` with the hook first on PYTHONPATH, reporting into `report` what is under `root`."""
    env = dict(base)
    before = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(HOOK_DIR) + (os.pathsep + before if before else "")
    env[REPORT_VARIABLE] = str(report)
    env[ROOT_VARIABLE] = str(root)
    return env


def read_report(report: Path, events: Events) -> None:
    """Add the report's entries (`<kind><path>\\0`, see the hook) to `events`."""
    try:
        fd = os.open(report, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return
    with os.fdopen(fd, "rb") as stream:
        pending, overlong = b"", False
        while chunk := stream.read(_CHUNK):
            *entries, pending = (pending + chunk).split(b"\0")
            for entry in entries:
                if not overlong:
                    _add(entry, events)
                overlong = False
            if len(pending) > _MAX_ENTRY:  # garbage: skip it up to the next separator
                pending, overlong = b"", True


def _add(entry: bytes, events: Events) -> None:
    if entry == b"O":  # a process stopped reporting: more files than anyone will list
        events.overflowed()
        return
    if len(entry) < 2 or len(entry) > _MAX_ENTRY:
        return
    kind, name = chr(entry[0]), os.fsdecode(entry[1:])
    if kind == "X":
        events.program(name)
    elif kind in KINDS and name.startswith("/"):
        events.add(kind, name)
