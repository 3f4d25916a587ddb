"""Concat: loop reference, backward exactness, PyTorch, CuPy; errors."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.kernels import concat
from tests.tolerances import tol

DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]
CASES = [
    pytest.param([(2, 3, 4, 5), (2, 1, 4, 5), (2, 6, 4, 5)], 1, id="channels_3_inputs"),
    pytest.param([(1, 64, 7, 7), (1, 128, 7, 7)], 1, id="inception_like"),
    pytest.param([(2, 3, 4, 5), (2, 3, 2, 5)], 2, id="axis2"),
    pytest.param([(3, 2), (3, 4)], -1, id="axis_minus1_2d"),
    pytest.param([(1, 2, 3, 3)], 1, id="single_input"),
]


def make(shapes, dtype, rng):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def loop_reference(xs, axis):
    """Place every element of every input at its offset along ``axis``."""
    axis %= xs[0].ndim
    shape = list(xs[0].shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    y = np.empty(shape, dtype=xs[0].dtype)
    start = 0
    for x in xs:
        for idx in np.ndindex(x.shape):
            out = list(idx)
            out[axis] += start
            y[tuple(out)] = x[idx]
        start += x.shape[axis]
    return y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes, axis", CASES)
def test_forward_backward_match_loop_reference(shapes, axis, dtype, rng):
    xs = make(shapes, dtype, rng)
    p = concat.Params(axis)
    (y,), ctx = concat.forward(tuple(xs), p)
    assert y.dtype == dtype and y.shape == concat.output_shapes(tuple(shapes), p)[0]
    np.testing.assert_array_equal(y, loop_reference(xs, axis))
    # backward is the adjoint: <dy, concat(xs)> == sum_i <dx_i, xs_i>, and a
    # concat of the pieces gives dy back
    g = rng.standard_normal(y.shape).astype(dtype)
    dxs = concat.backward((g,), ctx)
    assert [d.shape for d in dxs] == [tuple(s) for s in shapes]
    assert all(d.dtype == dtype for d in dxs)
    np.testing.assert_array_equal(loop_reference(dxs, axis), g)
    np.testing.assert_allclose(
        sum(float(np.sum(d * x)) for d, x in zip(dxs, xs)),
        float(np.sum(g * y)),
        **tol(dtype),
    )


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes, axis", CASES)
def test_forward_backward_match_torch(shapes, axis, dtype, rng):
    torch = pytest.importorskip("torch")
    xs = make(shapes, dtype, rng)
    (y,), ctx = concat.forward(tuple(xs), concat.Params(axis))
    g = rng.standard_normal(y.shape).astype(dtype)
    dxs = concat.backward((g,), ctx)
    xts = [torch.from_numpy(x.copy()).requires_grad_(True) for x in xs]
    yt = torch.cat(xts, dim=axis)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(y, yt.detach().numpy())
    for d, xt in zip(dxs, xts):
        np.testing.assert_array_equal(d, xt.grad.numpy())


@pytest.mark.gpu
@pytest.mark.parametrize("shapes, axis", CASES)
def test_numpy_matches_cupy(shapes, axis, rng):
    cp = pytest.importorskip("cupy")
    xs = make(shapes, np.float32, rng)
    (y,), ctx = concat.forward(tuple(xs), concat.Params(axis))
    g = rng.standard_normal(y.shape).astype(np.float32)
    dxs = concat.backward((g,), ctx)
    (yd,), ctxd = concat.forward(
        tuple([cp.asarray(x) for x in xs]), concat.Params(axis)
    )
    dxds = concat.backward((cp.asarray(g),), ctxd)
    np.testing.assert_array_equal(cp.asnumpy(yd), y)
    for dd, d in zip(dxds, dxs):
        assert isinstance(dd, cp.ndarray)
        np.testing.assert_array_equal(cp.asnumpy(dd), d)


def test_bad_arguments_raise(rng):
    p = concat.Params(1)
    a, b = np.zeros((1, 2, 4, 4)), np.zeros((1, 3, 4, 5))
    with pytest.raises(ValueError, match="input 1 has shape"):
        concat.forward((a, b), p)
    with pytest.raises(ValueError, match="input 1 has shape"):
        concat.output_shapes(tuple([(1, 2, 4, 4), (1, 3, 4)]), p)[0]
    with pytest.raises(ValueError, match="mixed dtypes"):
        concat.forward((a, a.astype(np.float32)), p)
    with pytest.raises(ValueError, match="out of range"):
        concat.forward((a, a), concat.Params(4))
    with pytest.raises(ValueError, match="at least one"):
        concat.forward((), p)
    (_,), ctx = concat.forward((a, a), p)
    with pytest.raises(ValueError, match="expected 4"):
        concat.backward((np.zeros((1, 5, 4, 4)),), ctx)
