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
AVE; see :func:`_split`); MAX keeps a running maximum and, branch-free, the
offset index of the first maximum (``uint8`` when it fits). Backward adds each
offset's share into the same slices of zeroed planes (one offset's slice never
repeats a position, so plain ``+=`` is exact), then interleaves them back.
A single window (global pooling) is a plain reduction instead.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from inceptionism.kernels import cuda_ops
from inceptionism.kernels._geometry import (
    check_rank,
    check_window,
    conv_out_size,
    pair,
    pool_out_hw,
)
from inceptionism.kernels.backend import get_array_module

#: Caffe initialises its running maximum to -FLT_MAX for float and double.
_CAFFE_LOWEST = float(np.finfo(np.float32).min)


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


class Ctx(NamedTuple):
    pool: Pool
    in_shape: tuple[int, ...]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]
    out_hw: tuple[int, int]
    argmax: object  # MAX: first-max offset, (N, C, oh * wq) uint8/16/32; AVE: None
    inv_count: object  # AVE: 1/divisor, shape (oh, ow); MAX: None


_POOL_CODES = {0: Pool.MAX, 1: Pool.AVE, 2: "STOCHASTIC"}
_ROUND_CODES = {0: RoundMode.CEIL, 1: RoundMode.FLOOR}
_KNOWN = {
    "pool", "kernel_size", "kernel_h", "kernel_w", "stride", "stride_h",
    "stride_w", "pad", "pad_h", "pad_w", "global_pooling", "round_mode", "engine",
}  # fmt: skip


def _enum(value, enum_cls, codes, what):
    """An enum from itself, its prototxt name or its protobuf number."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = codes.get(value, value)
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(str(value).upper())
    except ValueError:
        raise ValueError(
            f"Pooling: {what} {value!r} is not supported; use one of "
            f"{', '.join(m.value for m in enum_cls)}"
        ) from None


def _hw(d, name, default):
    """Caffe's ``name`` or ``name_h``/``name_w`` (``kernel_size`` for kernel)."""
    key = "kernel_size" if name == "kernel" else name
    both = f"{name}_h" in d or f"{name}_w" in d
    if key in d and both:
        raise ValueError(f"Pooling: give either {key} or {name}_h/{name}_w, not both")
    if both:
        if f"{name}_h" not in d or f"{name}_w" not in d:
            raise ValueError(f"Pooling: {name}_h and {name}_w must be given together")
        return int(d[f"{name}_h"]), int(d[f"{name}_w"])
    if key in d:
        v = d[key]
        if isinstance(v, (list, tuple)) and len(v) == 1:
            v = v[0]
        return pair(v, key)
    return default


def params_from_caffe(d: dict) -> Params:
    """Build :class:`Params` from a Caffe ``pooling_param`` dict (Caffe defaults)."""
    unknown = set(d) - _KNOWN
    if unknown:
        raise ValueError(
            f"Pooling: unknown parameter(s) {sorted(unknown)}; known: {sorted(_KNOWN)}"
        )
    pool = _enum(d.get("pool", Pool.MAX), Pool, _POOL_CODES, "pool method")
    glob = bool(d.get("global_pooling", False))
    kernel = _hw(d, "kernel", None)
    stride = _hw(d, "stride", (1, 1))
    pad = _hw(d, "pad", (0, 0))
    if glob:
        if kernel is not None:
            raise ValueError("Pooling: global_pooling takes no kernel size; drop it")
        if stride != (1, 1) or pad != (0, 0):
            raise ValueError("Pooling: global_pooling needs stride 1 and pad 0")
        kernel = (1, 1)
    elif kernel is None:
        raise ValueError("Pooling: kernel_size (or kernel_h/kernel_w) is required")
    round_mode = _enum(
        d.get("round_mode", RoundMode.CEIL), RoundMode, _ROUND_CODES, "round_mode"
    )
    params = Params(pool, kernel, stride, pad, glob, round_mode)
    _check_params(params)
    return params


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


def output_shape(in_shape, params: Params) -> tuple[int, ...]:
    if len(in_shape) != 4:
        raise ValueError(
            f"Pooling: expected a 4-d shape (N, C, H, W), got {tuple(in_shape)}"
        )
    return (*in_shape[:2], *_geometry(in_shape, params)[3])


class _Phase(NamedTuple):
    """Image positions ``first, first + s, ...`` (``count`` of them) sit at
    ``start, start + 1, ...`` of one phase plane along one axis."""

    first: int
    start: int
    count: int


def _plane_hw(kernel, stride, out_hw):
    """Phase-plane size: rows cover every window plus one (see :func:`_views`)."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    return (kh - 1) // sh + oh + 1, (kw - 1) // sw + ow


def _phases(size, k, s, p, extent):
    """Phase ``a`` (padded positions ``a, a + s, ...``) for ``a < min(s, k)``."""
    out = []
    for a in range(min(s, k)):
        first = (a - p) % s
        start = (first + p) // s
        count = min(len(range(first, size, s)), extent - start)
        out.append(_Phase(first, start, max(0, count)))
    return out


def _layout(in_shape, kernel, stride, pad, out_hw):
    hq, wq = _plane_hw(kernel, stride, out_hw)
    rows = _phases(in_shape[2], kernel[0], stride[0], pad[0], hq)
    cols = _phases(in_shape[3], kernel[1], stride[1], pad[1], wq)
    return hq, wq, rows, cols


def _image(ph: _Phase, s: int) -> slice:
    """The image positions of a phase: ``ph.first::s``, ``ph.count`` of them."""
    return slice(ph.first, ph.first + s * (ph.count - 1) + 1, s)


def _plane(ph: _Phase) -> slice:
    """Where they sit in the phase plane."""
    return slice(ph.start, ph.start + ph.count)


def _split(x, xp, kernel, stride, pad, out_hw, fill):
    """The ``fill``-padded input split into phase planes, ``planes[a][b]``.

    Plane ``(a, b)`` holds padded rows ``a, a + sh, ...`` and columns
    ``b, b + sw, ...`` contiguously, so every window offset becomes one
    contiguous slice of a flattened plane (see :func:`_views`): long SIMD
    loops instead of strided views with short rows.
    """
    (n, c), (sh, sw) = x.shape[:2], stride
    hq, wq, rows, cols = _layout(x.shape, kernel, stride, pad, out_hw)
    planes = []
    for ra in rows:
        planes.append([])
        for cb in cols:
            plane = xp.full((n, c, hq, wq), fill, dtype=x.dtype)
            if ra.count and cb.count:
                part = x[:, :, _image(ra, sh), _image(cb, sw)]
                plane[:, :, _plane(ra), _plane(cb)] = part
            planes[-1].append(plane)
    return planes


def _merge(planes, xp, in_shape, kernel, stride, pad, out_hw):
    """Inverse of :func:`_split` for gradients: drop padding, interleave."""
    (sh, sw) = stride
    _, _, rows, cols = _layout(in_shape, kernel, stride, pad, out_hw)
    dx = xp.zeros(in_shape, dtype=planes[0][0].dtype)
    for ra, line in zip(rows, planes):
        for cb, plane in zip(cols, line):
            if ra.count and cb.count:
                part = plane[:, :, _plane(ra), _plane(cb)]
                dx[:, :, _image(ra, sh), _image(cb, sw)] = part
    return dx


def _views(planes, kernel, stride, out_hw):
    """Yield ``(offset_index, view)`` for every window offset in raster order.

    Each view is a contiguous slice, shape (N, C, oh * wq), of a flattened
    phase plane: output ``(r, q)`` sits at ``r * wq + q``; columns
    ``q >= ow`` are wrap-around filler that is cropped (forward) or fed zeros
    (backward). The extra plane row keeps the last slice inside the plane.
    """
    (kh, kw), (sh, sw), (oh, _) = kernel, stride, out_hw
    n, c, hq, wq = planes[0][0].shape
    flat = [[p.reshape(n, c, hq * wq) for p in line] for line in planes]
    for i in range(kh):
        for j in range(kw):
            start = (i // sh) * wq + j // sw
            yield i * kw + j, flat[i % sh][j % sw][..., start : start + oh * wq]


def _crop(wide, out_hw, xp):
    """(N, C, oh * wq) -> (N, C, oh, ow), contiguous."""
    (oh, ow), (n, c, length) = out_hw, wide.shape
    return xp.ascontiguousarray(wide.reshape(n, c, oh, length // oh)[..., :ow])


def _widen(a, wq, xp):
    """(N, C, oh, ow) -> (N, C, oh * wq), zeros in the filler columns."""
    n, c, oh, ow = a.shape
    if wq == ow:
        return a.reshape(n, c, oh * wq)
    wide = xp.zeros((n, c, oh, wq), dtype=a.dtype)
    wide[..., :ow] = a
    return wide.reshape(n, c, oh * wq)


def _ave_inv_count(xp, dtype, hw, kernel, stride, pad, out_hw):
    """1 / Caffe's divisor per output, shape (oh, ow)."""
    sizes = []
    for size, k, s, p, o in zip(hw, kernel, stride, pad, out_hw):
        start = np.arange(o) * s - p
        n = np.minimum(start + k, size + p) - start
        sizes.append(np.maximum(n, 1))  # empty windows (sum 0) divide by 1
    return xp.asarray(1.0 / np.outer(*sizes), dtype=dtype)


def forward(x, params: Params):
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
        wq = 1 if single else _plane_hw(kernel, stride, out_hw)[1]
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
    elif params.pool is Pool.MAX:
        planes = _split(x, xp, kernel, stride, pad, out_hw, -np.inf)
        views = _views(planes, kernel, stride, out_hw)
        _, v0 = next(views)
        y = v0.copy()
        argmax = xp.zeros(y.shape, dtype=idx_dtype)
        better = xp.empty(y.shape, dtype=bool)
        mark = xp.empty(y.shape, dtype=idx_dtype)
        for o, v in views:
            # Branch-free (masked copies are slow): strict > keeps the first
            # maximum; offsets rise, so max(argmax, better*o) records o.
            xp.greater(v, y, out=better)
            xp.maximum(y, v, out=y)
            xp.multiply(better, o, out=mark, dtype=mark.dtype)
            xp.maximum(argmax, mark, out=argmax)
        y = _crop(y, out_hw, xp)
        # Windows wholly past the image (p == 0, s > k): Caffe's -FLT_MAX.
        if (oh - 1) * stride[0] - pad[0] >= x.shape[2]:
            y[:, :, -1, :] = _CAFFE_LOWEST
        if (ow - 1) * stride[1] - pad[1] >= x.shape[3]:
            y[:, :, :, -1] = _CAFFE_LOWEST
    else:
        planes = _split(x, xp, kernel, stride, pad, out_hw, 0)
        views = _views(planes, kernel, stride, out_hw)
        _, v0 = next(views)
        y = v0.copy()
        for _, v in views:
            y += v
        y = _crop(y, out_hw, xp)
        y *= inv
    ctx = Ctx(params.pool, x.shape, kernel, stride, pad, out_hw, argmax, inv)
    return y, ctx


def backward(dy, ctx: Ctx):
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
    hq, wq = _plane_hw(ctx.kernel, ctx.stride, ctx.out_hw)
    n_rows, n_cols = (
        min(ctx.stride[0], ctx.kernel[0]),
        min(ctx.stride[1], ctx.kernel[1]),
    )
    planes = [
        [xp.zeros((n, c, hq, wq), dtype=dy.dtype) for _ in range(n_cols)]
        for _ in range(n_rows)
    ]
    views = _views(planes, ctx.kernel, ctx.stride, ctx.out_hw)
    if ctx.pool is Pool.MAX:
        dyw = _widen(dy, wq, xp)
        hit = xp.empty(dyw.shape, dtype=bool)
        share = xp.empty_like(dyw)
        for o, v in views:
            xp.equal(ctx.argmax, o, out=hit)
            xp.multiply(dyw, hit, out=share)
            v += share
    else:
        share = _widen(dy * ctx.inv_count, wq, xp)
        for _, v in views:
            v += share
    return _merge(planes, xp, ctx.in_shape, ctx.kernel, ctx.stride, ctx.pad, ctx.out_hw)
