"""Convolution (Caffe ``Convolution``): forward and backward to the input.

Cross-correlation with zero padding, stride, dilation and groups, as Caffe
``conv_layer.cpp`` / ``base_conv_layer.cpp``::

    y[n, o, oh, ow] = b[o] + sum_{c, i, j} w[o, c, i, j]
                      * xpad[n, g*Cg + c, oh*sh + i*dh, ow*sw + j*dw]

with ``g = o // (O/group)``, ``Cg = C/group``, and output size
``floor((H + 2p - d(k-1) - 1)/s) + 1``. Each group is one batched GEMM
``(O/g, Cg*kh*kw) @ (Cg*kh*kw, Ho*Wo)`` on the im2col matrix, whose product is
already NCHW; a 1x1 stride-1 unpadded convolution multiplies ``x`` itself.
Backward: ``dcols = W^T @ dy`` then col2im. No weight gradients. On NumPy a
strided, undilated convolution (conv1 7x7/s2) gathers its columns from
stride-phase planes instead (:func:`_forward_phased`): long contiguous runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from inceptionism.kernels import _pool_layout as layout
from inceptionism.kernels import cuda_ops
from inceptionism.kernels._contract import Array, Shape, single, weight_and_bias
from inceptionism.kernels._geometry import (
    check_bias,
    check_rank,
    check_window,
    conv_out_hw,
)
from inceptionism.kernels._im2col import (
    col2im,
    col2im_stride1,
    im2col,
    is_identity,
    padded_width,
    scratch,
)
from inceptionism.kernels.backend import get_array_module

OP = "Convolution"
#: ``forward``'s ``weights``, in order; the bias is None (or left out) when
#: ``bias_term`` is false.
WEIGHTS: tuple[str, ...] = ("weight", "bias")


@dataclass(frozen=True)
class Params:
    """Convolution parameters; pairs are ``(h, w)``."""

    num_output: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    group: int = 1
    bias_term: bool = True

    def __post_init__(self):
        check_window(self.kernel, self.stride, self.pad, self.dilation, op=OP)
        if self.num_output < 1 or self.group < 1:
            raise ValueError(
                f"{OP}: num_output and group must be >= 1, got "
                f"num_output={self.num_output}, group={self.group}"
            )
        if self.num_output % self.group:
            raise ValueError(
                f"{OP}: num_output {self.num_output} is not divisible by "
                f"group {self.group}"
            )


def output_shapes(in_shapes: tuple[Shape, ...], params: Params) -> tuple[Shape, ...]:
    """``((N, C, H, W),) -> ((N, num_output, Ho, Wo),)``."""
    shape = tuple(single(in_shapes, OP))
    if len(shape) != 4:
        raise ValueError(f"{OP}: expected (N, C, H, W), got shape {shape}")
    n, c, h, w = shape
    if c % params.group:
        raise ValueError(
            f"{OP}: input channels {c} are not divisible by group {params.group}"
        )
    ho, wo = conv_out_hw(
        (h, w), params.kernel, params.stride, params.pad, params.dilation
    )
    return ((n, params.num_output, ho, wo),)


def weight_shapes(in_shapes: tuple[Shape, ...], params: Params) -> dict[str, Shape]:
    """``weight`` (num_output, C/group, kh, kw); ``bias`` (num_output,) if
    ``bias_term``."""
    output_shapes(in_shapes, params)  # checks the input shape
    c = in_shapes[0][1]
    out: dict[str, Shape] = {
        "weight": (params.num_output, c // params.group, *params.kernel)
    }
    if params.bias_term:
        out["bias"] = (params.num_output,)
    return out


class Ctx(NamedTuple):
    """What backward needs: conv is linear in x, so x itself is not kept."""

    in_shape: tuple
    params: Params
    weight: object  # (O, C/group, kh, kw), cast to the input's dtype


def _check_weights(x, params: Params, weight, bias) -> None:
    c = x.shape[1]
    want = (params.num_output, c // params.group, *params.kernel)
    if weight.ndim != 4 or weight.shape[0] != want[0] or weight.shape[2:] != want[2:]:
        raise ValueError(
            f"{OP}: weight shape {tuple(weight.shape)} does not match "
            f"num_output={params.num_output}, kernel={params.kernel}; expected "
            f"(num_output, C/group, kh, kw) = {want}"
        )
    if weight.shape[1] * params.group != c:
        raise ValueError(
            f"{OP}: channel mismatch: input has {c} channels but weight "
            f"expects {weight.shape[1]} x group {params.group} = "
            f"{weight.shape[1] * params.group}"
        )
    check_bias(bias, params.bias_term, params.num_output, OP)


def _grouped(weight, group: int):
    """OIHW -> ``(group, O/group, Cg*kh*kw)`` (a view)."""
    o = weight.shape[0]
    return weight.reshape(group, o // group, -1)


def _phased(a, p: Params) -> bool:
    """Strided, undilated, NumPy (no CUDA kernels wanted): im2col from phase
    planes (below)."""
    numpy = get_array_module(a) is np and not cuda_ops.wanted(a)
    return numpy and p.stride != (1, 1) and p.dilation == (1, 1)


def _forward_phased(x, p: Params, weight, out_hw):
    """:func:`forward` for a stride > 1 (conv1 7x7/s2) on NumPy.

    The padded input split into stride-phase planes (the layout of max
    pooling, :mod:`._pool_layout`) makes each kernel offset one contiguous
    run of a flattened plane, so im2col copies long runs instead of every
    ``s``-th element, into ``(N, C, kh, kw, Ho*Wq)``; the GEMM's filler
    columns ``q >= Wo`` are cropped.
    """
    n, c = x.shape[:2]
    (kh, kw), (ho, wo), g = p.kernel, out_hw, p.group
    planes = layout.split(x, np, p.kernel, p.stride, p.pad, out_hw, 0)
    run = ho * layout.plane_hw(p.kernel, p.stride, out_hw)[1]
    # im2col's own buffer: the same size, and dead once the GEMM has run
    cols = scratch(np, "im2col.cols", (n, c, kh * kw, run), x.dtype)
    for o, v in layout.views(planes, p.kernel, p.stride, out_hw):
        cols[:, :, o] = v
    wide = np.empty((n, p.num_output, run), dtype=x.dtype)  # not kept
    og = p.num_output // g
    np.matmul(
        _grouped(weight, g),
        cols.reshape(n, g, -1, run),
        out=wide.reshape(n, g, og, run),
    )
    return wide.reshape(n, p.num_output, ho, -1)[..., :wo].copy()


def _backward_phased(dy, ctx: Ctx, gemm):
    """:func:`backward` for :func:`_forward_phased`: ``W^T @ dy`` with zero
    filler columns, each offset's run added into its phase plane, planes
    interleaved back (padding dropped)."""
    p = ctx.params
    n, c = ctx.in_shape[:2]
    (kh, kw), out_hw = p.kernel, tuple(dy.shape[2:])
    hq, wq = layout.plane_hw(p.kernel, p.stride, out_hw)
    dyw = layout.widen(dy, wq, np)
    dcols = scratch(np, "conv.dcols", (n, c, kh * kw, out_hw[0] * wq), dy.dtype)
    gemm(dyw, dcols)
    sh, sw = p.stride
    planes = [
        [np.zeros((n, c, hq, wq), dtype=dy.dtype) for _ in range(min(sw, kw))]
        for _ in range(min(sh, kh))
    ]
    for o, v in layout.views(planes, p.kernel, p.stride, out_hw):
        v += dcols[:, :, o]
    dx = np.zeros(ctx.in_shape, dtype=dy.dtype)
    layout.merge(planes, dx, p.kernel, p.stride, p.pad, out_hw)
    return dx


def forward(
    xs: tuple[Array, ...], params: Params, weights: tuple[Array, ...] = ()
) -> tuple[tuple[Array, ...], Ctx]:
    """``(y,)`` with y = conv(x, weight) + bias.

    x : ndarray, shape (N, C, H, W), float32 or float64
    weights : (weight, bias): weight (num_output, C/group, kh, kw); bias
        (num_output,), or None / left out without bias_term
    returns : ((y of shape (N, num_output, Ho, Wo) and x's dtype,), Ctx)
    """
    x = single(xs, OP)
    weight, bias = weight_and_bias(weights, OP)
    return _forward(x, params, weight, bias)


def _forward(x, params: Params, weight, bias):
    check_rank(x, 4, OP)
    _check_weights(x, params, weight, bias)
    xp = get_array_module(x)
    n, c, h, w = x.shape
    out_hw = conv_out_hw(
        (h, w), params.kernel, params.stride, params.pad, params.dilation
    )
    g = params.group
    weight = weight.astype(x.dtype, copy=False)
    if _phased(x, params):
        y = _forward_phased(x, params, weight, out_hw)
        if bias is not None:
            y += bias.astype(x.dtype, copy=False).reshape(1, -1, 1, 1)
        return (y,), Ctx(tuple(x.shape), params, weight)
    cols = im2col(x, params.kernel, params.stride, params.pad, params.dilation, out_hw)
    y = xp.empty((n, params.num_output, *out_hw), dtype=x.dtype)
    # (g, Og, K) @ (N, g, K, P) -> (N, g, Og, P): one GEMM per (item, group),
    # written straight into y, which is NCHW already.
    xp.matmul(
        _grouped(weight, g),
        cols.reshape(n, g, -1, out_hw[0] * out_hw[1]),
        out=y.reshape(n, g, params.num_output // g, -1),
    )
    if bias is not None:
        y += bias.astype(x.dtype, copy=False).reshape(1, -1, 1, 1)
    return (y,), Ctx(tuple(x.shape), params, weight)


def backward(dys: tuple[Array, ...], ctx: Ctx) -> tuple[Array, ...]:
    """``(dx,)`` with dx = col2im(W^T @ dy)."""
    return (_backward(single(dys, f"{OP} backward", "gradient"), ctx),)


def _backward(dy, ctx: Ctx):
    """dx = col2im(W^T @ dy).

    dy : ndarray, shape (N, num_output, Ho, Wo)
    returns : dx of shape ctx.in_shape, dy's dtype
    """
    xp = get_array_module(dy)
    p = ctx.params
    n, c, h, w = ctx.in_shape
    ho, wo = conv_out_hw((h, w), p.kernel, p.stride, p.pad, p.dilation)
    if tuple(dy.shape) != (n, p.num_output, ho, wo):
        raise ValueError(
            f"{OP}: upstream gradient shape {tuple(dy.shape)} does not match "
            f"the output shape {(n, p.num_output, ho, wo)}"
        )
    g, og = p.group, p.num_output // p.group
    wt = _grouped(ctx.weight.astype(dy.dtype, copy=False), g).transpose(0, 2, 1)

    def gemm(dy_, out):
        # (g, K, Og) @ (N, g, Og, P) -> (N, g, K, P), written into out
        xp.matmul(wt, dy_.reshape(n, g, og, -1), out=out.reshape(n, g, wt.shape[1], -1))

    if is_identity(p.kernel, p.stride, p.pad):
        dx = xp.empty((n, c, h, w), dtype=dy.dtype)
        gemm(dy, dx)
        return dx
    kh, kw = p.kernel
    if _phased(dy, p):
        return _backward_phased(dy, ctx, gemm)
    if p.stride == (1, 1):
        # Zero columns past Wo give dcols the padded-width layout, where
        # col2im adds one long run per kernel offset.
        _, wp = padded_width((ho, wo), (h, w), p.pad)
        dyp = scratch(xp, "conv.dy", (n, p.num_output, ho, wp), dy.dtype)
        dyp[..., wo:] = 0
        dyp[..., :wo] = dy
        dcols = scratch(xp, "conv.dcols", (n, c, kh, kw, ho * wp), dy.dtype)
        gemm(dyp, dcols)
        return col2im_stride1(dcols, (h, w), p.kernel, p.pad, p.dilation)
    dcols = scratch(xp, "conv.dcols", (n, c, kh, kw, ho, wo), dy.dtype)
    gemm(dy, dcols)
    return col2im(dcols, (h, w), p.stride, p.pad, p.dilation)
