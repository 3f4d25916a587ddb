"""LRN: loop reference, finite differences, PyTorch, CuPy; errors."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from inceptionism.kernels import lrn
from tests.gradcheck import (
    assert_forward_matches,
    assert_grad_matches_fd,
    assert_numpy_matches_cupy,
    forward_backward,
    torch_forward_backward,
)
from tests.tolerances import tol

DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]
WITHIN = lrn.NormRegion.WITHIN_CHANNEL


class Case(NamedTuple):
    x_shape: tuple  # (N, C, H, W)
    params: lrn.Params
    x_scale: float = 1.0  # so that alpha/n * sum(x^2) is comparable with k


def P(n, alpha, beta=0.75, k=1.0):
    return lrn.Params(n, alpha, beta, k)


CASES = [
    # alpha, k near 1: every window term moves the result.
    pytest.param(Case((2, 7, 3, 4), P(5, 0.9)), id="n5_alpha0.9_batch2"),
    pytest.param(Case((1, 6, 4, 3), P(3, 1.1, k=0.8)), id="n3_k0.8"),
    pytest.param(Case((2, 6, 3, 3), P(4, 1.0)), id="n4_even"),
    pytest.param(Case((1, 5, 2, 5), P(2, 0.7, k=1.2)), id="n2_even"),
    pytest.param(Case((1, 3, 3, 4), P(5, 1.0)), id="n5_more_than_channels"),
    pytest.param(Case((1, 6, 3, 3), P(5, 0.9, beta=0.6)), id="beta0.6_pow"),
    pytest.param(Case((1, 4, 2, 3), P(1, 0.8)), id="n1"),
    # Caffe's own GoogLeNet/AlexNet setting, with activations large enough
    # for alpha=1e-4 to matter.
    pytest.param(Case((2, 8, 3, 3), P(5, 1e-4), x_scale=60.0), id="caffe_alpha1e-4"),
]


def loop_reference(x, p: lrn.Params):
    """s[c] = k + alpha/n * sum_{j=c-(n-1)//2}^{c+n//2} x[j]^2; y = x s^-beta."""
    n = p.local_size
    y = np.empty_like(x)
    C = x.shape[1]
    for c in range(C):
        acc = np.zeros_like(x[:, 0])
        for j in range(c - (n - 1) // 2, c + n // 2 + 1):
            if 0 <= j < C:
                acc += x[:, j] ** 2
        y[:, c] = x[:, c] * (p.k + p.alpha / n * acc) ** -p.beta
    return y


def make(case, dtype, rng):
    return (rng.standard_normal(case.x_shape) * case.x_scale).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_forward_matches_loop_reference(case, dtype, rng):
    x = make(case, dtype, rng)
    ref = loop_reference(x.astype(np.float64), case.params)
    assert_forward_matches(lrn, x, (case.params,), ref)
    # the parameters must make the window matter: y is far from x * k^-beta
    plain = x * case.params.k**-case.params.beta
    assert np.abs(ref - plain).max() > 0.05 * np.abs(plain).max()


@pytest.mark.parametrize("case", CASES)
def test_backward_matches_finite_differences(case, rng):
    x = make(case, np.float64, rng)
    # Fourth-order central difference: truncation ~ h^4 * f^(5) ~ 1e-12 at
    # h = 1e-3 (relative to the input scale); output differences are taken
    # before the dot with g, so untouched outputs cancel exactly.
    h = 1e-3 * case.x_scale
    assert_grad_matches_fd(lrn, x, (case.params,), rng, eps=h, order=4)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_forward_backward_match_torch(case, dtype, rng):
    """torch's local_response_norm divides alpha by n too (an average pool).

    For even n it centres the window the other way (c - n//2 .. c + (n-1)//2),
    so there it is run on the channel-reversed input, which mirrors the window
    onto Caffe's c - (n-1)//2 .. c + n//2.
    """
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = make(case, dtype, rng)
    p = case.params
    y, g, dx = forward_backward(lrn, x, (p,), rng)

    flip = p.local_size % 2 == 0
    yt, dxt = torch_forward_backward(
        lambda xt: F.local_response_norm(
            xt, p.local_size, alpha=p.alpha, beta=p.beta, k=p.k
        ),
        x[:, ::-1].copy() if flip else x,
        g[:, ::-1].copy() if flip else g,
    )
    if flip:
        yt, dxt = yt[:, ::-1], dxt[:, ::-1]
    np.testing.assert_allclose(y, yt, **tol(dtype))
    np.testing.assert_allclose(dx, dxt, **tol(dtype))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_numpy_matches_cupy(case, dtype, rng):
    x = make(case, dtype, rng)
    assert_numpy_matches_cupy(lrn, x, (case.params,), rng)


def test_float32_stays_float32(rng):
    x = rng.standard_normal((1, 6, 3, 3)).astype(np.float32)
    (y,), ctx = lrn.forward((x,), P(5, 0.9))
    dx = lrn.backward((rng.standard_normal(y.shape).astype(np.float32),), ctx)[0]
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert ctx.scale.dtype == ctx.factor.dtype == np.float32


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="4-d"):
        lrn.forward((np.zeros((3, 4, 5)),), lrn.Params())
    with pytest.raises(ValueError, match="odd local_size"):
        lrn.Params(4, norm_region=WITHIN)
    (_,), ctx = lrn.forward((np.ones((1, 3, 4, 5)),), lrn.Params())
    with pytest.raises(ValueError, match="dy has shape"):
        lrn.backward((np.zeros((1, 3, 4, 4)),), ctx)[0]


# --- WITHIN_CHANNEL (Caffe's WithinChannelForward) --------------------------

WITHIN_CASES = [
    pytest.param(lrn.Params(3, 0.9, 0.75, norm_region=WITHIN), id="n3"),
    pytest.param(lrn.Params(5, 1.3, 0.6, k=7.0, norm_region=WITHIN), id="n5_k_unused"),
    pytest.param(lrn.Params(1, 0.8, 0.75, k=3.0, norm_region=WITHIN), id="n1_k_unused"),
]


def within_loop_reference(x, p: lrn.Params):
    """s = 1 + alpha/n^2 * sum of x^2 over the n x n square (zero outside)."""
    n, r = p.local_size, (p.local_size - 1) // 2
    N, C, H, W = x.shape
    y = np.empty_like(x)
    for i in range(H):
        for j in range(W):
            sq = x[:, :, max(0, i - r) : i + r + 1, max(0, j - r) : j + r + 1] ** 2
            s = 1.0 + p.alpha / (n * n) * sq.sum(axis=(2, 3))
            y[:, :, i, j] = x[:, :, i, j] * s**-p.beta
    return y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", WITHIN_CASES)
def test_within_channel_forward_matches_loop_reference(params, dtype, rng):
    x = rng.standard_normal((2, 3, 5, 4)).astype(dtype)
    ref = within_loop_reference(x.astype(np.float64), params)
    assert_forward_matches(lrn, x, (params,), ref)
    # k is not used (Caffe's power layer shifts by 1); ACROSS uses it
    across = lrn.Params(params.local_size, params.alpha, params.beta, params.k)
    assert np.abs(ref - forward_backward(lrn, x, (across,), rng)[0]).max() > 0.05


@pytest.mark.parametrize("params", WITHIN_CASES)
def test_within_channel_backward_matches_finite_differences(params, rng):
    x = rng.standard_normal((2, 3, 5, 4))
    assert_grad_matches_fd(lrn, x, (params,), rng, eps=1e-3, order=4)


@pytest.mark.torch
@pytest.mark.parametrize("params", WITHIN_CASES)
def test_within_channel_matches_torch_avg_pool_composition(params, rng):
    """Caffe builds WITHIN_CHANNEL from layers: x^2, AVE pool (n, stride 1,
    pad (n-1)/2, padding counted), power(shift 1, scale alpha, -beta), x *."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.standard_normal((2, 3, 6, 5))
    y, g, dx = forward_backward(lrn, x, (params,), rng)
    n = params.local_size
    yt, dxt = torch_forward_backward(
        lambda xt: (
            xt
            * (
                1.0
                + params.alpha
                * F.avg_pool2d(xt * xt, n, 1, (n - 1) // 2, count_include_pad=True)
            )
            ** -params.beta
        ),
        x,
        g,
    )
    np.testing.assert_allclose(y, yt, **tol(np.float64))
    np.testing.assert_allclose(dx, dxt, **tol(np.float64))
