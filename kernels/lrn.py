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
the other way (``c - n//2 .. c + (n-1)//2``). ``WITHIN_CHANNEL`` is not
supported (no net we load uses it).

The window sum is a loop over the ``n`` channel offsets on contiguous channel
slices; ``s**-0.75`` (every Caffe net) is taken as ``1/(sqrt(s)*sqrt(sqrt(s)))``,
several times cheaper than ``pow``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from inceptionism.kernels import cuda_ops
from inceptionism.kernels._geometry import check_rank
from inceptionism.kernels.backend import get_array_module


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


class Ctx(NamedTuple):
    params: Params
    x: object  # the input
    scale: object  # s
    factor: object  # s ** -beta


_REGION_CODES = {0: NormRegion.ACROSS_CHANNELS, 1: NormRegion.WITHIN_CHANNEL}
_KNOWN = {"local_size", "alpha", "beta", "k", "norm_region", "engine"}


def params_from_caffe(d: dict) -> Params:
    """Build :class:`Params` from a Caffe ``lrn_param`` dict (Caffe defaults)."""
    unknown = set(d) - _KNOWN
    if unknown:
        raise ValueError(
            f"LRN: unknown parameter(s) {sorted(unknown)}; known: {sorted(_KNOWN)}"
        )
    region = d.get("norm_region", NormRegion.ACROSS_CHANNELS)
    if isinstance(region, int) and not isinstance(region, bool):
        region = _REGION_CODES.get(region, region)
    if not isinstance(region, NormRegion):
        try:
            region = NormRegion(str(region).upper())
        except ValueError:
            raise ValueError(
                f"LRN: unknown norm_region {region!r}; use ACROSS_CHANNELS"
            ) from None
    params = Params(
        local_size=int(d.get("local_size", 5)),
        alpha=float(d.get("alpha", 1.0)),
        beta=float(d.get("beta", 0.75)),
        k=float(d.get("k", 1.0)),
        norm_region=region,
    )
    _check_params(params)
    return params


def _check_params(p: Params) -> None:
    if p.norm_region is not NormRegion.ACROSS_CHANNELS:
        raise ValueError(
            f"LRN: norm_region {p.norm_region} is not supported; only "
            "ACROSS_CHANNELS is implemented"
        )
    if p.local_size < 1:
        raise ValueError(f"LRN: local_size must be >= 1, got {p.local_size}")


def output_shape(in_shape, params: Params) -> tuple[int, ...]:
    _check_params(params)
    if len(in_shape) != 4:
        raise ValueError(f"LRN: expected a 4-d shape (N, C, H, W), got {in_shape}")
    return tuple(in_shape)


def _window_sum(a, xp, before: int, after: int):
    """``out[:, c] = sum(a[:, c - before .. c + after])``, zero outside."""
    out = a.copy()
    C = a.shape[1]
    for d in range(1, min(before, C - 1) + 1):
        out[:, d:] += a[:, : C - d]
    for d in range(1, min(after, C - 1) + 1):
        out[:, : C - d] += a[:, d:]
    return out


def _neg_pow(s, xp, beta: float):
    """``s ** -beta`` as a new array; a sqrt chain for Caffe's beta = 0.75."""
    if beta == 0.75:
        f = xp.sqrt(s)
        f *= xp.sqrt(f)
        return xp.reciprocal(f, out=f)
    return xp.power(s, -beta)


def forward(x, params: Params):
    """Normalise ``x`` (N, C, H, W); returns ``y`` (same shape and dtype), ctx."""
    _check_params(params)
    xp = get_array_module(x)
    check_rank(x, 4, "LRN")
    if x.dtype.kind != "f":
        raise ValueError(f"LRN: expected a floating-point array, got {x.dtype}")
    n = params.local_size
    if cuda_ops.wanted(x):  # fused CUDA kernel (kernels/cuda/lrn.cu)
        y, scale, factor = cuda_ops.lrn_forward(
            x, n, params.alpha, params.beta, params.k
        )
        return y, Ctx(params, x, scale, factor)
    scale = _window_sum(x * x, xp, (n - 1) // 2, n // 2)
    scale *= params.alpha / n
    scale += params.k
    factor = _neg_pow(scale, xp, params.beta)
    return x * factor, Ctx(params, x, scale, factor)


def backward(dy, ctx: Ctx):
    """Gradient with respect to the input (Caffe's formula, exact)."""
    xp = get_array_module(dy)
    if dy.shape != ctx.x.shape:
        raise ValueError(
            f"LRN backward: dy has shape {tuple(dy.shape)}, expected "
            f"{tuple(ctx.x.shape)}"
        )
    p = ctx.params
    n = p.local_size
    if cuda_ops.wanted(dy, ctx.x, ctx.scale, ctx.factor):
        return cuda_ops.lrn_backward(
            dy, ctx.x, ctx.scale, ctx.factor, n, p.alpha, p.beta
        )
    ratio = dy * ctx.x
    ratio *= ctx.factor
    ratio /= ctx.scale  # dy * y / s
    acc = _window_sum(ratio, xp, n // 2, (n - 1) // 2)  # the adjoint window
    acc *= ctx.x
    acc *= 2.0 * p.alpha * p.beta / n
    dx = xp.multiply(dy, ctx.factor, out=ratio)
    dx -= acc
    return dx
