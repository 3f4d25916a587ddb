"""``--device cuda`` where it cannot run, and GPU out-of-memory, on a CPU.

Without CuPy, or with CuPy but no GPU, ``--device cuda`` must fail with the
one sentence of ``backend.require_gpu``; an out-of-memory error during a dream
must become one line suggesting a smaller ``--max-size``. The GPU and CuPy's
error class are simulated (``backend._cupy`` replaced), so these run anywhere.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest

from inceptionism.engine import Net
from inceptionism.engine.cli import main
from inceptionism.kernels import backend

#: The module (``inceptionism.engine.dream`` the attribute is the function).
dream = importlib.import_module("inceptionism.engine.dream")
FAST = ["--layer", "conv2/3x3", "--octaves", "1", "--steps", "2", "--seed", "4"]


def one_error_line(capsys, *argv) -> str:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc != 0 and out == ""
    assert len(lines) == 1 and lines[0].startswith("inceptionism: error: "), err
    return lines[0].removeprefix("inceptionism: error: ")


def require_gpu_sentence() -> str:
    with pytest.raises(backend.DeviceUnavailableError) as info:
        backend.require_gpu()
    return str(info.value)


# -- --device cuda where it cannot run -------------------------------------------


@pytest.mark.parametrize("command", ["dream", "zoom"])
def test_device_cuda_without_a_gpu_is_one_sentence(
    command, capsys, googlenet_h5, picture, tmp_path
):
    if backend.gpu_available():
        pytest.skip("a GPU is available here")
    sentence = require_gpu_sentence()
    if backend._cupy is not None:
        assert "no usable NVIDIA GPU" in sentence
    line = one_error_line(
        capsys, command, picture, "-o", tmp_path / "out.png",
        "--weights", googlenet_h5, "--device", "cuda", *FAST,
    )  # fmt: skip
    assert line == sentence
    assert "--device cpu" in line and "\n" not in line
    assert not (tmp_path / "out.png").exists()


def test_device_cuda_without_cupy_is_one_sentence(
    capsys, googlenet_h5, picture, tmp_path, monkeypatch
):
    monkeypatch.setattr(backend, "_cupy", None)
    sentence = require_gpu_sentence()
    assert "needs CuPy" in sentence and "--device cpu" in sentence
    line = one_error_line(
        capsys, "dream", picture, "-o", tmp_path / "out.png",
        "--weights", googlenet_h5, "--device", "cuda", *FAST,
    )  # fmt: skip
    assert line == sentence


def test_net_on_cuda_without_cupy_raises_the_sentence(googlenet, monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)
    with pytest.raises(backend.DeviceUnavailableError, match="needs CuPy"):
        Net(googlenet, device="cuda")


# -- out of memory -----------------------------------------------------------------


class FakeOutOfMemoryError(MemoryError):
    """Stands in for ``cupy.cuda.memory.OutOfMemoryError``."""


class FakeRuntimeError(RuntimeError):
    def __init__(self, status):
        super().__init__(f"CUDA status {status}")
        self.status = status


class FakeArray:
    """No array is ever a fake CuPy array."""


@pytest.fixture
def fake_cupy(monkeypatch):
    fake = SimpleNamespace(
        ndarray=FakeArray,
        cuda=SimpleNamespace(
            memory=SimpleNamespace(OutOfMemoryError=FakeOutOfMemoryError),
            runtime=SimpleNamespace(CUDARuntimeError=FakeRuntimeError),
        ),
    )
    monkeypatch.setattr(backend, "_cupy", fake)
    return fake


def test_is_out_of_memory_recognises_cupy_errors_only(fake_cupy):
    assert backend.is_out_of_memory(FakeOutOfMemoryError("pool"))
    assert backend.is_out_of_memory(FakeRuntimeError(2))  # cudaErrorMemoryAllocation
    assert not backend.is_out_of_memory(FakeRuntimeError(700))
    assert not backend.is_out_of_memory(MemoryError("host"))
    assert not backend.is_out_of_memory(ValueError("x"))


def test_is_out_of_memory_false_without_cupy(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)
    assert not backend.is_out_of_memory(FakeOutOfMemoryError("pool"))


def test_is_out_of_memory_with_real_cupy_class():
    cupy = pytest.importorskip("cupy")
    if backend._cupy is None:
        pytest.skip("CuPy does not load here")
    error = cupy.cuda.memory.OutOfMemoryError(1 << 40, 0, 0)
    assert backend.is_out_of_memory(error)


@pytest.mark.parametrize("command", ["dream", "zoom"])
def test_out_of_memory_during_dream_suggests_max_size(
    command, capsys, googlenet_h5, picture, tmp_path, monkeypatch, fake_cupy
):
    calls = []

    def exhausted(*args, **kwargs):
        calls.append(1)
        raise FakeOutOfMemoryError("Out of memory allocating 1,073,741,824 bytes")

    monkeypatch.setattr(dream, "make_step", exhausted)
    out = tmp_path / ("out.png" if command == "dream" else "frames")
    line = one_error_line(
        capsys, command, picture, "-o", out, "--weights", googlenet_h5, *FAST
    )
    assert calls, "the dream never ran"
    assert "out of memory" in line and "--max-size" in line
    assert "56x40" in line  # the size that did not fit (width x height)
    assert not out.exists() or not any(out.iterdir())


def test_other_errors_are_not_called_out_of_memory(
    capsys, googlenet_h5, picture, tmp_path, monkeypatch, fake_cupy
):
    def broken(*args, **kwargs):
        raise MemoryError("host allocation failed")

    monkeypatch.setattr(dream, "make_step", broken)
    line = one_error_line(
        capsys, "dream", picture, "-o", tmp_path / "o.png", "--weights", googlenet_h5,
        *FAST,
    )  # fmt: skip
    # host memory is not the GPU's: the host hint (issue 11), not the GPU one
    assert "GPU" not in line and "--device cpu" not in line
    assert line.startswith("memory ran out while dreaming") and "--memory" in line


# -- free GPU memory, as preflight and the tiling budget see it --------------------


class FakePool:
    """CuPy's ``MemoryPool`` accounting: ``used`` + ``free`` bytes held."""

    def __init__(self, used: int, free: int, limit: int):
        self.used, self.free, self.limit = used, free, limit

    def used_bytes(self):
        return self.used

    def free_bytes(self):
        return self.free

    def get_limit(self):
        return self.limit


def fake_device_memory(monkeypatch, device_free: int, pool: FakePool) -> None:
    """``import cupy`` inside ``available_memory`` finds this device."""
    import sys

    fake = SimpleNamespace(
        cuda=SimpleNamespace(
            Device=lambda: SimpleNamespace(mem_info=(device_free, 141 * 2**30))
        ),
        get_default_memory_pool=lambda: pool,
    )
    monkeypatch.setitem(sys.modules, "cupy", fake)


def test_available_gpu_memory_is_the_device_free_plus_the_pool_free(monkeypatch):
    from inceptionism.engine import preflight

    fake_device_memory(monkeypatch, 100 * 2**30, FakePool(3 * 2**30, 2**30, 0))
    assert preflight.available_memory("cuda") == 101 * 2**30


def test_available_gpu_memory_respects_the_pool_limit(monkeypatch):
    """``CUPY_GPU_MEMORY_LIMIT=4GB`` on a 141 GB card: the pool refuses past
    4 GB, so preflight and the tiling budget must not count the card's
    100 GB free (they did: no tiles, then CuPy's error mid-dream)."""
    from inceptionism.engine import preflight

    fake_device_memory(monkeypatch, 100 * 2**30, FakePool(3 * 2**30, 2**30, 4 * 2**30))
    assert preflight.available_memory("cuda") == 2**30  # limit - used
    fake_device_memory(monkeypatch, 100 * 2**30, FakePool(5 * 2**30, 0, 4 * 2**30))
    assert preflight.available_memory("cuda") == 0


@pytest.mark.gpu
def test_a_real_cupy_out_of_memory_becomes_the_one_line(googlenet):
    """Issue 14 item 5 with CuPy's own error: a forward pass under a pool
    limit of 4 MB more than what is in use. The free memory preflight sees
    is the limit's, and the error becomes the out-of-memory sentence."""
    import cupy
    import numpy as np

    from inceptionism.engine import preflight
    from inceptionism.engine.cli.dream_cmd import _dream_quietly

    pool = cupy.get_default_memory_pool()
    before = pool.get_limit()
    net = Net(googlenet, device="cuda")
    x = net.preprocess(np.zeros((512, 512, 3), np.float32))
    pool.free_all_blocks()
    pool.set_limit(size=pool.used_bytes() + 4 * 2**20)
    try:
        assert preflight.available_memory("cuda") <= 4 * 2**20
        with pytest.raises(RuntimeError, match="GPU ran out of memory") as info:
            _dream_quietly(
                lambda: net.forward(x, end="inception_4c/output"), (512, 512)
            )
    finally:
        pool.set_limit(size=before)
    assert isinstance(info.value.__cause__, cupy.cuda.memory.OutOfMemoryError)
    assert "512x512" in str(info.value) and "--device cpu" in str(info.value)


def test_cupy_that_does_not_load_is_named_not_called_missing(
    capsys, googlenet_h5, picture, tmp_path, monkeypatch
):
    """CuPy installed but failing at import (a CUDA library, or a warning
    made an error) used to read as 'needs CuPy: install it'."""
    monkeypatch.setattr(backend, "_cupy", None)
    error = "ImportError: libcublas.so.13: cannot open shared object file"
    monkeypatch.setattr(backend, "_cupy_error", error)
    sentence = require_gpu_sentence()
    assert "installed but does not load" in sentence and error in sentence
    assert "install it with" not in sentence and "--device cpu" in sentence
    line = one_error_line(
        capsys, "dream", picture, "-o", tmp_path / "out.png",
        "--weights", googlenet_h5, "--device", "cuda", *FAST,
    )  # fmt: skip
    assert line == sentence
