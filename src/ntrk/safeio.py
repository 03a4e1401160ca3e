"""Writing files so that a reader sees the old bytes or the new ones, never a mix.

`write_atomic` writes a temporary file beside the target, created exclusively (O_EXCL and
O_NOFOLLOW: a name already there, or a symbolic link planted at it, is never written
through), fsyncs it (so a crash leaves the old bytes or the new ones, never an empty file),
renames it over the target, and with `durable` fsyncs the directory too, so that the rename
itself survives a crash. The temporary name is `.<name>.<random>.tmp` (`<name>.<random>.tmp`
when the name already starts with a dot), which `layout` recognises for sidecars.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_ATTEMPTS = 100


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644, durable: bool = False) -> None:
    """Replace `path` with `data` atomically (see the module docstring)."""
    fd, temporary = _create_temporary(path, mode)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)  # mkstemp-like creation is filtered by the umask
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if durable:
        fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in `directory` survive a crash (where the OS allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def temporary_name(name: str, token: str) -> str:
    """The temporary name used while writing a file called `name`."""
    return f"{name if name.startswith('.') else '.' + name}.{token}.tmp"


def _create_temporary(path: Path, mode: int) -> tuple[int, Path]:
    for _ in range(_ATTEMPTS):
        temporary = path.with_name(temporary_name(path.name, os.urandom(6).hex()))
        try:
            return os.open(temporary, _CREATE_FLAGS, mode), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")
