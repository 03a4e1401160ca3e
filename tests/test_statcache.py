"""The stat cache: unchanged files are not hashed again, and the racy case is re-verified."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ntrk import hashing
from ntrk.hashing import Digest
from ntrk.store.statcache import RACY_NS, StatCache

OLD = 1_600_000_000  # 2020: safely older than any cache write in these tests


@pytest.fixture
def cache(tmp_path: Path) -> StatCache:
    store = tmp_path / ".ntrk"
    store.mkdir()
    return StatCache(store)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file whose bytes were actually read and hashed."""
    calls: list[Path] = []
    real = hashlib.file_digest

    def counting(stream, digest):  # type: ignore[no-untyped-def]
        calls.append(Path(stream.name) if isinstance(stream.name, str) else Path("?"))
        return real(stream, digest)

    monkeypatch.setattr(hashing.hashlib, "file_digest", counting)
    return calls


def old_file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))
    return path


def test_unchanged_file_is_not_hashed_again(tmp_path: Path, cache: StatCache, counted) -> None:
    path = old_file(tmp_path / "big.bin", b"x" * 100_000)
    first = hashing.hash_path(path, cache)
    second = hashing.hash_path(path, cache)
    assert first.md5 == second.md5 == hashlib.md5(b"x" * 100_000).hexdigest()
    assert len(counted) == 1


def test_changed_content_with_the_same_mtime_is_hashed_again(
    tmp_path: Path, cache, counted
) -> None:
    path = old_file(tmp_path / "f", b"aaaa")
    hashing.hash_path(path, cache)
    old_file(path, b"bbbb")  # same size, same mtime; ctime moves
    assert hashing.hash_path(path, cache).md5 == hashlib.md5(b"bbbb").hexdigest()
    assert len(counted) == 2


def test_racy_entry_is_verified_again(tmp_path: Path, cache: StatCache, counted) -> None:
    path = tmp_path / "racy"
    path.write_bytes(b"1111")
    hashing.hash_path(path, cache)  # hashed in the same instant it was written
    stamp = path.stat()
    path.write_bytes(b"2222")  # same size, and the mtime put back: only the racy rule saves us
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert hashing.hash_path(path, cache).md5 == hashlib.md5(b"2222").hexdigest()
    assert len(counted) == 2


def test_entry_with_matching_stat_is_trusted(tmp_path: Path, cache: StatCache) -> None:
    path = old_file(tmp_path / "f", b"data")
    info = path.stat()
    cache.store(path.absolute(), info, Digest("0" * 32, 4), OLD * 10**9 + RACY_NS + 1)
    assert hashing.hash_path(path, cache).md5 == "0" * 32  # the cache answered, as designed
    os.utime(path, (OLD + 5, OLD + 5))
    assert hashing.hash_path(path, cache).md5 == hashlib.md5(b"data").hexdigest()


def test_directory_files_use_the_cache(tmp_path: Path, cache: StatCache, counted) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    for name in "abc":
        old_file(folder / name, name.encode() * 10)
    first = hashing.hash_path(folder, cache)
    assert hashing.hash_path(folder, cache) == first
    assert len(counted) == 3


def test_parallel_hashing_fills_the_cache(
    tmp_path: Path, cache: StatCache, counted, monkeypatch
) -> None:
    monkeypatch.setattr(hashing, "_PARALLEL_MIN_BYTES", 0)
    paths = [old_file(tmp_path / f"p{i}", bytes([i]) * 5000) for i in range(4)]
    first = hashing.hash_many(paths, cache)
    second = hashing.hash_many(paths, cache)
    assert first == second and len(counted) == 4


def test_unusable_cache_is_not_used(tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "missing")
    path = old_file(tmp_path / "f", b"z")
    assert hashing.hash_path(path, cache).md5 == hashlib.md5(b"z").hexdigest()


def test_entry_hashed_right_after_a_write_is_not_trusted(tmp_path: Path, cache) -> None:
    """git's racy case: bytes that changed within the mtime's granularity look unchanged."""
    path = old_file(tmp_path / "f", b"data")
    info = path.stat()
    cache.store(path.absolute(), info, Digest("0" * 32, 4), info.st_mtime_ns + RACY_NS // 2)
    assert hashing.hash_path(path, cache).md5 == hashlib.md5(b"data").hexdigest()


def test_entries_outlive_the_cache_that_made_them(tmp_path: Path, counted) -> None:
    """Entries are written together when the cache closes; the next command reads them."""
    store = tmp_path / ".ntrk"
    paths = [old_file(tmp_path / f"f{n}", b"%d" % n) for n in range(3)]
    first = StatCache(store)
    for path in paths:
        hashing.hash_path(path, first)
    first.close()
    second = StatCache(store)
    assert [hashing.hash_path(path, second).md5 for path in paths] == [
        hashlib.md5(b"%d" % n).hexdigest() for n in range(3)
    ]
    assert len(counted) == 3  # hashed once, by the first cache
