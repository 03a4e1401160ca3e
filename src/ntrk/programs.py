"""The programs ntrk starts on its own: git, and `nt track`'s helpers (cat, strace, true).

They are looked up on PATH's absolute entries only. An empty or relative entry (`PATH=:$PATH`,
`PATH=bin:$PATH`) names a folder relative to the current directory, which for ntrk is a work
tree that anyone who commits to the repository can fill: a committed `./git` or `./cat` would
run as that program. The user's own command is theirs to name, and is found as their shell
would find it.
"""

from __future__ import annotations

import os
import shutil


def find(name: str) -> str | None:
    """The absolute path of the program `name` on PATH's absolute entries, or None."""
    entries = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return shutil.which(name, path=os.pathsep.join(e for e in entries if os.path.isabs(e)))
