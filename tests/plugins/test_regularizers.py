"""Built-in regularizers: values against direct formulas, gradients against
float64 finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.plugins.regularizers import L1Decay, L2Decay, TotalVariation
from tests.gradcheck import numerical_grad
from tests.tolerances import tol


def tv_reference(x):
    """Squared neighbour differences, pixel by pixel."""
    n, c, h, w = x.shape
    total = 0.0
    for idx in np.ndindex(n, c, h, w):
        i, j = idx[2:]
        if i + 1 < h:
            total += (x[idx[0], idx[1], i + 1, j] - x[idx]) ** 2
        if j + 1 < w:
            total += (x[idx[0], idx[1], i, j + 1] - x[idx]) ** 2
    return total


SHAPES = [(1, 3, 4, 5), (1, 3, 1, 6), (2, 1, 3, 2)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize(
    "reg, reference",
    [
        (TotalVariation(), tv_reference),
        (L2Decay(), lambda x: 0.5 * np.sum(x**2)),
        (L1Decay(), lambda x: np.sum(np.abs(x))),
    ],
    ids=["tv", "l2", "l1"],
)
def test_value_and_gradient(reg, reference, shape, rng):
    # Away from 0 (L1's kink): |x| >= 0.25 with random signs. Within a smooth
    # piece every penalty is at most quadratic, so central differences are
    # exact up to rounding; a step of 1/8 cannot cross 0.
    x = rng.uniform(0.25, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    value, g = reg(x)
    assert type(value) is np.ndarray and value.shape == () and value.dtype == x.dtype
    assert value == pytest.approx(reference(x), rel=1e-12)
    assert g.shape == x.shape and g.dtype == x.dtype
    num = numerical_grad(lambda xs: reg(xs)[0], x, None, 0.125)
    np.testing.assert_allclose(g, num, **tol(np.float64))


def test_tv_is_zero_on_constant_images_and_gradient_sums_to_zero(rng):
    value, g = TotalVariation()(np.full((1, 3, 4, 4), 7.0))
    assert value == 0.0 and not g.any()
    _, g = TotalVariation()(rng.standard_normal((1, 3, 6, 5)))
    # shifting the whole image changes no difference
    np.testing.assert_allclose(g.sum(axis=(2, 3)), 0.0, atol=1e-12)


def test_weight_is_kept_apart_from_the_penalty(rng):
    x = rng.standard_normal((1, 3, 2, 2))
    heavy, light = L2Decay("0.5"), L2Decay()
    assert heavy.weight == 0.5 and light.weight == 1.0
    assert heavy(x)[0] == light(x)[0]  # the loop applies the weight
    assert repr(TotalVariation("0.01")) == "tv:0.01"


@pytest.mark.parametrize("bad, msg", [("abc", "must be a number"), ("-1", ">= 0")])
def test_bad_weight(bad, msg):
    with pytest.raises(ValueError, match=msg):
        TotalVariation(bad)
