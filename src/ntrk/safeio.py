"""Reading and writing ntrk's files in a work tree that someone else may have written.

**Reading.** `read_regular` opens without following a symbolic link (O_NOFOLLOW), refuses
anything but a regular file (a FIFO, a device, a directory), never blocks on the open
(O_NONBLOCK), and reads at most a given number of bytes: a committed link to `/dev/zero` or
to a file outside the tree costs nothing.

**Writing.** Files are written so that a reader sees the old bytes or the new ones, never a mix.

`write_atomic` writes a temporary file beside the target, created exclusively (O_EXCL and
O_NOFOLLOW: a name already there, or a symbolic link planted at it, is never written
through), fsyncs it (so a crash leaves the old bytes or the new ones, never an empty file),
renames it over the target, and with `durable` fsyncs the directory too, so that the rename
itself survives a crash. The temporary name is `.<name>.<random>.tmp` (`<name>.<random>.tmp`
when the name already starts with a dot), which `layout` recognises for sidecars.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_ATTEMPTS = 100


class NotRegular(OSError):
    """A path that is a symbolic link, a directory or a special file where a file was expected."""


class TooLarge(OSError):
    """A file larger than the reader allows."""


def open_regular(path: Path, flags: int = os.O_RDONLY) -> int:
    """A file descriptor for the regular file at `path`, never through a symbolic link.

    Raises FileNotFoundError when absent, NotRegular for a link, directory or special file.
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRegular(errno.ELOOP, "a symbolic link", str(path)) from exc
        if exc.errno == errno.EISDIR:
            raise NotRegular(errno.EISDIR, "a directory", str(path)) from exc
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of the regular file at `path`, or None when there is none.

    Raises NotRegular (a link, directory or special file) and TooLarge (over `limit` bytes).
    """
    try:
        fd = open_regular(path)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(errno.EFBIG, f"larger than {limit:,} bytes", str(path))
    return data


def is_real_directory(path: Path) -> bool:
    """Whether `path` is a directory itself, not a symbolic link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


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
