"""The whole GoogLeNet and a dream with the device kernels against NumPy.

Three ways to run the net, each compared with the plain NumPy ``Net``:

- ``host-kernels``: on the CPU, with every op that has a CUDA kernel routed
  through the host emulator of the ``.cu`` sources
  (:mod:`tests.kernels.cuda_host`) — the dispatch hooks and both ctx variants
  end to end, on any machine;
- ``cuda-kernels`` (gpu): ``Net(model, device="cuda")``, CUDA kernels on;
- ``cuda-xp`` (gpu): the same with the custom kernels switched off (every op
  through the ``xp`` code on CuPy).

Every blob up to ``inception_5b/output`` (float64 at 97x131, normwise
relative 1e-9; float32 1e-4), input gradients for several seed sets, and one
small seeded dream (float64 net, so that no float32 near-tie in a max-pool can
send the two runs apart). CuPy leaves TF32 off unless ``CUPY_TF32=1``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from inceptionism.engine import Net, dream
from inceptionism.kernels import backend
from tests.engine.googlenet_checks import TARGETS as ALL_TARGETS
from tests.engine.googlenet_checks import (
    assert_blobs_close,
    assert_grad32_close,
    rel_err,
)
from tests.kernels import cuda_host
from tests.tolerances import tol

RUNS = [
    pytest.param(("host", True), id="host-kernels"),
    pytest.param(("cuda", True), id="cuda-kernels", marks=pytest.mark.gpu),
    pytest.param(("cuda", False), id="cuda-xp", marks=pytest.mark.gpu),
]
DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]
HW = (97, 131)  # every blob up to inception_5b non-empty
END = "inception_5b/output"
TARGETS = {k: ALL_TARGETS[k] for k in ("conv1-post-relu", "4c-output", "multi")}


class Run(NamedTuple):
    device: str
    get: object  # device array -> NumPy
    launched: list  # CUDA kernels launched (host emulator only)


@pytest.fixture(params=RUNS)
def run(request, monkeypatch):
    kind, custom = request.param
    monkeypatch.setattr(backend, "_custom_kernels", custom)
    if kind == "host":
        if cuda_host.CXX is None:
            pytest.skip("no host C++ compiler to emulate the CUDA kernels")
        return Run("cpu", np.asarray, cuda_host.install(monkeypatch))
    cp = pytest.importorskip("cupy")
    return Run("cuda", cp.asnumpy, [])


def _image(seed):
    return np.random.default_rng(seed).uniform(0, 255, (*HW, 3)).astype(np.float32)


def _nets(googlenet, run, dtype):
    """``(ours, numpy reference)`` with their inputs."""
    ref = Net(googlenet, device="cpu", dtype=dtype)
    ours = Net(googlenet, device=run.device, dtype=dtype)
    rgb = _image(1)
    return ours, ours.preprocess(rgb), ref, ref.preprocess(rgb)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_blob(googlenet, run, dtype):
    ours, x, ref, xr = _nets(googlenet, run, dtype)
    got = ours.forward(x, end=END, keep=False)
    # The NumPy reference must not take the emulated kernels too (with the
    # host emulator, every NumPy array would).
    with backend.custom_kernels(False):
        want = ref.forward(xr, end=END, keep=False)
    assert set(got) == set(want) and len(got) == 139
    if run.device == "cpu":  # the emulated kernels really ran
        assert {"im2col", "max_pool_forward", "lrn_forward"} <= set(run.launched)
    host = {k: run.get(v) for k, v in got.items()}
    assert_blobs_close(host, want, tol(dtype)["rtol"])
    assert all(got[k].dtype == dtype for k in got)


@pytest.mark.parametrize("names", TARGETS.values(), ids=TARGETS.keys())
@pytest.mark.parametrize("dtype", DTYPES)
def test_input_gradient(googlenet, run, dtype, names):
    ours, x, ref, xr = _nets(googlenet, run, dtype)
    blobs = ours.forward(x, end=names)
    dx = ours.backward({n: blobs[n] for n in names})  # L = 1/2 sum a^2
    with backend.custom_kernels(False):  # the reference: no emulated kernels
        rblobs = ref.forward(xr, end=names)
        want = ref.backward({n: rblobs[n] for n in names})
    if run.device == "cpu":
        assert {"col2im", "relu_backward"} <= set(run.launched)
    got = run.get(dx)
    assert got.shape == want.shape and got.dtype == dtype
    if dtype == np.float64:
        assert rel_err(got, want) <= tol(dtype)["rtol"]
    else:  # float32: a max-pool near-tie may route one element elsewhere
        assert_grad32_close(got, want)


def test_seeded_dream_matches_numpy(googlenet, run):
    rgb = _image(3)[:72, :96]
    kwargs = dict(objective="deepdream:inception_4c/output", octaves=2, steps=3,
                  seed=11)  # fmt: skip
    got = dream(Net(googlenet, device=run.device, dtype=np.float64), rgb, **kwargs)
    with backend.custom_kernels(False):  # the reference: no emulated kernels
        want = dream(Net(googlenet, device="cpu", dtype=np.float64), rgb, **kwargs)
    if run.device == "cpu":
        assert {"max_pool_backward", "lrn_backward"} <= set(run.launched)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    assert np.abs(want - rgb).max() > 1  # the dream changed the picture
    np.testing.assert_allclose(got, want, **tol(np.float32))
