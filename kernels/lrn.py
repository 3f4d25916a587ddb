"""Local response normalisation across channels; matches Caffe lrn_layer.cpp.

Forward (x, y: (N, C, H, W))::

    s[c] = k + alpha/n * sum_{j = c-(n-1)//2 .. c+n//2} x[j]**2   (zero outside)
    y[c] = x[c] * s[c] ** -beta

Backward (Caffe's ``CrossChannelBackward``, the exact gradient)::

    dx[c] = dy[c] * s[c]**-beta
            - 2*alpha*beta/n * x[c] * sum_{j: c in window(j)} dy[j] * y[j] / s[j]

The adjoint window of channel ``c`` is ``c - n//2 .. c + (n-1)//2``; for odd
``n`` it equals the forward window. Caffe accepts only odd ``local_size``; we
also accept even ``n`` with the window above. PyTorch's
``local_response_norm`` also divides alpha by ``n`` but centres an even window
the other way (``c - n//2 .. c + (n-1)//2``).

``WITHIN_CHANNEL`` (Caffe's ``WithinChannelForward``: an AVE pool of ``x**2``
over an ``n x n`` square, pad ``(n-1)/2``, then ``(1 + alpha * pool)**-beta``;
``k`` is not used, and ``n`` must be odd as in Caffe)::

    s = 1 + alpha/n**2 * box_n(x**2)            (zero outside the image)
    y = x * s**-beta
    dx = dy * s**-beta - 2*alpha*beta/n**2 * x * box_n(dy * y / s)

(Caffe's AVE divisor is ``n*n`` everywhere here: with stride 1 and this pad
no window is clipped at the far border.)

The window sum is a loop over the ``n`` channel offsets on contiguous channel
slices; ``s**-0.75`` (every Caffe net) is taken as ``1/(sqrt(s)*sqrt(sqrt(s)))``,
several times cheaper than ``pow``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from inceptionism.kernels import cuda_ops
from inceptionism.kernels._contract import Array, Shape, no_weights, single
from inceptionism.kernels._geometry import check_rank
from inceptionism.kernels._im2col import scratch
from inceptionism.kernels.backend import get_array_module

#: Target size of one row band's arrays (see _row_bands). 1 MiB was slower on
#: norm2 (192 planes of 192 KiB: a band is 192 short runs at a large
#: power-of-two-ish stride).
_BLOCK_BYTES = 1 << 22

WEIGHTS: tuple[str, ...] = ()


class NormRegion(enum.Enum):
    ACROSS_CHANNELS = "ACROSS_CHANNELS"
    WITHIN_CHANNEL = "WITHIN_CHANNEL"


@dataclass(frozen=True)
class Params:
    local_size: int = 5
    alpha: float = 1.0
    beta: float = 0.75
    k: float = 1.0
    norm_region: NormRegion = NormRegion.ACROSS_CHANNELS

    def __post_init__(self) -> None:
        _check_params(self)


class Ctx(NamedTuple):
    params: Params
    x: Array  # the input
    scale: Array  # s
    factor: Array  # s ** -beta


def _check_params(p: Params) -> None:
    if not isinstance(p.norm_region, NormRegion):
        raise ValueError(
            f"LRN: norm_region must be a NormRegion, got {p.norm_region!r}"
        )
    if p.local_size < 1:
        raise ValueError(f"LRN: local_size must be >= 1, got {p.local_size}")
    if p.norm_region is NormRegion.WITHIN_CHANNEL and p.local_size % 2 == 0:
        raise ValueError(
            f"LRN: WITHIN_CHANNEL needs an odd local_size, got {p.local_size}"
        )


def output_shapes(in_shapes: tuple[Shape, ...], params: Params) -> tuple[Shape, ...]:
    shape = single(in_shapes, "LRN")
    if len(shape) != 4:
        raise ValueError(f"LRN: expected a 4-d shape (N, C, H, W), got {shape}")
    return (tuple(shape),)


def weight_shapes(in_shapes: tuple[Shape, ...], params: Params) -> dict[str, Shape]:
    return {}


def _window_sum(a, xp, before: int, after: int, out):
    """``out[:, c] = sum(a[:, c - before .. c + after])``, zero outside."""
    out[...] = a
    C = a.shape[1]
    for d in range(1, min(before, C - 1) + 1):
        out[:, d:] += a[:, : C - d]
    for d in range(1, min(after, C - 1) + 1):
        out[:, : C - d] += a[:, d:]
    return out


def _row_bands(xp, shape, itemsize):
    """Row slices of about ``_BLOCK_BYTES`` per array: LRN is a chain of ~10
    passes, and on a whole 1024x768 blob (10-40 MB) each one streams from
    memory, on a band it stays in cache. Band temporaries are scratch
    arrays: fresh ones would page-fault on every band. One band on a GPU."""
    n, c, h, w = shape
    if xp is not np:
        return [slice(0, h)]
    step = max(1, _BLOCK_BYTES // (n * c * w * itemsize))
    return [slice(r, min(h, r + step)) for r in range(0, h, step)]


def _neg_pow(s, xp, beta: float, out):
    """``s ** -beta`` into ``out``; a sqrt chain for Caffe's beta = 0.75."""
    if beta == 0.75:
        f = xp.sqrt(s, out=out)
        f *= xp.sqrt(f, out=scratch(xp, "lrn.root", f.shape, f.dtype))
        return xp.reciprocal(f, out=f)
    return xp.power(s, -beta, out=out)


def _box_sum(a, xp, r: int):
    """``out[..., i, j] = sum(a[..., i-r..i+r, j-r..j+r])``, zero outside."""
    rows = a.copy()
    for d in range(1, r + 1):
        rows[:, :, d:] += a[:, :, :-d]
        rows[:, :, :-d] += a[:, :, d:]
    out = rows.copy()
    for d in range(1, r + 1):
        out[:, :, :, d:] += rows[:, :, :, :-d]
        out[:, :, :, :-d] += rows[:, :, :, d:]
    return out


def _within_forward(x, xp, p: Params):
    n = p.local_size
    scale = _box_sum(x * x, xp, (n - 1) // 2)
    scale *= p.alpha / (n * n)
    scale += 1.0
    factor = xp.power(scale, -p.beta)
    return x * factor, scale, factor


def _within_backward(dy, ctx: Ctx, xp):
    p, n = ctx.params, ctx.params.local_size
    acc = _box_sum(dy * ctx.x * ctx.factor / ctx.scale, xp, (n - 1) // 2)
    acc *= ctx.x
    acc *= 2.0 * p.alpha * p.beta / (n * n)
    return dy * ctx.factor - acc


def forward(
    xs: tuple[Array, ...], params: Params, weights: tuple[Array, ...] = ()
) -> tuple[tuple[Array, ...], Ctx]:
    """Normalise ``x`` (N, C, H, W); returns ``(y,)`` (same shape and dtype), ctx."""
    x = single(xs, "LRN")
    no_weights(weights, "LRN")
    xp = get_array_module(x)
    check_rank(x, 4, "LRN")
    if x.dtype.kind != "f":
        raise ValueError(f"LRN: expected a floating-point array, got {x.dtype}")
    n = params.local_size
    if params.norm_region is NormRegion.WITHIN_CHANNEL:
        y, scale, factor = _within_forward(x, xp, params)
        return (y,), Ctx(params, x, scale, factor)
    if cuda_ops.wanted(x):  # fused CUDA kernel (kernels/cuda/lrn.cu)
        y, scale, factor = cuda_ops.lrn_forward(
            x, n, params.alpha, params.beta, params.k
        )
        return (y,), Ctx(params, x, scale, factor)
    y, scale, factor = (xp.empty_like(x) for _ in range(3))
    for rows in _row_bands(xp, x.shape, x.itemsize):
        xb, sb = x[:, :, rows], scale[:, :, rows]
        sq = xp.multiply(xb, xb, out=scratch(xp, "lrn.sq", xb.shape, x.dtype))
        _window_sum(sq, xp, (n - 1) // 2, n // 2, out=sb)
        sb *= params.alpha / n
        sb += params.k
        fb = _neg_pow(sb, xp, params.beta, out=factor[:, :, rows])
        xp.multiply(xb, fb, out=y[:, :, rows])
    return (y,), Ctx(params, x, scale, factor)


def backward(dys: tuple[Array, ...], ctx: Ctx) -> tuple[Array, ...]:
    """``(dx,)``: the gradient with respect to the input (Caffe's formula, exact)."""
    dy = single(dys, "LRN backward", "gradient")
    xp = get_array_module(dy)
    if dy.shape != ctx.x.shape:
        raise ValueError(
            f"LRN backward: dy has shape {tuple(dy.shape)}, expected "
            f"{tuple(ctx.x.shape)}"
        )
    p = ctx.params
    n = p.local_size
    if p.norm_region is NormRegion.WITHIN_CHANNEL:
        return (_within_backward(dy, ctx, xp),)
    if cuda_ops.wanted(dy, ctx.x, ctx.scale, ctx.factor):
        return (
            cuda_ops.lrn_backward(dy, ctx.x, ctx.scale, ctx.factor, n, p.alpha, p.beta),
        )
    dx = xp.empty_like(dy)
    for rows in _row_bands(xp, dy.shape, dy.itemsize):
        dyb, xb, fb = dy[:, :, rows], ctx.x[:, :, rows], ctx.factor[:, :, rows]
        ratio = scratch(xp, "lrn.ratio", dyb.shape, dy.dtype)
        xp.multiply(dyb, xb, out=ratio)
        ratio *= fb
        ratio /= ctx.scale[:, :, rows]  # dy * y / s
        acc = scratch(xp, "lrn.acc", dyb.shape, dy.dtype)
        _window_sum(ratio, xp, n // 2, (n - 1) // 2, out=acc)  # adjoint window
        acc *= xb
        acc *= 2.0 * p.alpha * p.beta / n
        dxb = xp.multiply(dyb, fb, out=dx[:, :, rows])
        dxb -= acc
    return (dx,)
