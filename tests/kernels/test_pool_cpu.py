"""kernels/_pool_cpu.py, the NumPy fast path, against the reference in pool.py.

The reference (one strided step per window offset) is the oracle: the fast
path must give the same maxima and first-max offsets exactly, and the same
sums and gradients within the dtype's tolerance, on every pooling case of
test_pool.py and on GoogLeNet's own geometries (several channel blocks).
"""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.kernels import _pool_cpu, pool
from tests.kernels.test_pool import CASES, DTYPES, Case
from tests.tolerances import tol

GOOGLENET = [
    # pool1 at 224x224 (several channel blocks), pool3-style 3x3/s1/p1, pool5
    pytest.param(Case((1, 64, 112, 112), (3, 3), (2, 2)), id="pool1"),
    pytest.param(Case((1, 48, 28, 28), (3, 3), (1, 1), (1, 1)), id="3x3_s1_p1"),
    pytest.param(Case((1, 16, 7, 9), (7, 7), (1, 1)), id="pool5_7x7"),
]


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES + GOOGLENET)
def test_max_matches_reference(case, dtype, ties, rng):
    x = rng.standard_normal(case.x_shape)
    if ties:  # values from {0, 1, 2}: the first maximum must win on both
        x = rng.integers(0, 3, case.x_shape)
    x = x.astype(dtype)
    win = pool._window(x.shape, case.params(pool.Pool.MAX))
    y_ref, arg_ref = pool.max_forward(x, win)
    y, arg = _pool_cpu.max_forward(x, win)
    assert y.dtype == dtype and y.shape == arg.shape == y_ref.shape
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(arg, arg_ref)
    dy = rng.standard_normal(y.shape).astype(dtype)
    got = _pool_cpu.max_backward(dy, arg, x.shape, win)
    want = pool.max_backward(dy, arg_ref, x.shape, win)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES + GOOGLENET)
def test_ave_matches_reference(case, dtype, rng):
    x = rng.standard_normal(case.x_shape).astype(dtype)
    win = pool._window(x.shape, case.params(pool.Pool.AVE))
    inv = pool._ave_inv_count(np, dtype, x.shape[2:], win)
    y = _pool_cpu.ave_forward(x, win, inv)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, pool.ave_forward(x, win, inv), **tol(dtype))
    dy = rng.standard_normal(y.shape).astype(dtype)
    got = _pool_cpu.ave_backward(dy, inv, x.shape, win)
    want = pool.ave_backward(dy, inv, x.shape, win)
    np.testing.assert_allclose(got, want, **tol(dtype))


def test_backward_takes_any_argmax_layout(rng):
    """A contiguous int32 argmax (the CUDA kernel's) works like the fast
    path's own uint8 view of its wide layout."""
    x = rng.standard_normal((2, 3, 9, 11))
    win = pool._window(x.shape, pool.Params(pool.Pool.MAX, (3, 3), (2, 2)))
    y, arg = _pool_cpu.max_forward(x, win)
    assert arg.dtype == np.uint8 and not arg.flags.c_contiguous
    dy = rng.standard_normal(y.shape)
    a = _pool_cpu.max_backward(dy, arg, x.shape, win)
    b = _pool_cpu.max_backward(dy, np.ascontiguousarray(arg, np.int32), x.shape, win)
    np.testing.assert_array_equal(a, b)
