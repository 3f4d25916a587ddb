"""Pooling: Caffe's loop, finite differences, PyTorch, CuPy; sizes; errors."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pytest

from inceptionism.kernels import _pool_cpu, pool
from tests.gradcheck import (
    assert_grad_matches_fd,
    assert_matches_torch,
    assert_numpy_matches_cupy,
)
from tests.tolerances import tol

MAX, AVE = pool.Pool.MAX, pool.Pool.AVE
DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]
FLT_MAX = float(np.finfo(np.float32).max)


class Case(NamedTuple):
    x_shape: tuple  # (N, C, H, W)
    kernel: tuple = (3, 3)
    stride: tuple = (1, 1)
    pad: tuple = (0, 0)
    global_pooling: bool = False
    torch_ok: bool = True  # PyTorch accepts it and agrees on the output size

    def params(self, method) -> pool.Params:
        return pool.Params(
            method, self.kernel, self.stride, self.pad, self.global_pooling
        )


CASES = [
    pytest.param(Case((2, 3, 7, 9), (3, 3), (2, 2)), id="3x3_s2_odd_ceil_overhang"),
    pytest.param(Case((1, 2, 6, 8), (2, 2), (2, 2)), id="2x2_s2_even"),
    pytest.param(Case((2, 3, 5, 6), (3, 3), (1, 1), (1, 1)), id="3x3_s1_p1_batch2"),
    pytest.param(Case((1, 2, 8, 7), (3, 3), (2, 2), (1, 1)), id="3x3_s2_p1"),
    # Caffe's correction bites (the last ceil window would start in the pad):
    pytest.param(Case((2, 2, 5, 7), (2, 2), (2, 2), (1, 1)), id="2x2_s2_p1_corrected"),
    pytest.param(Case((1, 3, 5, 8), (3, 3), (3, 3), (1, 1)), id="3x3_s3_p1_corrected"),
    pytest.param(Case((2, 2, 7, 8), (2, 3), (1, 2), (1, 0)), id="2x3_s1x2_p1x0"),
    pytest.param(Case((1, 2, 3, 4), (3, 3), (2, 2)), id="kernel_is_image_height"),
    # p > k/2: Caffe allows it (p < k), PyTorch does not.
    pytest.param(Case((1, 2, 6, 7), (3, 3), (2, 2), (2, 2), torch_ok=False), id="p2"),
    # p == 0, s > k: Caffe's last window lies wholly past the image; PyTorch
    # drops that output (its correction applies without padding too).
    pytest.param(Case((1, 2, 6, 7), (2, 2), (3, 3), torch_ok=False), id="empty_win"),
    pytest.param(Case((2, 3, 5, 7), global_pooling=True), id="global"),
]


@pytest.fixture(params=["cpu", "reference"])
def path(request, monkeypatch) -> str:
    """NumPy arrays through the CPU fast path (:mod:`._pool_cpu`, as they run)
    or through the reference ``xp`` code of pool.py (as CuPy ones do)."""
    if request.param == "reference":
        monkeypatch.setattr(_pool_cpu, "takes", lambda a: False)
    return request.param


def caffe_out_size(size, k, s, p):
    out = int(math.ceil(float(size + 2 * p - k) / s)) + 1
    if p and (out - 1) * s >= size + p:
        out -= 1
    return out


def caffe_reference(x, method, case, dy=None):
    """Caffe's PoolingLayer::Forward_cpu/Backward_cpu loops, literally.

    Returns y, and dx too when ``dy`` is given.
    """
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = case.kernel, case.stride, case.pad
    if case.global_pooling:
        kh, kw = H, W
    oh, ow = caffe_out_size(H, kh, sh, ph), caffe_out_size(W, kw, sw, pw)
    y = np.empty((N, C, oh, ow), dtype=x.dtype)
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(oh):
                for j in range(ow):
                    hstart, wstart = i * sh - ph, j * sw - pw
                    if method is MAX:
                        hend, wend = min(hstart + kh, H), min(wstart + kw, W)
                        hstart, wstart = max(hstart, 0), max(wstart, 0)
                        best, where = -FLT_MAX, None
                        for h in range(hstart, hend):
                            for w in range(wstart, wend):
                                if x[n, c, h, w] > best:
                                    best, where = x[n, c, h, w], (h, w)
                        y[n, c, i, j] = best
                        if dy is not None and where is not None:
                            dx[n, c, where[0], where[1]] += dy[n, c, i, j]
                    else:
                        hend, wend = min(hstart + kh, H + ph), min(wstart + kw, W + pw)
                        pool_size = (hend - hstart) * (wend - wstart)
                        hstart, wstart = max(hstart, 0), max(wstart, 0)
                        hend, wend = min(hend, H), min(wend, W)
                        total = x[n, c, hstart:hend, wstart:wend].sum()
                        # Caffe computes 0/0 for an empty window; we define 0.
                        y[n, c, i, j] = total / pool_size if pool_size > 0 else 0.0
                        if dy is not None and pool_size > 0:
                            dx[n, c, hstart:hend, wstart:wend] += (
                                dy[n, c, i, j] / pool_size
                            )
    return (y, dx) if dy is not None else y


def distinct(shape, dtype, rng):
    """Values spaced 0.25 apart in random order: no ties, exact in binary."""
    return (rng.permutation(math.prod(shape)).reshape(shape) * 0.25 - 10).astype(dtype)


@pytest.mark.parametrize("method", [MAX, AVE], ids=["max", "ave"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_forward_backward_match_caffe_loop(case, dtype, method, rng, path):
    x = rng.standard_normal(case.x_shape).astype(dtype)
    p = case.params(method)
    (y,), ctx = pool.forward((x,), p)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = pool.backward((dy,), ctx)[0]
    y_ref, dx_ref = caffe_reference(x, method, case, dy)
    assert y.dtype == dtype and dx.dtype == dtype
    assert ctx.inv_count is None or ctx.inv_count.dtype == dtype
    assert y.shape == pool.output_shapes((x.shape,), p)[0] == y_ref.shape
    assert dx.shape == x.shape
    np.testing.assert_allclose(y, y_ref, **tol(dtype))
    np.testing.assert_allclose(dx, dx_ref, **tol(dtype))


@pytest.mark.parametrize("method", [MAX, AVE], ids=["max", "ave"])
def test_large_window_matches_caffe_loop(method, rng, path):
    """272 offsets: the argmax needs uint16; ties from {0, 1, 2} everywhere."""
    case = Case((1, 2, 18, 19), (17, 16), (1, 2), (1, 1))
    x = rng.integers(0, 3, case.x_shape).astype(np.float32)
    (y,), ctx = pool.forward((x,), case.params(method))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    y_ref, dx_ref = caffe_reference(x, method, case, dy)
    assert y.shape == (1, 2, 4, 4)
    want = np.uint16 if path == "cpu" else np.int32
    assert method is AVE or ctx.argmax.dtype == want
    np.testing.assert_allclose(y, y_ref, **tol(np.float32))
    np.testing.assert_allclose(pool.backward((dy,), ctx)[0], dx_ref, **tol(np.float32))


@pytest.mark.parametrize("case", CASES)
def test_max_ties_go_to_the_first_maximum(case, rng, path):
    """Many ties (values from {0, 1, 2}): Caffe keeps the first in raster order."""
    x = rng.integers(0, 3, case.x_shape).astype(np.float64)
    (y,), ctx = pool.forward((x,), case.params(MAX))
    dy = rng.standard_normal(y.shape)
    y_ref, dx_ref = caffe_reference(x, MAX, case, dy)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(pool.backward((dy,), ctx)[0], dx_ref, **tol(np.float64))


@pytest.mark.parametrize("method", [MAX, AVE], ids=["max", "ave"])
@pytest.mark.parametrize("case", CASES)
def test_backward_matches_finite_differences(case, method, rng, path):
    x = distinct(case.x_shape, np.float64, rng)
    # Pooling is linear near x while a step stays under half the 0.25 gap
    # between values (no maximum changes hands), so the central difference
    # has no truncation error; dyadic steps keep it exact in binary.
    assert_grad_matches_fd(pool, x, (case.params(method),), rng, eps=0.0625)


TORCH_CASES = [c for c in CASES if c.values[0].torch_ok]


@pytest.mark.torch
@pytest.mark.parametrize("method", [MAX, AVE], ids=["max", "ave"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", TORCH_CASES)
def test_forward_backward_match_torch(case, dtype, method, rng):
    """Caffe == torch ``ceil_mode=True`` (+ ``count_include_pad=True`` for AVE).

    Both clip the AVE divisor at ``H + p`` before clipping to the image, and
    both drop a last window starting in the padding. They differ only when
    ``p > k/2`` (torch refuses) or ``p == 0`` with ``s > k`` (torch also drops
    a window starting past the image; Caffe keeps it): see ``torch_ok``.
    """
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = distinct(case.x_shape, dtype, rng)
    k = x.shape[2:] if case.global_pooling else case.kernel

    def torch_pool(xt):
        if method is MAX:
            return F.max_pool2d(xt, k, case.stride, case.pad, ceil_mode=True)
        return F.avg_pool2d(
            xt, k, case.stride, case.pad, ceil_mode=True, count_include_pad=True
        )

    assert_matches_torch(pool, x, (case.params(method),), rng, torch_pool)


def test_cases_include_ones_where_the_correction_bites():
    bites = [
        c.values[0]
        for c in TORCH_CASES
        if any(
            pp > 0 and (math.ceil((n + 2 * pp - k) / s)) * s >= n + pp
            for n, k, s, pp in zip(
                c.values[0].x_shape[2:],
                c.values[0].kernel,
                c.values[0].stride,
                c.values[0].pad,
            )
        )
    ]
    assert len(bites) >= 2


def test_empty_last_window_is_caffe_lowest_with_no_gradient(rng, path):
    x = rng.standard_normal((1, 1, 6, 6))
    p = pool.Params(MAX, (2, 2), (3, 3))
    (y,), ctx = pool.forward((x,), p)
    assert y.shape == (1, 1, 3, 3)  # windows start at 0, 3 and 6 (past H = 6)
    assert np.all(y[..., 2, :] == -FLT_MAX) and np.all(y[..., :, 2] == -FLT_MAX)
    dy = np.zeros_like(y)
    dy[..., 2, :] = dy[..., :, 2] = 1.0
    assert not pool.backward((dy,), ctx)[0].any()
    (ya,), _ = pool.forward((x,), pool.Params(AVE, (2, 2), (3, 3)))
    assert np.all(ya[..., 2, :] == 0) and np.all(np.isfinite(ya))


@pytest.mark.parametrize(
    "hw, kernel, stride, pad, out",
    [
        ((112, 112), 3, 2, 0, (56, 56)),  # GoogLeNet pool1 (floor would give 55)
        ((56, 56), 3, 2, 0, (28, 28)),  # pool2
        ((28, 28), 3, 1, 1, (28, 28)),  # inception 3x3/1 pad 1
        ((14, 14), 3, 2, 0, (7, 7)),  # pool4
        ((114, 151), 3, 2, 0, (57, 75)),  # conv1 of a 227x301 image
        ((5, 7), 2, 2, 1, (3, 4)),  # corrected: ceil alone gives (4, 5)
    ],
    ids=["pool1_224", "pool2_224", "inception_3x3", "pool4_224", "pool1_227x301",
         "corrected"],
)  # fmt: skip
def test_output_shape(hw, kernel, stride, pad, out):
    p = pool.Params(MAX, (kernel,) * 2, (stride,) * 2, (pad,) * 2)
    assert pool.output_shapes(((1, 8, *hw),), p)[0] == (1, 8, *out)


def test_global_pooling_output_and_large_window(rng, path):
    x = rng.standard_normal((2, 3, 20, 17))  # 340 offsets: argmax needs uint16
    p = pool.Params(MAX, global_pooling=True)
    (y,), ctx = pool.forward((x,), p)
    np.testing.assert_array_equal(y[..., 0, 0], x.max(axis=(2, 3)))
    dy = rng.standard_normal(y.shape)
    dx = pool.backward((dy,), ctx)[0]
    flat = x.reshape(2, 3, -1).argmax(-1)
    expect = np.zeros((2, 3, 340))
    np.put_along_axis(expect, flat[..., None], dy[..., 0, 0, None], -1)
    np.testing.assert_array_equal(dx, expect.reshape(x.shape))


@pytest.mark.gpu
@pytest.mark.parametrize("method", [MAX, AVE], ids=["max", "ave"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_numpy_matches_cupy(case, dtype, method, rng):
    x = distinct(case.x_shape, dtype, rng)
    assert_numpy_matches_cupy(pool, x, (case.params(method),), rng)


def test_bad_inputs_raise():
    p = pool.Params(MAX, (3, 3), (2, 2))
    with pytest.raises(ValueError, match="4-d"):
        pool.forward((np.zeros((2, 5, 5)),), p)
    with pytest.raises(ValueError, match="larger than the padded input"):
        pool.forward((np.zeros((1, 1, 2, 5)),), p)
    with pytest.raises(ValueError, match="stride"):
        pool.forward((np.zeros((1, 1, 5, 5)),), pool.Params(MAX, (3, 3), (0, 1)))
    with pytest.raises(ValueError, match="floating"):
        pool.forward((np.zeros((1, 1, 5, 5), dtype=np.int32),), p)
    (_,), ctx = pool.forward((np.zeros((1, 1, 5, 5)),), p)
    with pytest.raises(ValueError, match="dy has shape"):
        pool.backward((np.zeros((1, 1, 3, 3)),), ctx)[0]
