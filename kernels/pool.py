"""Pooling (MAX and AVE), forward and backward; matches Caffe pooling_layer.cpp.

Output size: ``ceil((H + 2p - k)/s) + 1``, minus one if ``p > 0`` and the last
window would start at or past ``H + p`` (:func:`_geometry.pool_out_hw`);
``round_mode: FLOOR`` (newer Caffe) uses ``floor`` instead of ``ceil``.
Window ``(oh, ow)`` starts at ``(oh*s - p, ow*s - p)``.

- MAX looks only at pixels inside the image (padding never wins). Ties go to
  the first maximum in raster order of the window, and backward routes the
  whole gradient there. With ``p == 0`` and ``s > k`` Caffe's last window can
  lie entirely past the image; Caffe outputs ``-FLT_MAX`` there and so do we
  (no gradient flows).
- AVE sums the in-image part of the window and divides by the window size
  clipped to ``H + p`` *before* clipping to the image, as Caffe does (this is
  PyTorch's ``count_include_pad=True``). An empty window (see above; Caffe
  computes 0/0 there) gives 0 here.
- ``global_pooling``: kernel = (H, W), stride 1, pad 0.

Implementation: a loop over the ``kh*kw`` window offsets, each a contiguous
slice of one stride-phase plane of the padded input (``-inf`` for MAX, 0 for
AVE; see :func:`layout.split`); MAX keeps a running maximum and, branch-free, the
offset index of the first maximum (``uint8`` when it fits). Backward adds each
offset's share into the same slices of zeroed planes (one offset's slice never
repeats a position, so plain ``+=`` is exact), then interleaves them back.
Both run one block of channels at a time (:func:`layout.channel_blocks`) so that
the ``kh*kw`` passes hit the cache. A single window (global pooling) is a
plain reduction instead.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from inceptionism.kernels import _pool_layout as layout
from inceptionism.kernels import cuda_ops
from inceptionism.kernels._contract import Array, Shape, no_weights, single
from inceptionism.kernels._geometry import (
    check_rank,
    check_window,
    conv_out_size,
    pool_out_hw,
)
from inceptionism.kernels.backend import get_array_module

#: Caffe initialises its running maximum to -FLT_MAX for float and double.
_CAFFE_LOWEST = float(np.finfo(np.float32).min)

WEIGHTS: tuple[str, ...] = ()


class Pool(enum.Enum):
    MAX = "MAX"
    AVE = "AVE"


class RoundMode(enum.Enum):
    CEIL = "CEIL"
    FLOOR = "FLOOR"


@dataclass(frozen=True)
class Params:
    """Pooling parameters; ``kernel`` is ignored when ``global_pooling``."""

    pool: Pool = Pool.MAX
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)
    global_pooling: bool = False
    round_mode: RoundMode = RoundMode.CEIL

    def __post_init__(self) -> None:
        _check_params(self)


class Ctx(NamedTuple):
    pool: Pool
    in_shape: tuple[int, ...]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]
    out_hw: tuple[int, int]
    argmax: object  # MAX: first-max offset, (N, C, oh * wq) uint8/16/32; AVE: None
    inv_count: object  # AVE: 1/divisor, shape (oh, ow); MAX: None


def _check_params(p: Params) -> None:
    if not isinstance(p.pool, Pool):
        raise ValueError(f"Pooling: pool must be a Pool enum, got {p.pool!r}")
    check_window(p.kernel, p.stride, p.pad, op="Pooling")
    if not p.global_pooling and (p.pad[0] >= p.kernel[0] or p.pad[1] >= p.kernel[1]):
        raise ValueError(
            f"Pooling: pad {p.pad} must be smaller than the kernel {p.kernel} "
            "(Caffe's rule)"
        )


def _geometry(in_shape, p: Params):
    """Resolve (kernel, stride, pad, out_hw) for an input shape (N, C, H, W)."""
    _check_params(p)
    hw = tuple(in_shape[2:])
    if p.global_pooling:
        return hw, (1, 1), (0, 0), (1, 1)
    out = pool_out_hw(hw, p.kernel, p.stride, p.pad)  # also checks the fit
    if p.round_mode is RoundMode.FLOOR:
        out = tuple(conv_out_size(*a) for a in zip(hw, p.kernel, p.stride, p.pad))
    return p.kernel, p.stride, p.pad, out


def output_shapes(in_shapes: tuple[Shape, ...], params: Params) -> tuple[Shape, ...]:
    shape = tuple(single(in_shapes, "Pooling"))
    if len(shape) != 4:
        raise ValueError(f"Pooling: expected a 4-d shape (N, C, H, W), got {shape}")
    return ((*shape[:2], *_geometry(shape, params)[3]),)


def weight_shapes(in_shapes: tuple[Shape, ...], params: Params) -> dict[str, Shape]:
    return {}


def _ave_inv_count(xp, dtype, hw, kernel, stride, pad, out_hw):
    """1 / Caffe's divisor per output, shape (oh, ow)."""
    sizes = []
    for size, k, s, p, o in zip(hw, kernel, stride, pad, out_hw):
        start = np.arange(o) * s - p
        n = np.minimum(start + k, size + p) - start
        sizes.append(np.maximum(n, 1))  # empty windows (sum 0) divide by 1
    return xp.asarray(1.0 / np.outer(*sizes), dtype=dtype)


def _running_max(pairs, xp, idx_dtype):
    """Maximum over ``(index, values)`` pairs in rising index order, and the
    index of the first maximum: ``(max, argmax)``, new arrays.

    ``index`` is an int or an array (per element). Branch-free (masked
    copies are slow): strict > keeps the first maximum, and as indices rise
    ``max(argmax, better * index)`` records the new one.
    """
    first, v0 = pairs[0]
    y = v0.copy()
    argmax = xp.empty(y.shape, dtype=idx_dtype)
    argmax[...] = first
    better = xp.empty(y.shape, dtype=bool)
    mark = xp.empty(y.shape, dtype=idx_dtype)
    for index, v in pairs[1:]:
        xp.greater(v, y, out=better)
        xp.maximum(y, v, out=y)
        xp.multiply(better, index, out=mark, dtype=idx_dtype)
        xp.maximum(argmax, mark, out=argmax)
    return y, argmax


def _max_block(x, xp, kernel, stride, pad, out_hw, argmax):
    """Window maximum of one channel block, separably: rows, then columns.

    Returns the wide maximum (N, Cb, oh * wq) and writes the offset of the
    first maximum in raster order into ``argmax`` (N, Cb, oh * wq), a view
    of the ctx's. Row pass: for each row phase ``a`` and every plane row a
    window row can start on, the maximum over the ``kw`` columns and its
    first column ``j``. Column pass: the maximum of those over the ``kh``
    window rows; the first row ``i`` holding the window maximum, with its
    first ``j``, is the first maximum in raster order, offset ``i*kw + j``.
    ``kh + kw - 2`` steps instead of ``kh*kw - 1`` for stride 1. With a
    larger stride each row phase's pass covers the whole plane, not every
    ``sh``-th row, and one step per offset was faster (3x3/s2: 10-15%).
    """
    (kh, kw), (sh, sw), (oh, _) = kernel, stride, out_hw
    planes = layout.split(x, xp, kernel, stride, pad, out_hw, -np.inf)
    if stride != (1, 1):
        pairs = list(layout.views(planes, kernel, stride, out_hw))
        y, argmax[...] = _running_max(pairs, xp, argmax.dtype)
        return y
    n, c, hq, wq = planes[0][0].shape
    flat = [[p.reshape(n, c, hq * wq) for p in line] for line in planes]
    run = (oh + (kh - 1) // sh) * wq  # plane rows any window row starts on
    rows = []  # per row phase: (row max, its first column)
    for line in flat:
        pairs = []
        for j in range(kw):
            start = j // sw
            pairs.append((j, line[j % sw][..., start : start + run]))
        rows.append(_running_max(pairs, xp, argmax.dtype))
    pairs = []
    for i in range(kh):
        rmax, rarg = rows[i % sh]
        start = (i // sh) * wq
        cols = rarg[..., start : start + oh * wq]
        if i:
            cols = xp.add(cols, argmax.dtype.type(i * kw))
        pairs.append((cols, rmax[..., start : start + oh * wq]))
    y, argmax[...] = _running_max(pairs, xp, argmax.dtype)
    return y


def _ave_block(x, xp, kernel, stride, pad, out_hw):
    """Window sums of one channel block, wide (N, Cb, oh * wq)."""
    planes = layout.split(x, xp, kernel, stride, pad, out_hw, 0)
    views = layout.views(planes, kernel, stride, out_hw)
    _, v0 = next(views)
    y = v0.copy()
    for _, v in views:
        y += v
    return y


def forward(
    xs: tuple[Array, ...], params: Params, weights: tuple[Array, ...] = ()
) -> tuple[tuple[Array, ...], Ctx]:
    """``(y,)``: ``x`` pooled, and the backward context."""
    no_weights(weights, "Pooling")
    y, ctx = _forward(single(xs, "Pooling"), params)
    return (y,), ctx


def _forward(x, params: Params):
    """Pool ``x``.

    x : array (N, C, H, W), float32 or float64.
    Returns ``y`` of shape (N, C, oh, ow) (same dtype) and the backward context.
    """
    xp = get_array_module(x)
    check_rank(x, 4, "Pooling")
    if x.dtype.kind != "f":
        raise ValueError(f"Pooling: expected a floating-point array, got {x.dtype}")
    kernel, stride, pad, out_hw = _geometry(x.shape, params)
    (kh, kw), (oh, ow) = kernel, out_hw
    kk = kh * kw
    idx_dtype = np.uint8 if kk <= 256 else np.uint16 if kk <= 65536 else np.int32
    inv = argmax = None
    if params.pool is Pool.MAX and cuda_ops.wanted(x):  # kernels/cuda/pool.cu
        # the same ctx as below: int32 argmax, rows of the phase-plane width
        single = out_hw == (1, 1) and pad == (0, 0)
        wq = 1 if single else layout.plane_hw(kernel, stride, out_hw)[1]
        y, argmax = cuda_ops.max_pool_forward(x, kernel, stride, pad, out_hw, wq)
        if not single:
            argmax = argmax.reshape(*x.shape[:2], oh * wq)
        return y, Ctx(params.pool, x.shape, kernel, stride, pad, out_hw, argmax, None)
    if params.pool is Pool.AVE:
        inv = _ave_inv_count(xp, x.dtype, x.shape[2:], kernel, stride, pad, out_hw)
    if out_hw == (1, 1) and pad == (0, 0):
        # One window (global pooling): a reduction beats kh*kw tiny steps.
        win = x[:, :, :kh, :kw].reshape(*x.shape[:2], kk)
        if params.pool is Pool.MAX:
            argmax = win.argmax(axis=-1).astype(idx_dtype)[..., None, None]
            y = win.max(axis=-1)[..., None, None]
        else:
            y = win.sum(axis=-1)[..., None, None] * inv
    else:
        wq = layout.plane_hw(kernel, stride, out_hw)[1]
        y = xp.empty((*x.shape[:2], oh, ow), dtype=x.dtype)
        if params.pool is Pool.MAX:
            argmax = xp.empty((*x.shape[:2], oh * wq), dtype=idx_dtype)
        for cs in layout.channel_blocks(
            xp, x.shape, kernel, stride, out_hw, x.itemsize
        ):
            if params.pool is Pool.MAX:
                wide = _max_block(
                    x[:, cs], xp, kernel, stride, pad, out_hw, argmax[:, cs]
                )
            else:
                wide = _ave_block(x[:, cs], xp, kernel, stride, pad, out_hw)
            y[:, cs] = wide.reshape(*wide.shape[:2], oh, wq)[..., :ow]
        if params.pool is Pool.AVE:
            y *= inv
        else:
            # Windows wholly past the image (p == 0, s > k): Caffe's -FLT_MAX.
            if (oh - 1) * stride[0] - pad[0] >= x.shape[2]:
                y[:, :, -1, :] = _CAFFE_LOWEST
            if (ow - 1) * stride[1] - pad[1] >= x.shape[3]:
                y[:, :, :, -1] = _CAFFE_LOWEST
    ctx = Ctx(params.pool, x.shape, kernel, stride, pad, out_hw, argmax, inv)
    return y, ctx


def backward(dys: tuple[Array, ...], ctx: Ctx) -> tuple[Array, ...]:
    """``(dx,)``: the gradient with respect to the input."""
    return (_backward(single(dys, "Pooling backward", "gradient"), ctx),)


def _backward(dy, ctx: Ctx):
    """Gradient with respect to the input, shape ``ctx.in_shape``."""
    xp = get_array_module(dy)
    n, c, H, W = ctx.in_shape
    oh, ow = ctx.out_hw
    if tuple(dy.shape) != (n, c, oh, ow):
        raise ValueError(
            f"Pooling backward: dy has shape {tuple(dy.shape)}, expected "
            f"{(n, c, oh, ow)}"
        )
    if ctx.pool is Pool.MAX and cuda_ops.wanted(dy):  # either ctx variant
        return cuda_ops.max_pool_backward(
            dy, ctx.argmax, ctx.in_shape, ctx.kernel, ctx.stride, ctx.pad
        )
    if ctx.out_hw == (1, 1) and ctx.pad == (0, 0):
        kh, kw = ctx.kernel
        if ctx.pool is Pool.MAX:
            hit = xp.arange(kh * kw) == ctx.argmax[:, :, 0, 0, None]
            win = hit * dy[:, :, 0, :]
        else:
            win = xp.broadcast_to(dy[:, :, 0, :] * ctx.inv_count, (n, c, kh * kw))
        dx = xp.zeros(ctx.in_shape, dtype=dy.dtype)
        dx[:, :, :kh, :kw] = win.reshape(n, c, kh, kw)
        return dx
    hq, wq = layout.plane_hw(ctx.kernel, ctx.stride, ctx.out_hw)
    dx = xp.zeros(ctx.in_shape, dtype=dy.dtype)
    if ctx.pool is Pool.MAX:
        dyw = layout.widen(dy, wq, xp)
    else:
        dyw = layout.widen(dy * ctx.inv_count, wq, xp)
    for cs in layout.channel_blocks(
        xp, ctx.in_shape, ctx.kernel, ctx.stride, ctx.out_hw, dy.itemsize
    ):
        argmax = None if ctx.argmax is None else ctx.argmax[:, cs]
        planes = _backward_block(dyw[:, cs], argmax, xp, ctx, (hq, wq))
        layout.merge(planes, dx[:, cs], ctx.kernel, ctx.stride, ctx.pad, ctx.out_hw)
    return dx


def _backward_block(dyw, argmax, xp, ctx: Ctx, plane_hw):
    """Phase planes of one channel block's input gradient.

    dyw : (N, Cb, oh * wq) the widened output gradient (times 1/count for
    AVE); argmax : its (N, Cb, oh * wq) first-max offsets, or None for AVE.
    """
    n, cb = dyw.shape[:2]
    (kh, kw), (sh, sw) = ctx.kernel, ctx.stride
    planes = [
        [xp.empty((n, cb, *plane_hw), dtype=dyw.dtype) for _ in range(min(sw, kw))]
        for _ in range(min(sh, kh))
    ]
    # A plane's first offset in raster order, (i, j) = (a, b), starts at 0
    # and covers all but the plane's tail: it writes, not adds, and only the
    # tail needs zeros (no zero-fill pass, one add fewer per plane).
    run = dyw.shape[-1]
    for line in planes:
        for plane in line:
            plane.reshape(n, cb, -1)[..., run:] = 0
    views = layout.views(planes, ctx.kernel, ctx.stride, ctx.out_hw)

    def first(o):
        i, j = divmod(o, kw)
        return i < sh and j < sw

    if argmax is None:
        for o, v in views:
            if first(o):
                v[...] = dyw
            else:
                v += dyw
        return planes
    hit = xp.empty(dyw.shape, dtype=bool)
    share = xp.empty_like(dyw)
    for o, v in views:
        xp.equal(argmax, o, out=hit)
        if first(o):
            xp.multiply(dyw, hit, out=v)
        else:
            xp.multiply(dyw, hit, out=share)
            v += share
    return planes
