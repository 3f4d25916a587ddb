"""The CUDA sources compile: with nvcc (as .ci/run does) and for the host.

A syntax or type error in ``kernels/cuda/*.cu`` fails the test suite on any
machine with nvcc (skipped without it), not only on a GPU, where CuPy would
compile the file at run time. The host build (the emulator of
:mod:`tests.kernels.cuda_host`, ``-Wall -Werror``) also checks that every
kernel the launchers in ``kernels/cuda_ops.py`` name exists, with float32 and
float64 variants. Where libnvrtc is found (a CUDA toolkit, or NVIDIA's
``nvidia-cuda-nvrtc`` wheel that CuPy uses), NVRTC itself compiles each file
with CuPy's options, as ``cupy.RawModule`` does on the GPU machine: it has no
standard headers, which nvcc's checks cannot show.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from inceptionism.kernels import backend
from tests.kernels import cuda_host

SOURCES = sorted(backend.CUDA_DIR.glob("*.cu"))
NVCC = shutil.which("nvcc")
#: What .ci/run runs for each source.
CI_FLAGS = ["-std=c++14", "-arch=sm_90", "-c"]
#: Here device code only (what CuPy's NVRTC compiles; twice as fast as -c).
NVCC_FLAGS = ["-std=c++14", "-arch=sm_90", "--ptx"]


def test_there_are_cuda_sources():
    assert {p.name for p in SOURCES} >= {"pool.cu", "lrn.cu", "im2col.cu", "relu.cu"}


def test_ci_compile_checks_the_sources_with_the_same_flags():
    ci = (Path(__file__).parents[2] / ".ci" / "run").read_text()
    assert "kernels/cuda/*.cu" in ci
    assert f"nvcc {' '.join(CI_FLAGS)}" in ci


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed")
@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_nvcc_compiles(source, tmp_path):
    done = subprocess.run(
        [NVCC, *NVCC_FLAGS, str(source), "-o", str(tmp_path / "out.ptx")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"nvcc failed on {source.name}:\n{done.stderr}"


def _launched_names():
    """``(file, kernel)`` for every ``_launch("file.cu", "kernel", ...)``."""
    text = (backend.CUDA_DIR.parent / "cuda_ops.py").read_text()
    return sorted(set(re.findall(r'_launch\(\s*"(\w+\.cu)",\s*"(\w+)"', text)))


@pytest.mark.skipif(cuda_host.CXX is None, reason="no host C++ compiler")
@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_host_build_has_every_launched_kernel(source):
    module = cuda_host.host_module(source.name)
    wanted = [name for f, name in _launched_names() if f == source.name]
    assert wanted, f"kernels/cuda_ops.py launches nothing from {source.name}"
    for name in wanted:
        for suffix in ("f32", "f64"):
            module.get_function(f"{name}_{suffix}")


# -- NVRTC, the compiler CuPy runs on the GPU machine ---------------------------


def _nvrtc_library():
    """libnvrtc from the system or from NVIDIA's pip wheels
    (``nvidia-cuda-nvrtc``, which CuPy uses); None if neither is here."""
    import ctypes
    import ctypes.util
    import importlib.util

    names = [ctypes.util.find_library("nvrtc")]
    spec = importlib.util.find_spec("nvidia")
    for root in spec.submodule_search_locations if spec else ():
        names += sorted(str(p) for p in Path(root).glob("*/lib/libnvrtc.so*"))
    for name in filter(None, names):
        if "builtins" in name or ".alt." in name:
            continue
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


#: What ``backend.cuda_module`` asks for plus what CuPy 13/14's
#: ``compile_using_nvrtc`` adds on an H200 (sm_90).
NVRTC_OPTIONS = ["--std=c++14", "-arch=compute_90",
                 "--device-as-default-execution-space", "-ftz=true"]  # fmt: skip


def nvrtc_ptx(lib, source: Path) -> str:
    """``source`` compiled by NVRTC to PTX; AssertionError with its log."""
    import ctypes

    prog = ctypes.c_void_p()
    code = source.read_bytes()
    assert lib.nvrtcCreateProgram(
        ctypes.byref(prog), code, source.name.encode(), 0, None, None) == 0  # fmt: skip
    try:
        opts = [o.encode() for o in NVRTC_OPTIONS]
        status = lib.nvrtcCompileProgram(
            prog, len(opts), (ctypes.c_char_p * len(opts))(*opts)
        )
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        assert status == 0, f"NVRTC failed on {source.name}:\n{log.value.decode()}"
        lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
        ptx = ctypes.create_string_buffer(size.value)
        assert lib.nvrtcGetPTX(prog, ptx) == 0
        return ptx.value.decode()
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_nvrtc_compiles_with_cupys_options(source):
    """What ``cupy.RawModule`` does at the first launch: NVRTC (no standard
    headers, CuPy's extra flags), and every launched kernel an unmangled
    entry point that ``get_function`` can find."""
    lib = _nvrtc_library()
    if lib is None:
        pytest.skip("libnvrtc not found (pip install nvidia-cuda-nvrtc-cu12)")
    ptx = nvrtc_ptx(lib, source)
    entries = set(re.findall(r"\.entry\s+(\w+)", ptx))
    for f, name in _launched_names():
        if f == source.name:
            assert {f"{name}_f32", f"{name}_f64"} <= entries, sorted(entries)
