"""Every built-in gives the same result on CuPy as on NumPy (GPU only)."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.kernels.backend import to_numpy
from inceptionism.plugins.base import StepState
from inceptionism.plugins.objectives import (
    Channel,
    ClassLogit,
    DeepDream,
    Guide,
    Neuron,
    layers,
)
from inceptionism.plugins.priors import Clip, Decorrelate, Jitter, LapNorm, Smooth
from inceptionism.plugins.regularizers import L1Decay, L2Decay, TotalVariation
from tests.tolerances import tol

pytestmark = pytest.mark.gpu

A, B = "inception_3b/output", "inception_4c/output"


def state(xp, seed=0):
    return StepState(0, 1, 0, 1, np.random.default_rng(seed),
                     xp.asarray([104.0, 116.0, 122.0]), 255.0)  # fmt: skip


class Net:
    def __init__(self, xp, w, b):
        self.xp = xp
        fc = {"weight": xp.asarray(w), "bias": xp.asarray(b)}
        self.params = {"loss3/classifier": fc}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_objectives_agree(rng, dtype):
    cp = pytest.importorskip("cupy")
    blobs = {
        A: rng.standard_normal((1, 4, 5, 6)).astype(dtype),
        B: rng.standard_normal((1, 6, 3, 3)).astype(dtype),
        "pool5/7x7_s1": rng.standard_normal((1, 8, 2, 3)).astype(dtype),
    }
    w, b = rng.standard_normal((5, 8)), rng.standard_normal(5)
    guide = rng.standard_normal((4, 7)).astype(dtype)
    for make in [
        lambda: DeepDream(A),
        lambda: Channel(B, 2),
        lambda: Neuron(A, 1),
        lambda: Guide.from_features(A, guide),
        lambda: ClassLogit(3),
        lambda: layers(f"{A},{B}") - 0.5 * Channel(A, 0),
    ]:
        results = []
        for xp in (np, cp):
            obj = make()
            net = Net(xp, w, b)
            obj.bind(net)
            results.append(obj({k: xp.asarray(v) for k, v in blobs.items()}))
        (v0, g0), (v1, g1) = results
        assert isinstance(v1, cp.ndarray) and v1.shape == ()  # stays on the GPU
        assert float(v1) == pytest.approx(float(v0), rel=tol(dtype)["rtol"])
        for name in g0:
            assert isinstance(g1[name], cp.ndarray) and g1[name].dtype == dtype
            np.testing.assert_allclose(to_numpy(g1[name]), g0[name], **tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regularizers_and_priors_agree(rng, dtype):
    cp = pytest.importorskip("cupy")
    x = (rng.standard_normal((1, 3, 13, 10)) * 100).astype(dtype)
    for reg in (TotalVariation(), L2Decay(), L1Decay()):
        (v0, g0), (v1, g1) = reg(x), reg(cp.asarray(x))
        assert isinstance(v1, cp.ndarray) and v1.shape == ()  # stays on the GPU
        assert float(v1) == pytest.approx(float(v0), rel=tol(dtype)["rtol"])
        np.testing.assert_allclose(to_numpy(g1), g0, **tol(dtype))
    for prior in (Jitter(4), Clip(), Smooth(1.5), LapNorm(3), Decorrelate()):
        outs = []
        for xp in (np, cp):
            s, v = state(xp), xp.asarray(x)
            out = prior.after_step(prior.grad(prior.before_step(v, s), s), s)
            assert type(out) is type(v) and out.dtype == dtype
            outs.append(to_numpy(out))
        np.testing.assert_allclose(outs[1], outs[0], **tol(dtype))
