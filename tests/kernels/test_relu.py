"""ReLU: loop reference, finite differences, PyTorch, CuPy; in-place; errors."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.kernels import relu
from tests.gradcheck import (
    assert_forward_matches,
    assert_grad_matches_fd,
    assert_matches_torch,
    assert_numpy_matches_cupy,
)

DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]
SLOPES = [pytest.param(0.0, id="slope0"), pytest.param(0.1, id="slope0.1")]
SHAPES = [
    pytest.param((2, 3, 5, 7), id="nchw_batch2"),
    pytest.param((3, 10), id="2d"),
]


def away_from_zero(shape, dtype, rng):
    x = rng.standard_normal(shape)
    return (x + np.sign(x) * 0.1).astype(dtype)  # |x| >= 0.1: no kink nearby


def loop_reference(x, slope):
    y = np.empty_like(x)
    for i in np.ndindex(x.shape):
        y[i] = x[i] if x[i] > 0 else slope * x[i]
    return y


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slope", SLOPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_matches_loop_reference(dtype, slope, shape, rng):
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[:3] = 0  # zeros included
    want = loop_reference(x, dtype(slope))
    assert_forward_matches(relu, x, (relu.Params(slope),), want)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slope", SLOPES)
def test_backward_matches_finite_differences(slope, shape, rng):
    x = away_from_zero(shape, np.float64, rng)
    # piecewise linear, and a 2^-4 step never crosses 0 from |x| >= 0.1
    assert_grad_matches_fd(relu, x, (relu.Params(slope),), rng, eps=0.0625)


@pytest.mark.parametrize("slope", SLOPES)
def test_gradient_at_zero_and_in_place(slope, rng):
    """The mask comes from the output: overwriting the input changes nothing;
    at x == 0 the gradient is slope * dy (0 for a plain ReLU), as in Caffe."""
    x = np.array([[-1.0, 0.0, 2.0, -0.0]])
    (y,), ctx = relu.forward((x,), relu.Params(slope))
    x[...] = 99.0  # the caller reuses the input buffer (in-place ReLU)
    dy = np.array([[3.0, 5.0, 7.0, 11.0]])
    np.testing.assert_array_equal(
        relu.backward((dy,), ctx)[0], [[3.0 * slope, 5.0 * slope, 7.0, 11.0 * slope]]
    )


@pytest.mark.torch
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slope", SLOPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_backward_match_torch(dtype, slope, shape, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = away_from_zero(shape, dtype, rng)
    assert_matches_torch(
        relu,
        x,
        (relu.Params(slope),),
        rng,
        lambda xt: F.relu(xt) if slope == 0 else F.leaky_relu(xt, slope),
    )


@pytest.mark.gpu
@pytest.mark.parametrize("slope", SLOPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_matches_cupy(dtype, slope, rng):
    x = rng.standard_normal((2, 3, 5, 7)).astype(dtype)
    assert_numpy_matches_cupy(relu, x, (relu.Params(slope),), rng)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="negative_slope"):
        relu.Params(-0.5)
    with pytest.raises(ValueError, match="floating"):
        relu.forward((np.arange(4),), relu.Params())
    (_,), ctx = relu.forward((np.ones((2, 3)),), relu.Params())
    with pytest.raises(ValueError, match="dy has shape"):
        relu.backward((np.ones((3, 2)),), ctx)[0]
