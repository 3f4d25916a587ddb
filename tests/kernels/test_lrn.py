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


def test_params_from_caffe():
    assert lrn.params_from_caffe({}) == lrn.Params(5, 1.0, 0.75, 1.0)
    p = lrn.params_from_caffe(
        {"local_size": 3, "alpha": 1e-4, "beta": 0.5, "k": 2, "norm_region": 0}
    )
    assert p == lrn.Params(3, 1e-4, 0.5, 2.0, lrn.NormRegion.ACROSS_CHANNELS)
    assert lrn.params_from_caffe({"norm_region": "ACROSS_CHANNELS"}) == lrn.Params()


@pytest.mark.parametrize(
    "d, match",
    [
        ({"norm_region": "WITHIN_CHANNEL"}, "not supported"),
        ({"norm_region": 1}, "not supported"),
        ({"norm_region": "SIDEWAYS"}, "norm_region"),
        ({"local_size": 0}, "local_size"),
        ({"size": 5}, "unknown"),
    ],
    ids=["within_channel", "within_channel_code", "bad_region", "size0", "unknown"],
)
def test_bad_params_raise(d, match):
    with pytest.raises(ValueError, match=match):
        lrn.params_from_caffe(d)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="4-d"):
        lrn.forward((np.zeros((3, 4, 5)),), lrn.Params())
    within = lrn.Params(norm_region=lrn.NormRegion.WITHIN_CHANNEL)
    with pytest.raises(ValueError, match="not supported"):
        lrn.forward((np.zeros((1, 3, 4, 5)),), within)
    (_,), ctx = lrn.forward((np.ones((1, 3, 4, 5)),), lrn.Params())
    with pytest.raises(ValueError, match="dy has shape"):
        lrn.backward((np.zeros((1, 3, 4, 4)),), ctx)[0]
