"""kernels/_winograd.py, Winograd F(2x2, 3x3), against conv's reference.

The reference (im2col + GEMM, col2im) is the oracle: with the Winograd path
switched off (``_winograd.takes`` false) conv.forward and conv.backward must
give what they give with it on, within the project's tolerances, on every 3x3
stride-1 case of test_conv.py (which also holds both to the loop reference,
finite differences and PyTorch) and on GoogLeNet-sized inception 3x3s (odd
and even sizes, padding 0, 1 and 2, two images). Its float32 error against
the exact (float64) convolution is measured against the direct GEMM's.

F(4x4, 3x3) (36 instead of 64 multiplies per 16 outputs) was not built: its
transforms have coefficients up to 8 and more terms, and in NumPy the
transforms, not the GEMMs, already take half of F(2x2)'s time.
"""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.kernels import _winograd, conv
from tests.kernels.test_conv import CASES, DTYPES, Case, make
from tests.tolerances import tol


@pytest.fixture(autouse=True)
def winograd_on(monkeypatch):
    """The path is off by default (measured slower here): test it on."""
    monkeypatch.setattr(_winograd, "ENABLED", True)


SHAPES = [
    pytest.param(Case((1, 96, 28, 28), 128, (3, 3), pad=(1, 1)), id="3a_3x3_224"),
    pytest.param(Case((1, 64, 56, 56), 192, (3, 3), pad=(1, 1)), id="conv2_224"),
    pytest.param(Case((2, 16, 13, 11), 24, (3, 3), pad=(1, 1)), id="odd_batch2"),
    pytest.param(Case((1, 8, 9, 12), 5, (3, 3)), id="pad0"),
    pytest.param(
        Case((1, 8, 7, 6), 5, (3, 3), pad=(2, 1), bias_term=False), id="pad21"
    ),
]


def _geometry(case) -> tuple:
    p = case.values[0].params()
    return p.kernel, p.stride, p.dilation, p.group, p.pad


def _runs(case, dtype, rng, monkeypatch):
    x, w, b = make(case, dtype, rng)
    # unit-variance outputs (weights ~ 1/sqrt(fan-in), as trained nets have):
    # with unit weights a 3x3 over 96 channels sums to ~100 and neither path
    # meets float32's elementwise atol against the exact result (see
    # test_float32_error_is_the_direct_gemms below)
    w = (w / np.sqrt(w[0].size)).astype(dtype)
    p = case.params()
    (y,), ctx = conv.forward((x,), p, (w, b))
    g = rng.standard_normal(y.shape).astype(dtype)
    dx = conv.backward((g,), ctx)[0]
    monkeypatch.setattr(_winograd, "takes", lambda *a: False)
    (y_ref,), ctx = conv.forward((x,), p, (w, b))
    dx_ref = conv.backward((g,), ctx)[0]
    return y, dx, y_ref, dx_ref


STRIDE1_3X3 = [
    c
    for c in CASES
    if _geometry(c) == ((3, 3), (1, 1), (1, 1), 1, c.values[0].pad)
    and max(c.values[0].pad) <= 2
]


def test_cases_take_the_winograd_path():
    assert STRIDE1_3X3, "test_conv.py has no 3x3 stride-1 case any more"
    for c in SHAPES:
        assert _winograd.takes(np.zeros(1), *_geometry(c))
    # and not what it cannot do
    assert not _winograd.takes(np.zeros(1), (3, 3), (2, 2), (1, 1), 1, (1, 1))
    assert not _winograd.takes(np.zeros(1), (3, 3), (1, 1), (2, 2), 1, (1, 1))
    assert not _winograd.takes(np.zeros(1), (3, 3), (1, 1), (1, 1), 2, (1, 1))
    assert not _winograd.takes(np.zeros(1), (5, 5), (1, 1), (1, 1), 1, (2, 2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", STRIDE1_3X3 + SHAPES)
def test_winograd_matches_the_reference(case, dtype, rng, monkeypatch):
    y, dx, y_ref, dx_ref = _runs(case, dtype, rng, monkeypatch)
    assert y.dtype == dx.dtype == dtype
    assert y.shape == y_ref.shape and dx.shape == dx_ref.shape
    np.testing.assert_allclose(y, y_ref, **tol(dtype))
    np.testing.assert_allclose(dx, dx_ref, **tol(dtype))


def test_blocks_of_tile_rows_agree(rng, monkeypatch):
    """Several tile-row blocks (a tiny BLOCK_BYTES) give the one-block result."""
    x, w, b = make(Case((1, 6, 21, 10), 4, (3, 3), pad=(1, 1)), np.float64, rng)
    u = _winograd.filters(w)
    whole = _winograd.conv(x, u, (1, 1), b)
    monkeypatch.setattr(_winograd, "BLOCK_BYTES", 1)
    np.testing.assert_allclose(
        _winograd.conv(x, u, (1, 1), b), whole, **tol(np.float64)
    )


@pytest.mark.parametrize("shape", [(1, 96, 28, 28, 128), (1, 480, 14, 14, 208)])
def test_float32_error_is_the_direct_gemms(shape, rng, monkeypatch):
    """Unit weights, GoogLeNet widths: Winograd's float32 error against the
    exact result is within 2x of the direct (im2col GEMM) path's."""
    n, c, h, w, o = shape
    x, wt = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, 3, 3))
    p = conv.Params(o, (3, 3), pad=(1, 1), bias_term=False)
    (exact,), _ = conv.forward((x,), p, (wt,))
    f32 = (x.astype(np.float32),), p, (wt.astype(np.float32),)
    (wino,), _ = conv.forward(*f32)
    monkeypatch.setattr(_winograd, "takes", lambda *a: False)
    (direct,), _ = conv.forward(*f32)
    err_w, err_d = np.abs(wino - exact).max(), np.abs(direct - exact).max()
    assert 0 < err_w <= 2 * err_d
