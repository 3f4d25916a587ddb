"""Read an untrusted HDF5 file in a child process first, under a time limit.

libhdf5 can loop forever on a corrupt file (9 bytes inserted into a weight
file's global heap make reading the root ``format`` attribute spin at 100%
CPU), and h5py holds the GIL inside the C call, so neither a timeout nor
Ctrl-C can stop it in the process that made the call. So
:func:`check_in_child` runs the whole read in a child interpreter
(``python -c``) with a timeout: a file that hangs or crashes libhdf5 there is
refused with one line, and the parent, waiting in ``subprocess.run``, stays
interruptible (Ctrl-C kills the child and raises ``KeyboardInterrupt``).

A file that passed is remembered by ``(device, inode, size, mtime, ctime)``,
in this process and, when the cache directory exists, in its ``checked-hdf5``
(the last 256 files), so the check costs one child (about 0.4 s) per file,
not per load. Rewriting or replacing a file changes its key.

The limit is ``30 s + 1 s per 20 MB`` of file, or ``$INCEPTIONISM_HDF5_TIMEOUT``
seconds: generous, because a busy machine (Dask workers starting together
on two cores) made a 5 s base refuse good files; a hanging file still
fails within a minute.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

from inceptionism.weights.errors import WeightsFileError

#: Exit status of the child for a file the reader refused (message on stdout).
REFUSED = 3
_CHECKED: set[str] = set()
_CACHE_NAME = "checked-hdf5"
_CACHE_LINES = 256


def timeout_s(size: int) -> float:
    env = os.environ.get("INCEPTIONISM_HDF5_TIMEOUT")
    if env:
        return float(env)
    return 30.0 + size / 20e6


def _key(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _cache_file():
    from inceptionism.weights import cache_dir  # weights/__init__ imports us

    return cache_dir() / _CACHE_NAME


def _known(key: str) -> bool:
    if key in _CHECKED:
        return True
    with contextlib.suppress(OSError, UnicodeError):
        if key in _cache_file().read_text("utf-8").split():
            _CHECKED.add(key)
            return True
    return False


def _remember(key: str) -> None:
    _CHECKED.add(key)
    with contextlib.suppress(OSError, UnicodeError):
        path = _cache_file()
        if not path.parent.is_dir():  # not worth creating the cache for
            return
        try:
            lines = path.read_text("utf-8").split()
        except FileNotFoundError:
            lines = []
        lines = [*lines[-(_CACHE_LINES - 1) :], key]
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text("\n".join(lines) + "\n", "utf-8")
        os.replace(tmp, path)


def check_in_child(path: str | os.PathLike, reader: str, advice: str) -> None:
    """Run ``reader`` (``"module:function"``, taking the path and raising
    :class:`WeightsFileError` on a bad file) on ``path`` in a child process.

    Returns when the child read the file (or could not start: then the
    caller's own read decides); raises :class:`WeightsFileError` naming the
    file when the reader refused it, libhdf5 crashed, or it did not finish
    in time. ``advice`` ends the message (what the user should do).
    """
    st = os.stat(path)
    key = _key(st)
    if _known(key):
        return
    module, func = reader.split(":")
    code = (
        "import sys\n"
        f"from {module} import {func} as read\n"
        "from inceptionism.weights.errors import WeightsFileError\n"
        "try:\n"
        "    read(sys.argv[1])\n"
        "except WeightsFileError as exc:\n"
        "    print(exc)\n"
        f"    sys.exit({REFUSED})\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    limit = timeout_s(st.st_size)
    where = os.fspath(path)
    try:
        r = subprocess.run(
            [sys.executable, "-c", code, where],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=limit,
            env=env,
        )
    except subprocess.TimeoutExpired:  # run() has killed the child
        raise WeightsFileError(
            f"{where}: libhdf5 did not finish reading it in {limit:.0f} s (a "
            f"corrupt file can make it loop forever); {advice}"
        ) from None
    except OSError:  # no child could be started: fall back to the plain read
        return
    if r.returncode == 0:
        _remember(key)
    elif r.returncode == REFUSED:
        lines = r.stdout.strip().splitlines()
        raise WeightsFileError(lines[-1] if lines else f"{where}: refused; {advice}")
    elif r.returncode < 0:
        raise WeightsFileError(
            f"{where}: libhdf5 crashed reading it (signal {-r.returncode}); {advice}"
        )
    # another status: the child itself failed (not the file); the caller's
    # own read reports whatever is wrong


__all__ = ["check_in_child", "timeout_s"]
