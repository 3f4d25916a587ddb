"""Feature-visualisation plugins give the same results on CuPy as on NumPy
(GPU only)."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.kernels.backend import to_numpy
from inceptionism.plugins.fvis import Direction, Diversity, Masked
from inceptionism.plugins.objectives import DeepDream
from inceptionism.plugins.params import FFT, step
from inceptionism.plugins.transforms import Warp
from tests.tolerances import tol

pytestmark = pytest.mark.gpu
L = "inception_4c/output"


def test_fft_parameterisation_agrees(rng):
    cp = pytest.importorskip("cupy")
    mean = np.array([104.0, 117.0, 123.0])
    x = rng.uniform(20, 235, (1, 3, 9, 11)) - mean.reshape(-1, 1, 1)
    g = rng.standard_normal(x.shape)
    out = []
    for xp in (np, cp):
        f = FFT()
        f.bind(xp.asarray(mean), 255.0)
        p = f.from_image(xp.asarray(x))
        out.append([f.to_image(p), f.backward(p, xp.asarray(g)),
                    step(f, xp.asarray(x), xp.asarray(g), 1.5)])  # fmt: skip
    for a, b in zip(*out, strict=True):
        assert isinstance(b, cp.ndarray)
        np.testing.assert_allclose(to_numpy(b), a, rtol=1e-9, atol=1e-9)


def test_warp_agrees(rng):
    cp = pytest.importorskip("cupy")
    w = Warp((9, 11), (1, -2), 1.05, 7.0, (0, 1))
    x, y = rng.standard_normal((2, 3, 9, 11)), rng.standard_normal((2, 3, 9, 11))
    np.testing.assert_allclose(
        to_numpy(w.apply(cp.asarray(x), 0.5)), w.apply(x, 0.5), **tol(np.float64)
    )
    np.testing.assert_allclose(
        to_numpy(w.adjoint(cp.asarray(y))), w.adjoint(y), **tol(np.float64)
    )


def test_objectives_agree(rng):
    cp = pytest.importorskip("cupy")
    a = rng.standard_normal((3, 4, 5, 6))
    for obj in (
        Direction(L, "1,2,-1,0.5"),
        Diversity(L),
        Masked(DeepDream(L), mask=rng.uniform(0, 1, (10, 12))),
    ):
        v0, g0 = obj({L: a})
        v1, g1 = obj({L: cp.asarray(a)})
        assert float(v1) == pytest.approx(float(v0), rel=1e-9)
        np.testing.assert_allclose(to_numpy(g1[L]), g0[L], rtol=1e-9, atol=1e-12)
