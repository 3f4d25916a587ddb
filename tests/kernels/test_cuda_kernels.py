"""Every hand-written CUDA kernel against the ``xp`` path (its oracle).

Each test runs twice:

- ``host``: the ``.cu`` source compiled for the CPU and run by the emulator in
  :mod:`tests.kernels.cuda_host` (runs wherever a C++ compiler is; checks the
  index arithmetic, bounds, dtype templates and the argument types the
  wrappers pass);
- ``cuda`` (marked ``gpu``): the real kernels through CuPy on a GPU.

Custom kernels off gives the reference (``xp`` code on the same device);
custom kernels on must match it — exactly where the kernel only moves or
selects values (max-pool output and argmax, im2col, ReLU backward), within
the dtype's tolerance where it sums in another order (col2im, pool backward,
LRN). The pooling kernel gives the ctx of the other paths (argmax
(N, C, oh, ow), int32 here); both ctx variants go through both backward paths.
Parameter grids are the CPU tests' own.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from inceptionism.kernels import _im2col, backend, conv, cuda_ops, lrn, pool, relu
from inceptionism.kernels._geometry import conv_out_hw
from tests.kernels import cuda_host
from tests.kernels.test_conv import CASES as CONV_CASES
from tests.kernels.test_conv import make as conv_make
from tests.kernels.test_lrn import CASES as LRN_CASES
from tests.kernels.test_lrn import make as lrn_make
from tests.kernels.test_pool import CASES as POOL_CASES
from tests.kernels.test_pool import caffe_reference, distinct
from tests.kernels.test_relu import SHAPES as RELU_SHAPES
from tests.kernels.test_relu import SLOPES as RELU_SLOPES
from tests.kernels.test_relu import away_from_zero
from tests.tolerances import tol

DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]
BACKENDS = [
    pytest.param("host", id="host"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.gpu),
]


class Dev(NamedTuple):
    put: object  # host array -> device array
    get: object  # device array -> NumPy
    launched: list  # kernel names launched so far


def _recording(function, launched):
    def wrapped(filename, name):
        kernel = function(filename, name)

        def run(grid, block, args):
            launched.append(name.rsplit("_", 1)[0])
            kernel(grid, block, args)

        return run

    return wrapped


@pytest.fixture(params=BACKENDS)
def dev(request, monkeypatch):
    monkeypatch.setattr(backend, "_custom_kernels", True)  # restored after
    if request.param == "host":
        if cuda_host.CXX is None:
            pytest.skip("no host C++ compiler to emulate the CUDA kernels")
        return Dev(np.asarray, np.asarray, cuda_host.install(monkeypatch))
    cp = pytest.importorskip("cupy")
    launched: list = []
    monkeypatch.setattr(cuda_ops, "_function", _recording(cuda_ops._function, launched))
    return Dev(cp.asarray, cp.asnumpy, launched)


def xp_path(fn):
    """``fn()`` with the custom kernels switched off (the oracle)."""
    with backend.custom_kernels(False):
        return fn()


# -- max pooling ---------------------------------------------------------------


def _check_max_pool(dev, x, params, dtype, rng):
    (y0,), c0 = xp_path(lambda: pool.forward((x,), params))
    (y1,), c1 = pool.forward((x,), params)
    assert "max_pool_forward" in dev.launched
    assert c1.argmax.dtype == np.int32 and y1.dtype == dtype
    np.testing.assert_array_equal(dev.get(y1), dev.get(y0))
    # the same ctx as the other path: argmax (N, C, oh, ow)
    assert c1.argmax.shape == c0.argmax.shape == y0.shape
    np.testing.assert_array_equal(dev.get(c1.argmax), dev.get(c0.argmax))
    g = dev.put(rng.standard_normal(y0.shape).astype(dtype))
    ref = dev.get(xp_path(lambda: pool.backward((g,), c0)[0]))
    for ctx in (c0, c1):  # the kernel's ctx and the xp one, both backwards
        dev.launched.clear()
        got = pool.backward((g,), ctx)[0]
        assert dev.launched == ["max_pool_backward"] and got.dtype == dtype
        np.testing.assert_allclose(dev.get(got), ref, **tol(dtype))
        got = xp_path(lambda ctx=ctx: pool.backward((g,), ctx)[0])
        np.testing.assert_allclose(dev.get(got), ref, **tol(dtype))
    return dev.get(y1), dev.get(pool.backward((g,), c1)[0]), dev.get(g)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool_matches_xp(case, dtype, dev, rng):
    x = dev.put(distinct(case.x_shape, dtype, rng))
    _check_max_pool(dev, x, case.params(pool.Pool.MAX), dtype, rng)


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool_ties_match_caffe(case, dev, rng):
    """Values from {0, 1, 2}: the first maximum in raster order, as Caffe."""
    x = rng.integers(0, 3, case.x_shape).astype(np.float64)
    y, dx, g = _check_max_pool(
        dev, dev.put(x), case.params(pool.Pool.MAX), np.float64, rng
    )
    y_ref, dx_ref = caffe_reference(x, pool.Pool.MAX, case, g)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(dx, dx_ref, **tol(np.float64))


def test_ave_pool_keeps_the_xp_path(dev, rng):
    x = dev.put(distinct((1, 2, 6, 6), np.float32, rng))
    pool.forward((x,), pool.Params(pool.Pool.AVE, (3, 3), (2, 2)))
    assert dev.launched == []


# -- LRN -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", LRN_CASES)
def test_lrn_matches_xp(case, dtype, dev, rng):
    x = dev.put(lrn_make(case, dtype, rng))
    (y0,), c0 = xp_path(lambda: lrn.forward((x,), case.params))
    (y1,), c1 = lrn.forward((x,), case.params)
    assert dev.launched == ["lrn_forward"] and y1.dtype == dtype
    for got, want in ((y1, y0), (c1.scale, c0.scale), (c1.factor, c0.factor)):
        np.testing.assert_allclose(dev.get(got), dev.get(want), **tol(dtype))
    g = dev.put(rng.standard_normal(x.shape).astype(dtype))
    ref = dev.get(xp_path(lambda: lrn.backward((g,), c0)[0]))
    for ctx in (c0, c1):
        dev.launched.clear()
        got = lrn.backward((g,), ctx)[0]
        assert dev.launched == ["lrn_backward"] and got.dtype == dtype
        np.testing.assert_allclose(dev.get(got), ref, **tol(dtype))


# -- im2col / col2im (convolution) -------------------------------------------------


def _geometry(case):
    p = case.params()
    out_hw = conv_out_hw(case.x_shape[2:], p.kernel, p.stride, p.pad, p.dilation)
    return p, out_hw


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_im2col_matches_xp(case, dtype, dev, rng):
    p, out_hw = _geometry(case)
    x = dev.put(rng.standard_normal(case.x_shape).astype(dtype))
    args = (p.kernel, p.stride, p.pad, p.dilation, out_hw)
    want = dev.get(xp_path(lambda: _im2col.im2col(x, *args)))  # a copy
    got = dev.get(_im2col.im2col(x, *args))
    identity = _im2col.is_identity(p.kernel, p.stride, p.pad)
    assert dev.launched == ([] if identity else ["im2col"])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_col2im_matches_xp(case, dtype, dev, rng):
    p, (ho, wo) = _geometry(case)
    n, c, h, w = case.x_shape
    cols = dev.put(rng.standard_normal((n, c, *p.kernel, ho, wo)).astype(dtype))
    want = dev.get(xp_path(lambda: _im2col.col2im(cols, (h, w), p.stride, p.pad,
                                                  p.dilation)))  # fmt: skip
    got = _im2col.col2im(cols, (h, w), p.stride, p.pad, p.dilation)
    assert dev.launched == ["col2im"] and got.dtype == dtype
    np.testing.assert_allclose(dev.get(got), want, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_with_kernels_matches_xp(case, dtype, dev, rng):
    x, w, b = (None if a is None else dev.put(a) for a in conv_make(case, dtype, rng))
    p = case.params()
    (y0,), c0 = xp_path(lambda: conv.forward((x,), p, (w, b)))
    y0 = y0.copy()
    (y1,), c1 = conv.forward((x,), p, (w, b))
    np.testing.assert_allclose(dev.get(y1), dev.get(y0), **tol(dtype))
    g = dev.put(rng.standard_normal(y0.shape).astype(dtype))
    want = dev.get(xp_path(lambda: conv.backward((g,), c0)[0]))
    got = conv.backward((g,), c1)[0]
    np.testing.assert_allclose(dev.get(got), want, **tol(dtype))


# -- ReLU ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("slope", RELU_SLOPES)
@pytest.mark.parametrize("shape", RELU_SHAPES)
def test_relu_backward_matches_xp(shape, slope, dtype, dev, rng):
    x = away_from_zero(shape, dtype, rng)
    x.flat[::5] = 0  # y == 0: the mask's edge
    (y,), ctx = relu.forward((dev.put(x),), relu.Params(slope))
    g = dev.put(rng.standard_normal(shape).astype(dtype))
    want = dev.get(xp_path(lambda: relu.backward((g,), ctx)[0]))
    got = relu.backward((g,), ctx)[0]
    assert dev.launched == ["relu_backward"] and got.dtype == dtype
    np.testing.assert_array_equal(dev.get(got), want)


# -- the switch and the wrappers' guards ----------------------------------------------


def test_switch_off_launches_nothing(dev, rng):
    x = dev.put(distinct((1, 4, 6, 6), np.float32, rng))
    with backend.custom_kernels(False):
        (y,), ctx = pool.forward((x,), pool.Params(pool.Pool.MAX, (3, 3), (2, 2)))
        ys, lrn_ctx = lrn.forward((x,), lrn.Params())
        lrn.backward(ys, lrn_ctx)
        relu.backward((x,), relu.forward((x,), relu.Params())[1])
    assert dev.launched == []


def test_mixed_dtypes_take_the_xp_path(dev, rng):
    x = dev.put(rng.standard_normal((1, 3, 4, 4)).astype(np.float32))
    (_,), ctx = relu.forward((x,), relu.Params())
    dx = relu.backward((x.astype(np.float64),), ctx)[0]
    assert dev.launched == [] and dx.dtype == np.float64


# -- strided views: the kernels index C-contiguous memory ---------------------------


def _strided(dev, shape, dtype, rng):
    """An array of ``shape`` that is a view with gaps (every other channel
    and column of a larger one), as the channel slices the sibling
    convolutions hand on; and a contiguous copy of it."""
    n, c, *rest = shape
    big = distinct((n, 2 * c, *rest[:-1], 2 * rest[-1]), dtype, rng)
    view = dev.put(big)[:, ::2, ..., 1::2]
    assert not view.flags.c_contiguous
    return view, view.copy()


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_inputs_are_made_contiguous(dtype, dev, rng):
    """Every launcher gets a strided view and must copy it first: a kernel
    given a view's pointer reads the wrong elements (CuPy passes the raw
    pointer; the emulator refuses it)."""
    x, xc = _strided(dev, (2, 5, 7, 9), dtype, rng)
    params = pool.Params(pool.Pool.MAX, (3, 3), (2, 2), (1, 1))
    (y,), ctx = pool.forward((x,), params)
    (yc,), ctxc = xp_path(lambda: pool.forward((xc,), params))
    np.testing.assert_array_equal(dev.get(y), dev.get(yc))
    g, gc = _strided(dev, y.shape, dtype, rng)
    want = dev.get(xp_path(lambda: pool.backward((gc,), ctxc)[0]))
    np.testing.assert_allclose(dev.get(pool.backward((g,), ctx)[0]), want, **tol(dtype))

    (y,), ctx = lrn.forward((x,), lrn.Params(5, 0.9))
    (yc,), ctxc = xp_path(lambda: lrn.forward((xc,), lrn.Params(5, 0.9)))
    np.testing.assert_allclose(dev.get(y), dev.get(yc), **tol(dtype))
    g, gc = _strided(dev, y.shape, dtype, rng)
    want = dev.get(xp_path(lambda: lrn.backward((gc,), ctxc)[0]))
    np.testing.assert_allclose(dev.get(lrn.backward((g,), ctx)[0]), want, **tol(dtype))

    (_,), ctx = relu.forward((x,), relu.Params(0.1))
    want = dev.get(xp_path(lambda: relu.backward((gc,), ctx)[0]))
    np.testing.assert_array_equal(dev.get(relu.backward((g,), ctx)[0]), want)

    geometry = ((3, 3), (2, 1), (1, 1), (1, 1))
    out_hw = conv_out_hw(x.shape[2:], *geometry[:3], geometry[3])
    want = dev.get(xp_path(lambda: _im2col.im2col(xc, *geometry, out_hw)))
    np.testing.assert_array_equal(dev.get(_im2col.im2col(x, *geometry, out_hw)), want)
    cols, colsc = _strided(dev, (2, 5, 3, 3, *out_hw), dtype, rng)
    want = dev.get(xp_path(lambda: _im2col.col2im(colsc, x.shape[2:], *geometry[1:])))
    got = _im2col.col2im(cols, x.shape[2:], *geometry[1:])
    np.testing.assert_allclose(dev.get(got), want, **tol(dtype))
    assert {"max_pool_forward", "max_pool_backward", "lrn_forward", "lrn_backward",
            "relu_backward", "im2col", "col2im"} <= set(dev.launched)  # fmt: skip


# -- indices past int32 ------------------------------------------------------------


def test_im2col_and_col2im_index_past_int32(dev):
    """On the GPU, ``cols`` of more than 2**31 elements (9.3 GB of float32:
    a 47x47 window over 1024x1024): the kernel offsets whose flat index
    passes int32 must read and write the right pixels (the same checks at
    a small size on the emulator)."""
    on_gpu = dev.put is not np.asarray
    hw, k = ((1024, 1024), 47) if on_gpu else ((20, 24), 5)
    r = k // 2
    x = np.arange(hw[0] * hw[1], dtype=np.float32).reshape(1, 1, *hw)  # exact
    geometry = ((k, k), (1, 1), (r, r), (1, 1))
    try:
        cols = _im2col.im2col(dev.put(x), *geometry, hw)
        assert cols.size > 2**31 or not on_gpu
        # offset (i, j) reads x shifted by (i - r, j - r), 0 past the edge
        first, last = np.zeros((2, *hw), np.float32)
        first[r:, r:], last[:-r, :-r] = x[0, 0, :-r, :-r], x[0, 0, r:, r:]
        np.testing.assert_array_equal(dev.get(cols[0, 0, 0, 0]), first)
        np.testing.assert_array_equal(dev.get(cols[0, 0, k - 1, k - 1]), last)
        cols.fill(1)
        dx = dev.get(_im2col.col2im(cols, hw, *geometry[1:]))
    finally:
        _im2col.release_scratch()  # the 9.3 GB buffer

    # each pixel is read once by every window that covers it
    def covering(n):
        i = np.arange(n)
        return np.minimum(i, r) + np.minimum(n - 1 - i, r) + 1

    want = np.outer(covering(hw[0]), covering(hw[1])).astype(np.float32)
    np.testing.assert_array_equal(dx[0, 0], want)
    assert dev.launched == ["im2col", "col2im"]
