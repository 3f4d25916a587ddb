"""The CUDA sources compile: with nvcc (as .ci/run does) and for the host.

A syntax or type error in ``kernels/cuda/*.cu`` fails the test suite on any
machine with nvcc (skipped without it), not only on a GPU, where CuPy would
compile the file at run time. The host build (the emulator of
:mod:`tests.kernels.cuda_host`, ``-Wall -Werror``) also checks that every
kernel the launchers in ``kernels/cuda_ops.py`` name exists, with float32 and
float64 variants.
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
