"""``weights/files.py``: atomic writes with the umask's mode, SHA-1, cache."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from contextlib import contextmanager

import h5py
import pytest

from inceptionism.weights.files import (
    atomic_open,
    atomic_path,
    cache_dir,
    cached_model,
    sha1_bytes,
    sha1_file,
    write_bytes,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
@pytest.mark.parametrize(("mask", "want"), [(0o022, 0o644), (0o077, 0o600)])
def test_mode_follows_the_umask(tmp_path, mask, want):
    with umask(mask):
        write_bytes(tmp_path / "a.bin", b"abc")
        with atomic_path(tmp_path / "b.h5") as tmp, h5py.File(tmp, "w") as f:
            f.attrs["x"] = 1
    assert mode(tmp_path / "a.bin") == want
    assert mode(tmp_path / "b.h5") == want
    assert (tmp_path / "a.bin").read_bytes() == b"abc"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.h5"]


@posix_only
def test_weight_files_are_0644_under_umask_022(tmp_path):
    from inceptionism.weights import save_model
    from inceptionism.weights.synthetic import synthetic_model

    with umask(0o022):
        save_model(synthetic_model("bvlc_googlenet", seed=0), tmp_path / "w.h5")
    assert mode(tmp_path / "w.h5") == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["w.h5"]


@posix_only
def test_replacing_a_file_takes_the_umask_mode(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")
    path.chmod(0o600)
    with umask(0o022):
        write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and mode(path) == 0o644


@pytest.mark.parametrize("helper", ["atomic_open", "atomic_path"])
@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path, helper, error):
    old, new = tmp_path / "old.bin", tmp_path / "new.bin"
    old.write_bytes(b"previous")
    for path in (old, new):
        with pytest.raises(type(error)):
            if helper == "atomic_open":
                with atomic_open(path) as f:
                    f.write(b"half")
                    raise error
            else:
                with atomic_path(path) as tmp:
                    tmp.write_bytes(b"half")
                    raise error
    assert old.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.bin"]


def test_missing_folder_is_an_error_and_creates_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_bytes(tmp_path / "no" / "a.bin", b"x")
    assert list(tmp_path.iterdir()) == []


def test_sha1(tmp_path):
    data = os.urandom(3 << 20 | 5)  # several read blocks and a partial one
    path = tmp_path / "d.bin"
    path.write_bytes(data)
    want = hashlib.sha1(data).hexdigest()
    assert sha1_file(path) == want
    assert sha1_bytes(data) == want
    assert sha1_bytes(b"") == "da39a3ee5e6b4b0d3255bfef95601890afd80709"


def test_cache_dir_and_cached_model(monkeypatch, tmp_path):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "h"))
    assert cache_dir() == tmp_path / "h"
    assert cached_model("bvlc_googlenet") == tmp_path / "h" / "bvlc_googlenet.h5"
    assert cached_model("x", tmp_path) == tmp_path / "x.h5"
    monkeypatch.delenv("INCEPTIONISM_HOME")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache_dir() == tmp_path / "xdg" / "inceptionism"
