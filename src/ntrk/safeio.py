"""Reading and writing ntrk's files in a work tree that someone else may have written.

**Reading.** `read_regular` opens without following a symbolic link (O_NOFOLLOW), refuses
anything but a regular file (a FIFO, a device, a directory), never blocks on the open
(O_NONBLOCK), and reads at most a given number of bytes: a committed link to `/dev/zero` or
to a file outside the tree costs nothing. Given the work tree (`within`), reads and writes
also walk down to the file one directory at a time without following a link: a committed
`.ntrk` that is a link to another checkout's store is refused like a linked log.

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
from collections.abc import Iterator
from pathlib import Path

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_ATTEMPTS = 100


class NotRegular(OSError):
    """A path that is a symbolic link, a directory or a special file where a file was expected."""


class TooLarge(OSError):
    """A file larger than the reader allows."""


def open_regular(path: Path, flags: int = os.O_RDONLY, *, within: Path | None = None) -> int:
    """A file descriptor for the regular file at `path`, never through a symbolic link: not
    at `path` itself, nor, with `within`, at any directory between `within` and `path`.

    Raises FileNotFoundError when absent, NotRegular for a link, directory or special file
    (or a path under a link or a file, with `within`).
    """
    with _parent(path, within) as parent:
        try:
            fd = os.open(
                path.name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent
            )
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


def read_regular(path: Path, limit: int, *, within: Path | None = None) -> bytes | None:
    """The bytes of the regular file at `path`, or None when there is none.

    Raises NotRegular (a link, directory or special file; see `open_regular` for `within`)
    and TooLarge (over `limit` bytes).
    """
    try:
        fd = open_regular(path, within=within)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(errno.EFBIG, f"larger than {limit:,} bytes", str(path))
    return data


@contextlib.contextmanager
def _parent(path: Path, within: Path | None) -> Iterator[int]:
    """A descriptor of `path`'s directory. With `within`, that directory is reached from
    `within` one component at a time, none of them followed if it is a symbolic link: a
    committed link where a directory belongs never takes ntrk outside the tree."""
    if within is None:
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    else:
        try:
            parts = path.parent.relative_to(within).parts
        except ValueError:
            raise NotRegular(errno.EXDEV, f"not inside {within}", str(path)) from None
        fd = os.open(within, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        for part in parts:
            if part == "..":
                os.close(fd)
                raise NotRegular(errno.EXDEV, f"not inside {within}", str(path))
            try:
                deeper = os.open(
                    part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd
                )
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise NotRegular(
                        errno.ELOOP, f"under {part}, a symbolic link or a file", str(path)
                    ) from exc
                raise
            os.close(fd)
            fd = deeper
    try:
        yield fd
    finally:
        os.close(fd)


def is_real_directory(path: Path) -> bool:
    """Whether `path` is a directory itself, not a symbolic link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def write_atomic(
    path: Path,
    data: bytes,
    *,
    mode: int = 0o644,
    durable: bool = False,
    within: Path | None = None,
) -> None:
    """Replace `path` with `data` atomically (see the module docstring); with `within`, never
    through a symbolic link between `within` and `path` (see `open_regular`)."""
    with _parent(path, within) as parent:
        fd, temporary = _create_temporary(parent, path.name, mode)
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fchmod(stream.fileno(), mode)  # creation is filtered by the umask
                os.fsync(stream.fileno())
            os.replace(temporary, path.name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=parent)
            raise
        if durable:
            with contextlib.suppress(OSError):
                os.fsync(parent)


def temporary_name(name: str, token: str) -> str:
    """The temporary name used while writing a file called `name`."""
    return f"{name if name.startswith('.') else '.' + name}.{token}.tmp"


def _create_temporary(parent: int, name: str, mode: int) -> tuple[int, str]:
    for _ in range(_ATTEMPTS):
        temporary = temporary_name(name, os.urandom(6).hex())
        try:
            return os.open(temporary, _CREATE_FLAGS, mode, dir_fd=parent), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {name}")
