"""File helpers shared by every module that writes or identifies files.

- :func:`atomic_open` / :func:`atomic_path`: write to a temporary file in the
  destination's folder, ``fsync`` it, then :func:`os.replace` it into place.
  The file gets the mode a plain ``open(path, "w")`` would give (``0o666``
  less the umask: 0644 under umask 022, 0600 under 077), because the
  temporary file is created with :func:`os.open` and mode ``0o666``, which
  the kernel filters through the umask (``tempfile.mkstemp`` would force
  0600). On any failure, Ctrl-C included, the temporary file is removed and
  an existing file at ``path`` is left untouched.
- Temporary files are named ``.NAME.HOST~PID~TOKEN.part``; every write
  first removes those in its folder whose writer (a process on this host) is
  gone (:func:`clean_stale_temps`): a run killed with SIGKILL leaves them,
  the next write to that folder removes them. Nothing else is touched.
- :func:`exclusive`: a lock file naming its holder (the downloader's, so
  two fetches never append to one ``.part``); a dead holder's is taken over.
- :func:`claim`: create a file only if nothing is there (``O_EXCL``), for
  default output names that two runs must not share;
  :func:`check_writable_folder`: can a file be made here (before the work).
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
import re
import secrets
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_CHUNK = 1 << 20


_EXCL = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
#: ``.NAME.HOST~PID~TOKEN.part``: who wrote a temporary file, so that one
#: left by a killed writer can be told from one being written.
_TEMP = re.compile(r"^\.(.+)\.([A-Za-z0-9-]*)~(\d+)~[0-9a-f]{8}\.part$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64]


def _alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate it there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's live process, or cannot tell: keep
    return True


def clean_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove this module's temporary files in ``folder`` whose writer (a
    process on this host) is gone: what a run killed with SIGKILL leaves.
    Files of other hosts, of live processes and of any other naming are
    kept. Returns the paths removed."""
    removed: list[Path] = []
    host = _host()
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _TEMP.match(name)
        if m and m.group(2) == host and not _alive(int(m.group(3))):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))
                removed.append(Path(folder) / name)
    return removed


def _create_temp(path: Path) -> tuple[int, Path]:
    """An exclusive new file beside ``path``, mode 0o666 filtered by the umask;
    first removes the stale temporary files of killed writers there."""
    folder = path.parent
    clean_stale_temps(folder)
    who = f"{_host()}~{os.getpid()}"
    for _ in range(100):
        tmp = folder / f".{path.name}.{who}~{secrets.token_hex(4)}.part"
        try:
            return os.open(tmp, _EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: cannot create a temporary file for {path.name}")


@contextlib.contextmanager
def exclusive(lock: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Hold the lock file ``lock`` (it records ``HOST~PID``) while the block
    runs; ``BlockingIOError`` naming ``what`` and the holder if a live
    process holds it. A lock left by a dead process on this host (SIGKILL)
    is taken over."""
    lock, me = Path(lock), f"{_host()}~{os.getpid()}"
    for _ in range(3):
        try:
            fd = os.open(lock, _EXCL, 0o666)
        except FileExistsError:
            try:
                holder = lock.read_text(errors="replace").strip()
            except FileNotFoundError:
                continue  # released meanwhile
            host, _, pid = holder.partition("~")
            if host == _host() and pid.isdigit() and not _alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
                continue
            raise BlockingIOError(
                f"{what} is under way in another process ({holder or 'unknown'}); "
                f"wait for it, or delete {lock} if no such process runs"
            ) from None
        with os.fdopen(fd, "w") as f:
            f.write(me)
        break
    else:
        raise BlockingIOError(f"{what}: cannot take the lock {lock}")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def claim(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` empty if nothing is there (``O_EXCL``): True if this
    call made it, False if it already existed. Two runs choosing default
    output names claim different files; the writer then replaces the
    empty placeholder."""
    try:
        os.close(os.open(path, _EXCL, 0o666))
    except FileExistsError:
        return False
    return True


def check_writable_folder(folder: str | os.PathLike[str]) -> None:
    """``OSError`` unless a file can be created in ``folder`` (exists, is a
    folder, and is writable, as the kernel sees it: a probe file is made and
    removed). Also cleans stale temporary files there."""
    fd, tmp = _create_temp(Path(folder) / "probe")
    os.close(fd)
    os.unlink(tmp)


#: The way out when the cache folder cannot be written.
CACHE_ADVICE = "set INCEPTIONISM_HOME to a folder you can write"


def make_folder(folder: str | os.PathLike[str], way_out: str = CACHE_ADVICE) -> Path:
    """``folder``, created with its parents if missing and checked writable;
    else ``ValueError`` in one sentence ending with ``way_out`` (a raw
    ``[Errno 2] No such file or directory`` named neither the folder's role
    nor what to do)."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        check_writable_folder(path)
    except OSError as exc:
        raise ValueError(
            f"cannot write in the folder {path} ({exc.strerror or exc}); {way_out}"
        ) from None
    return path


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
