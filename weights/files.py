"""File helpers shared by every module that writes or identifies files.

- :func:`atomic_open` / :func:`atomic_path`: write to a temporary file in the
  destination's folder, ``fsync`` it, then :func:`os.replace` it into place.
  The file gets the mode a plain ``open(path, "w")`` would give (``0o666``
  less the umask: 0644 under umask 022, 0600 under 077), because the
  temporary file is created with :func:`os.open` and mode ``0o666``, which
  the kernel filters through the umask (``tempfile.mkstemp`` would force
  0600). On any failure, Ctrl-C included, the temporary file is removed and
  an existing file at ``path`` is left untouched.
- :func:`sha1_file` / :func:`sha1_bytes`: hex SHA-1 of a file or of bytes
  (model checksums, recipe identities).
- :func:`cache_dir` / :func:`cached_model`: where downloaded and converted
  models live.

This module lives in ``weights`` because that is the lowest layer doing file
I/O; ``engine`` imports it, never the reverse.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_CHUNK = 1 << 20


def _create_temp(path: Path) -> tuple[int, Path]:
    """An exclusive new file beside ``path``, mode 0o666 filtered by the umask."""
    folder = path.parent
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = folder / f".{path.name}.{secrets.token_hex(4)}.part"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: cannot create a temporary file for {path.name}")


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _commit(tmp: Path, path: Path) -> None:
    os.replace(tmp, path)
    _fsync_folder(tmp.parent)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file to write; on success it replaces ``path`` atomically.

    ``with atomic_open("out.png") as f: f.write(data)``. See the module
    docstring for the mode and what happens on failure.
    """
    path = Path(path)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _commit(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for libraries that want a name
    (h5py); on success the file is synced and moved to ``path``.

    The temporary file already exists (empty, with the umask's mode); a
    writer that truncates it keeps that mode.
    """
    path = Path(path)
    fd, tmp = _create_temp(path)
    os.close(fd)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _commit(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_open(path) as f:
        f.write(data)
    return Path(path)


def sha1_bytes(data: bytes) -> str:
    """Hex SHA-1 of ``data``."""
    return hashlib.sha1(data).hexdigest()


def sha1_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-1 of the file at ``path``, read in 1 MiB blocks."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def cache_dir() -> Path:
    """Where downloaded and converted models live (not created here).

    ``$INCEPTIONISM_HOME`` if set; else the platform cache directory:
    ``$XDG_CACHE_HOME/inceptionism`` (default ``~/.cache/inceptionism``) on
    Linux and other Unixes, ``~/Library/Caches/inceptionism`` on macOS,
    ``%LOCALAPPDATA%\\inceptionism\\Cache`` on Windows.
    """
    home = os.environ.get("INCEPTIONISM_HOME")
    if home:
        return Path(home).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData/Local")
        return Path(base) / "inceptionism" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "inceptionism"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "inceptionism"


def cached_model(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The converted weight file of registry model ``name`` in the cache
    (``root``, default :func:`cache_dir`)."""
    return (Path(root) if root is not None else cache_dir()) / f"{name}.h5"
