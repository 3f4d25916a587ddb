"""Run the CUDA kernel sources on the CPU: a host emulator for tests.

Each ``kernels/cuda/*.cu`` file is compiled *as it is* by the host C++
compiler behind a small shim (``__global__``/``__device__`` become plain
functions, ``blockIdx``/``threadIdx``/``blockDim``/``gridDim`` become globals)
into a shared library. A launch runs every (block, thread) of a small grid in
turn; the kernels are grid-stride loops in gather form (each output written by
exactly one thread, no shared memory, no atomics), so this sequential run
computes what the GPU computes, up to floating-point contraction (the device
may fuse multiply-adds; the host build does not).

The kernels' C signatures are read from the preprocessed source, and every
launch checks its arguments against them: arrays must be C-contiguous with
the pointer's element type, scalars must be NumPy scalars of the parameter's
exact type (CuPy would pass a wrongly typed scalar silently). So a wrapper in
``kernels/cuda_ops.py`` that passes a wrong type fails here, on any machine.

:func:`install` points ``cuda_ops`` at the emulator (and lets it take NumPy
arrays) for one test, through pytest's ``monkeypatch``.
"""

from __future__ import annotations

import ctypes
import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from inceptionism.kernels import backend, cuda_ops

CXX = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
#: A small grid: several blocks and threads, so each thread's grid-stride loop
#: runs several times and the loop arithmetic is exercised too.
GRID, BLOCK = 3, 5

SHIM = """
#include <math.h>
#include <cmath>
#include <algorithm>
using std::max;
using std::min;
struct HostDim3 { unsigned int x, y, z; };
static HostDim3 blockIdx, threadIdx, blockDim, gridDim;
extern "C" void host_set_launch(unsigned int b, unsigned int t,
                                unsigned int nb, unsigned int nt) {
  blockIdx.x = b; threadIdx.x = t; gridDim.x = nb; blockDim.x = nt;
  blockIdx.y = blockIdx.z = threadIdx.y = threadIdx.z = 0;
  gridDim.y = gridDim.z = blockDim.y = blockDim.z = 1;
}
#define __global__
#define __device__
#define __forceinline__ inline
#line 1 "%(name)s"
"""

_POINTERS = {"float": np.float32, "double": np.float64, "int": np.int32}
_SCALARS = {
    "int": (np.int32, ctypes.c_int),
    "long long": (np.int64, ctypes.c_longlong),
    "float": (np.float32, ctypes.c_float),
    "double": (np.float64, ctypes.c_double),
}
_KERNEL = re.compile(r'extern\s+"C"\s+void\s+(\w+)\s*\(([^)]*)\)\s*\{')

_build_dir = None


def _tmp() -> Path:
    global _build_dir
    if _build_dir is None:
        _build_dir = tempfile.TemporaryDirectory(prefix="inceptionism-cuda-host-")
    return Path(_build_dir.name)


def _param(text: str):
    """``const T* __restrict__ x`` -> ("ptr", "T"); ``long long n`` -> ("val", ..)."""
    words = text.replace("*", " * ").split()
    words = [w for w in words if w not in ("const", "__restrict__")]
    is_ptr = "*" in words
    words = [w for w in words if w != "*"]
    return ("ptr" if is_ptr else "val"), " ".join(words[:-1])


@functools.cache
def host_module(filename: str) -> HostModule:
    """Compile ``kernels/cuda/<filename>`` for the host (once per session)."""
    if CXX is None:
        raise RuntimeError("no host C++ compiler (g++, c++ or clang++) found")
    source = (backend.CUDA_DIR / filename).read_text()
    work = _tmp()
    cpp = work / f"{filename}.cpp"
    lib = work / f"{filename}.so"
    cpp.write_text(SHIM % {"name": filename} + source)
    flags = ["-std=c++14", "-O1", "-ffp-contract=off", "-Wall", "-Werror"]
    pre = subprocess.run(
        [CXX, *flags, "-E", "-P", str(cpp)], capture_output=True, text=True
    )
    if pre.returncode:
        raise RuntimeError(f"host preprocessing of {filename} failed:\n{pre.stderr}")
    build = subprocess.run(
        [CXX, *flags, "-shared", "-fPIC", "-o", str(lib), str(cpp)],
        capture_output=True,
        text=True,
    )
    if build.returncode:
        raise RuntimeError(f"host build of {filename} failed:\n{build.stderr}")
    signatures = {
        name: [_param(p) for p in params.split(",")]
        for name, params in _KERNEL.findall(pre.stdout)
    }
    return HostModule(filename, ctypes.CDLL(str(lib)), signatures)


class HostModule:
    """The host build of one ``.cu`` file; ``get_function`` as CuPy's RawModule."""

    def __init__(self, filename, lib, signatures):
        self.filename, self.lib, self.signatures = filename, lib, signatures

    def get_function(self, name: str) -> HostKernel:
        if name not in self.signatures:
            raise AttributeError(
                f"{self.filename} defines no kernel {name!r}; it has "
                f"{sorted(self.signatures)}"
            )
        return HostKernel(self.lib, name, self.signatures[name])


class HostKernel:
    """Callable like ``cupy.RawKernel``: ``kernel(grid, block, args)``."""

    def __init__(self, lib, name, signature):
        self.lib, self.name, self.signature = lib, name, signature
        self.fn = getattr(lib, name)
        self.fn.restype = None

    def _convert(self, args):
        if len(args) != len(self.signature):
            raise TypeError(
                f"{self.name}: {len(args)} arguments for {len(self.signature)} "
                "parameters"
            )
        out = []
        for i, (arg, (kind, ctype)) in enumerate(zip(args, self.signature)):
            where = f"{self.name} argument {i} ({ctype}{'*' if kind == 'ptr' else ''})"
            if kind == "ptr":
                if not isinstance(arg, np.ndarray) or arg.dtype != _POINTERS[ctype]:
                    raise TypeError(f"{where}: got {type(arg).__name__} "
                                    f"{getattr(arg, 'dtype', '')}")  # fmt: skip
                if not arg.flags.c_contiguous:
                    raise TypeError(f"{where}: array is not C-contiguous")
                out.append(ctypes.c_void_p(arg.ctypes.data))
            else:
                np_type, c_type = _SCALARS[ctype]
                if type(arg) is not np_type:
                    raise TypeError(f"{where}: got {type(arg).__name__} {arg!r}")
                out.append(c_type(arg))
        return out

    def __call__(self, grid, block, args):
        if len(grid) != 1 or len(block) != 1 or grid[0] < 1 or block[0] < 1:
            raise ValueError(f"{self.name}: bad launch {grid} x {block}")
        if block[0] > 1024:
            raise ValueError(f"{self.name}: {block[0]} threads per block > 1024")
        cargs = self._convert(args)
        for b in range(GRID):
            for t in range(BLOCK):
                self.lib.host_set_launch(b, t, GRID, BLOCK)
                self.fn(*cargs)


def _wanted_on_host(*arrays) -> bool:
    """``cuda_ops.wanted`` for NumPy arrays (the emulator's device)."""
    if not backend.custom_kernels_enabled():
        return False
    dtype = arrays[0].dtype
    return dtype in (np.float32, np.float64) and all(
        isinstance(a, np.ndarray) and a.dtype == dtype for a in arrays
    )


def install(monkeypatch) -> list:
    """Route ``cuda_ops`` launches to the host emulator; NumPy arrays take the
    custom-kernel path. Returns the list of kernel names launched, appended
    to as they run."""
    launched: list = []

    def function(filename, name):
        kernel = host_module(filename).get_function(name)

        def run(grid, block, args):
            launched.append(name.rsplit("_", 1)[0])
            kernel(grid, block, args)

        return run

    monkeypatch.setattr(cuda_ops, "_function", function)
    monkeypatch.setattr(cuda_ops, "wanted", _wanted_on_host)
    return launched
