"""Content identity: md5 of a file, and of a directory's tree.

md5 stays the recorded identity for compatibility with 0.1.0 records; it is a fingerprint of
content, not tamper evidence. A directory's md5 is the md5 of its manifest, one line per
regular file in `md5sum` format (`<md5>  <relative/path>\\n`), sorted by path bytes; ntrk's own
sidecars and symbolic links are left out. That is DVC's `.dir` idea in a form a shell can check:

    (cd results && find . -type f ! -name '.*.ntrk' ! -name '.*.ntrk.*.tmp' \\
        | sed 's|^\\./||' | LC_ALL=C sort | xargs -d '\\n' md5sum) | md5sum
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ntrk.layout import is_sidecar_name

_PARALLEL_MIN_BYTES = 8 * 1024 * 1024


class NotHashable(OSError):
    """A path that is neither a regular file nor a directory (a FIFO, a device, a socket)."""


@dataclass(frozen=True, slots=True)
class Digest:
    """What hashing a path found: md5, size in bytes, and for a directory its file count."""

    md5: str
    size: int
    files: int | None = None
    # A directory: (member path, md5) of each file whose name is UTF-8, in manifest order.
    members: tuple[tuple[str, str], ...] | None = None


class StatCache(Protocol):
    """Digests remembered by stat data (`store.statcache` is the one ntrk uses)."""

    def lookup(self, path: Path, info: os.stat_result) -> Digest | None: ...

    def store(self, path: Path, info: os.stat_result, digest: Digest, hashed_at: int) -> None: ...


def md5_file(path: Path | str, cache: StatCache | None = None) -> Digest:
    """Hash one regular file, streamed (or take it from the stat cache)."""
    # O_NONBLOCK so that a FIFO swapped in after the stat check cannot hang the open.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise NotHashable(f"not a regular file: {path}")
        cached = cache.lookup(Path(path).absolute(), info) if cache else None
        if cached is not None:
            return cached
        started = time.time_ns()
        digest = Digest(md5=hashlib.file_digest(stream, _new_md5).hexdigest(), size=info.st_size)
    if cache:
        cache.store(Path(path).absolute(), info, digest, started)
    return digest


def md5_tree(directory: Path, cache: StatCache | None = None) -> Digest:
    """Hash a directory as the md5 of its sorted file manifest (see the module docstring)."""
    files = sorted(_tree_files(directory))
    digests = hash_many([directory / os.fsdecode(rel) for rel in files], cache)
    manifest = hashlib.md5(usedforsecurity=False)
    total = 0
    members = []
    for rel, digest in zip(files, digests, strict=True):
        if isinstance(digest, BaseException):
            raise digest
        manifest.update(digest.md5.encode("ascii") + b"  " + rel + b"\n")
        total += digest.size
        # A name a record cannot hold (not UTF-8) is counted and hashed, but not listed.
        with contextlib.suppress(UnicodeDecodeError):
            members.append((rel.decode("utf-8"), digest.md5))
    return Digest(md5=manifest.hexdigest(), size=total, files=len(files), members=tuple(members))


def hash_path(path: Path, cache: StatCache | None = None) -> Digest:
    """Hash a regular file or a directory; anything else raises NotHashable."""
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        return md5_tree(path, cache)
    if stat.S_ISREG(info.st_mode):
        return md5_file(path, cache)
    raise NotHashable(f"not a regular file or directory: {path}")


def hash_many(paths: Sequence[Path], cache: StatCache | None = None) -> list[Digest | OSError]:
    """Hash files or directories, in parallel threads when there is enough data to pay for them."""
    if len(paths) < 2 or _total_size(paths) < _PARALLEL_MIN_BYTES:
        return [_hash_or_error(path, cache) for path in paths]
    # hashlib releases the GIL while digesting, so threads use every core. The stat cache's
    # connection belongs to this thread, so the workers hash and this thread caches.
    from concurrent.futures import ThreadPoolExecutor  # here: its import costs a track 4 ms

    cached = {path: _cached(path, cache) for path in paths}
    pending = [path for path in paths if cached[path] is None]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        fresh = dict(zip(pending, pool.map(_timed_hash, pending), strict=True))
    results: list[Digest | OSError] = []
    for path in paths:
        known = cached[path]
        if known is not None:
            results.append(known)
            continue
        outcome = fresh[path]
        if isinstance(outcome, OSError):
            results.append(outcome)
            continue
        digest, info, started = outcome
        if cache and info is not None:
            cache.store(path.absolute(), info, digest, started)
        results.append(digest)
    return results


def _cached(path: Path, cache: StatCache | None) -> Digest | None:
    if cache is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return cache.lookup(path.absolute(), info) if stat.S_ISREG(info.st_mode) else None


def _timed_hash(path: Path) -> tuple[Digest, os.stat_result | None, int] | OSError:
    started = time.time_ns()
    try:
        info = os.stat(path)
        digest = hash_path(path)
    except OSError as exc:
        return exc
    return digest, info if stat.S_ISREG(info.st_mode) else None, started


def _hash_or_error(path: Path, cache: StatCache | None = None) -> Digest | OSError:
    try:
        return hash_path(path, cache)
    except OSError as exc:
        return exc


def _total_size(paths: Sequence[Path]) -> int:
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += os.stat(path).st_size
    return total


def walk_tree(directory: Path) -> Iterator[tuple[bytes, os.stat_result]]:
    """(path inside `directory`, `/`-separated, and its lstat) for everything below it that is
    not a directory; links are listed, never followed. Iterative, with an explicit stack: a
    committed tree a thousand levels deep is walked like any other (os.walk recurses)."""
    base = os.fsencode(directory)
    pending = [b""]
    while pending:
        relative = pending.pop()
        try:
            entries = os.scandir(os.path.join(base, relative) if relative else base)
        except OSError:
            continue  # unreadable, or gone meanwhile: as os.walk skips it
        with entries:
            for entry in entries:
                path = relative + b"/" + entry.name if relative else entry.name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(path)
                    else:
                        yield path, entry.stat(follow_symlinks=False)
                except OSError:
                    continue


def _tree_files(directory: Path) -> list[bytes]:
    return [
        path
        for path, info in walk_tree(directory)
        if stat.S_ISREG(info.st_mode) and not is_sidecar_name(os.fsdecode(path.rsplit(b"/", 1)[-1]))
    ]


def _new_md5() -> hashlib._Hash:
    return hashlib.md5(usedforsecurity=False)
