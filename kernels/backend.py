"""Array backend: NumPy everywhere, CuPy on NVIDIA GPUs.

This is the only module in the project that imports :mod:`cupy`; the import is
guarded so that the package imports and works without it. Kernel code is
written once against ``xp = get_array_module(x)``.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

#: Why CuPy did not load when it is installed (a CUDA library missing, a
#: warning made an error...), one line; None when it loaded or is absent.
_cupy_error: str | None = None


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


try:  # pragma: no cover - depends on the machine
    import cupy as _cupy
except ModuleNotFoundError as exc:  # not installed, or a module it needs
    _cupy = None
    if exc.name != "cupy":
        _cupy_error = _one_line(exc)
except Exception as exc:  # installed, but a CUDA library fails to load
    _cupy = None
    _cupy_error = _one_line(exc)

CUDA_DIR = Path(__file__).with_name("cuda")

#: Set ``INCEPTIONISM_CUSTOM_KERNELS=0`` (or call :func:`set_custom_kernels`)
#: to run every op through the plain ``xp`` code even on a GPU.
_custom_kernels = os.environ.get("INCEPTIONISM_CUSTOM_KERNELS", "1") != "0"


class DeviceUnavailableError(RuntimeError):
    """Raised when ``device="cuda"`` is asked for but cannot be used."""


def get_array_module(x: Any):
    """Return :mod:`cupy` for CuPy arrays and :mod:`numpy` for anything else."""
    if _cupy is not None and isinstance(x, _cupy.ndarray):
        return _cupy
    return np


def is_cupy(x: Any) -> bool:
    return _cupy is not None and isinstance(x, _cupy.ndarray)


@functools.lru_cache(maxsize=1)
def gpu_available() -> bool:
    """True when CuPy imports and at least one CUDA device answers."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def require_gpu() -> None:
    """Raise :class:`DeviceUnavailableError` with one clear sentence."""
    if _cupy is None and _cupy_error is not None:
        raise DeviceUnavailableError(
            f"device 'cuda': CuPy is installed but does not load ({_cupy_error}); "
            "check the CUDA libraries it needs, or use --device cpu"
        )
    if _cupy is None:
        raise DeviceUnavailableError(
            "device 'cuda' needs CuPy: install it with "
            "`pip install 'inceptionism[cuda]'`, or use --device cpu"
        )
    if not gpu_available():
        raise DeviceUnavailableError(
            "device 'cuda' asked for, but CuPy finds no usable NVIDIA GPU "
            "(check the driver and CUDA_VISIBLE_DEVICES), or use --device cpu"
        )


def is_out_of_memory(exc: BaseException) -> bool:
    """True if ``exc`` means the GPU ran out of memory: CuPy's memory-pool
    ``OutOfMemoryError``, or a raw ``cudaErrorMemoryAllocation`` (status 2,
    e.g. from a cuBLAS workspace). Always False without CuPy."""
    if _cupy is None:
        return False
    if isinstance(exc, _cupy.cuda.memory.OutOfMemoryError):
        return True
    runtime_error = getattr(_cupy.cuda.runtime, "CUDARuntimeError", None)
    return (
        isinstance(runtime_error, type)
        and isinstance(exc, runtime_error)
        and getattr(exc, "status", None) == 2
    )


def xp_for_device(device: str):
    """The array module for ``"cpu"`` or ``"cuda"``."""
    if device == "cpu":
        return np
    if device == "cuda":
        require_gpu()
        return _cupy
    raise ValueError(f"unknown device {device!r}: use 'cpu' or 'cuda'")


def to_device(a, device: str):
    """Copy a host or device array to ``device`` (no copy if already there)."""
    xp = xp_for_device(device)
    return xp.asarray(a)


def to_numpy(a) -> np.ndarray:
    """Bring an array back to the host as a NumPy array."""
    if is_cupy(a):
        return _cupy.asnumpy(a)
    return np.asarray(a)


def custom_kernels_enabled() -> bool:
    """Whether hand-written CUDA kernels replace the ``xp`` code on the GPU."""
    return _custom_kernels


def set_custom_kernels(enabled: bool) -> None:
    """The one switch that turns the CUDA kernels on or off."""
    global _custom_kernels
    _custom_kernels = bool(enabled)


@contextlib.contextmanager
def custom_kernels(enabled: bool):
    """Set the switch for a ``with`` block, then put back what it was."""
    before = _custom_kernels
    set_custom_kernels(enabled)
    try:
        yield
    finally:
        set_custom_kernels(before)


@functools.cache
def cuda_module(filename: str, options: tuple[str, ...] = ()):
    """Compile (once) and return a ``cupy.RawModule`` from ``kernels/cuda/``."""
    require_gpu()
    source = (CUDA_DIR / filename).read_text()
    return _cupy.RawModule(code=source, options=("--std=c++14", *options))
