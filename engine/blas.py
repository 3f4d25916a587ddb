"""The CPU BLAS's thread count and kernels, which a dream's last bits depend
on (issue 12: the same seed gives the same picture on any machine).

OpenBLAS splits a GEMM differently with another thread count and picks its
kernels by CPU (``OPENBLAS_CORETYPE``), and either can change the last bits
of a step (and, rarely, after 40 steps, one 8-bit level). So every CPU
recipe records ``{"threads": N, "core": NAME}`` (:func:`describe`), and
rendering a recipe runs with the BLAS pinned to its recorded thread count
(:func:`pinned`; a no-op for a fresh dream, which recorded the count it
runs with). A different kernel cannot be switched at run time: a replay on
such a machine warns and names the ``OPENBLAS_CORETYPE`` that matches.

The library is NumPy's own OpenBLAS, found among the process's mapped
libraries (Linux ``/proc/self/maps``) and driven through its C API with
ctypes (what ``threadpoolctl`` does, without the dependency). Elsewhere, or
with another BLAS, nothing is recorded or pinned.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Symbol prefixes/suffixes of OpenBLAS builds: NumPy's wheels ship
#: ``scipy_openblas64_`` (ILP64), distributions plain ``openblas``.
_NAMES = (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", ""))


@functools.lru_cache(maxsize=1)
def _openblas() -> tuple[Any, str, str] | None:
    """``(library, prefix, suffix)`` of the OpenBLAS NumPy loaded, or None."""
    import numpy  # noqa: F401 - loads the BLAS

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for path in dict.fromkeys(re.findall(r"(/\S*openblas\S*\.so\S*)", maps)):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in _NAMES:
            if hasattr(lib, f"{prefix}_get_num_threads{suffix}"):
                return lib, prefix, suffix
    return None


def _call(name: str, *args: Any, restype: Any = ctypes.c_int) -> Any:
    found = _openblas()
    if found is None:
        return None
    lib, prefix, suffix = found
    fn = getattr(lib, f"{prefix}_{name}{suffix}", None)
    if fn is None:
        return None
    fn.restype = restype
    return fn(*args)


def threads() -> int | None:
    """The BLAS's thread count now; None when it is not OpenBLAS."""
    n = _call("get_num_threads")
    return None if n is None else int(n)


def core() -> str | None:
    """The CPU kernels OpenBLAS chose (e.g. ``Haswell``); None if unknown."""
    name = _call("get_corename", restype=ctypes.c_char_p)
    return name.decode() if name else None


def describe() -> dict[str, Any] | None:
    """``{"threads": N, "core": NAME}`` for a recipe, None without OpenBLAS."""
    n = threads()
    return None if n is None else {"threads": n, "core": core()}


def set_threads(n: int) -> None:
    """Set the BLAS's thread count (no-op without OpenBLAS)."""
    _call("set_num_threads", ctypes.c_int(int(n)), restype=None)


@contextlib.contextmanager
def pinned(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` BLAS threads, then restore the count (None:
    leave it as it is)."""
    before = threads()
    if n is None or before is None or n == before:
        yield
        return
    set_threads(n)
    try:
        yield
    finally:
        set_threads(before)
