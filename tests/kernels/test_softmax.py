"""Softmax: loop reference, finite differences, PyTorch, CuPy; errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inceptionism.kernels import softmax
from tests.gradcheck import (
    assert_forward_matches,
    assert_grad_matches_fd,
    assert_matches_torch,
    assert_numpy_matches_cupy,
)
from tests.tolerances import tol

DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]
CASES = [
    pytest.param((2, 5, 3, 4), 1, id="nchw_axis1_batch2"),
    pytest.param((3, 7), 1, id="2d_classifier"),
    pytest.param((2, 3, 4), -1, id="axis_minus1"),
    pytest.param((1, 6, 1, 1), 1, id="1x1_spatial"),
]


def loop_reference(x, axis):
    xm = np.moveaxis(x.astype(np.float64), axis, -1)
    y = np.empty_like(xm)
    for idx in np.ndindex(xm.shape[:-1]):
        e = [math.exp(v) for v in xm[idx]]
        y[idx] = [v / sum(e) for v in e]
    return np.moveaxis(y, -1, axis)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axis", CASES)
def test_forward_matches_loop_reference(shape, axis, dtype, rng):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    want = loop_reference(x, axis)
    assert_forward_matches(softmax, x, (softmax.Params(axis),), want)


def test_large_inputs_are_stable():
    x = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -1000.0]])
    (y,), _ = softmax.forward((x.astype(np.float32),), softmax.Params())
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, loop_reference(x - x.max(1, keepdims=True), 1),
                               **tol(np.float32))  # fmt: skip


@pytest.mark.parametrize("shape, axis", CASES)
def test_backward_matches_finite_differences(shape, axis, rng):
    x = rng.standard_normal(shape)
    # fourth-order central difference: truncation ~ h^4 ~ 1e-12
    assert_grad_matches_fd(softmax, x, (softmax.Params(axis),), rng, eps=1e-3, order=4)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axis", CASES)
def test_forward_backward_match_torch(shape, axis, dtype, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape).astype(dtype)
    assert_matches_torch(
        softmax, x, (softmax.Params(axis),), rng, lambda xt: torch.softmax(xt, axis)
    )


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axis", CASES)
def test_numpy_matches_cupy(shape, axis, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    assert_numpy_matches_cupy(softmax, x, (softmax.Params(axis),), rng)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="axis 4 is out of range"):
        softmax.forward((np.zeros((2, 3, 4, 5)),), softmax.Params(4))
    with pytest.raises(ValueError, match="floating"):
        softmax.forward((np.arange(6).reshape(2, 3),), softmax.Params())
    (_,), ctx = softmax.forward((np.zeros((2, 3)),), softmax.Params())
    with pytest.raises(ValueError, match="dy has shape"):
        softmax.backward((np.zeros((3, 2)),), ctx)[0]
