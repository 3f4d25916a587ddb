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

The reference below (:func:`max_forward` and friends) loops over the
``kh*kw`` window offsets of the padded input; it runs on CuPy and is the
oracle of the two fast paths: :mod:`._pool_cpu` on NumPy and the CUDA
kernels of ``cuda/pool.cu`` (MAX, when :func:`cuda_ops.wanted`). All three
keep the same ``ctx``: ``argmax`` (N, C, oh, ow) holds the offset
``i*kw + j`` of the first maximum in the unclipped window (0 for an empty one).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from inceptionism.kernels import _pool_cpu, cuda_ops
from inceptionism.kernels._contract import Array, Shape, no_weights, single
from inceptionism.kernels._geometry import (
    Window,
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
    window: Window
    argmax: Array  # MAX: first-max offsets (N, C, oh, ow), any int dtype
    inv_count: Array  # AVE: 1/divisor, shape (oh, ow)


def _check_params(p: Params) -> None:
    if not isinstance(p.pool, Pool):
        raise ValueError(f"Pooling: pool must be a Pool enum, got {p.pool!r}")
    check_window(p.kernel, p.stride, p.pad, op="Pooling")
    if not p.global_pooling and (p.pad[0] >= p.kernel[0] or p.pad[1] >= p.kernel[1]):
        raise ValueError(
            f"Pooling: pad {p.pad} must be smaller than the kernel {p.kernel} "
            "(Caffe's rule)"
        )


def _window(in_shape: Shape, p: Params) -> Window:
    """The resolved window for an input shape (N, C, H, W)."""
    hw = (int(in_shape[2]), int(in_shape[3]))
    if p.global_pooling:
        return Window(hw, (1, 1), (0, 0), (1, 1))
    out = pool_out_hw(hw, p.kernel, p.stride, p.pad)  # also checks the fit
    if p.round_mode is RoundMode.FLOOR:
        out = tuple(conv_out_size(*a) for a in zip(hw, p.kernel, p.stride, p.pad))
    return Window(p.kernel, p.stride, p.pad, out)


def output_shapes(in_shapes: tuple[Shape, ...], params: Params) -> tuple[Shape, ...]:
    shape = tuple(single(in_shapes, "Pooling"))
    if len(shape) != 4:
        raise ValueError(f"Pooling: expected a 4-d shape (N, C, H, W), got {shape}")
    return ((*shape[:2], *_window(shape, params).out_hw),)


def weight_shapes(in_shapes: tuple[Shape, ...], params: Params) -> dict[str, Shape]:
    return {}


def forward(
    xs: tuple[Array, ...], params: Params, weights: tuple[Array, ...] = ()
) -> tuple[tuple[Array, ...], Ctx]:
    """``(y,)``: ``x`` (N, C, H, W), float32 or float64, pooled; and ctx."""
    x = single(xs, "Pooling")
    no_weights(weights, "Pooling")
    check_rank(x, 4, "Pooling")
    if x.dtype.kind != "f":
        raise ValueError(f"Pooling: expected a floating-point array, got {x.dtype}")
    win = _window(x.shape, params)
    if params.pool is Pool.AVE:
        inv = _ave_inv_count(get_array_module(x), x.dtype, x.shape[2:], win)
        run = _pool_cpu.ave_forward if _pool_cpu.takes(x) else ave_forward
        return (run(x, win, inv),), Ctx(params.pool, x.shape, win, None, inv)
    if cuda_ops.wanted(x):  # kernels/cuda/pool.cu
        y, argmax = cuda_ops.max_pool_forward(x, *win)
    elif _pool_cpu.takes(x):
        y, argmax = _pool_cpu.max_forward(x, win)
    else:
        y, argmax = max_forward(x, win)
    # Windows wholly past the image (p == 0, s > k): Caffe's -FLT_MAX.
    (sh, sw), (ph, pw), (oh, ow) = win[1:]
    if (oh - 1) * sh - ph >= x.shape[2]:
        y[:, :, -1, :] = _CAFFE_LOWEST
    if (ow - 1) * sw - pw >= x.shape[3]:
        y[:, :, :, -1] = _CAFFE_LOWEST
    return (y,), Ctx(params.pool, x.shape, win, argmax, None)


def backward(dys: tuple[Array, ...], ctx: Ctx) -> tuple[Array, ...]:
    """``(dx,)``: the gradient with respect to the input."""
    dy = single(dys, "Pooling backward", "gradient")
    want = (*ctx.in_shape[:2], *ctx.window.out_hw)
    if tuple(dy.shape) != want:
        raise ValueError(
            f"Pooling backward: dy has shape {tuple(dy.shape)}, expected {want}"
        )
    if ctx.pool is Pool.AVE:
        run = _pool_cpu.ave_backward if _pool_cpu.takes(dy) else ave_backward
        return (run(dy, ctx.inv_count, ctx.in_shape, ctx.window),)
    if cuda_ops.wanted(dy):
        kernel, stride, pad, _ = ctx.window
        dx = cuda_ops.max_pool_backward(
            dy, ctx.argmax, ctx.in_shape, kernel, stride, pad
        )
        return (dx,)
    fast = _pool_cpu.max_backward if _pool_cpu.takes(dy) else max_backward
    return (fast(dy, ctx.argmax, ctx.in_shape, ctx.window),)


# -- the reference: one step per window offset ---------------------------------


def _ave_inv_count(xp, dtype, hw: Shape, win: Window) -> Array:
    """1 / Caffe's divisor per output, shape (oh, ow)."""
    sizes = []
    for size, k, s, p, o in zip(hw, *win):
        start = np.arange(o) * s - p
        n = np.minimum(start + k, size + p) - start
        sizes.append(np.maximum(n, 1))  # empty windows (sum 0) divide by 1
    return xp.asarray(1.0 / np.outer(*sizes), dtype=dtype)


def _offsets(win: Window):
    """``(i*kw + j, rows, cols)`` for each window offset in raster order: the
    slices of the padded grid (:func:`_grid`) that offset reads."""
    (kh, kw), (sh, sw), _, (oh, ow) = win
    for i in range(kh):
        for j in range(kw):
            rows = slice(i, i + sh * (oh - 1) + 1, sh)
            yield i * kw + j, rows, slice(j, j + sw * (ow - 1) + 1, sw)


def _grid(in_shape: Shape, win: Window) -> tuple[int, int, int, int]:
    """``(Hg, Wg, h, w)``: the padded grid every window lies in, and how many
    image rows and columns it holds (at ``(ph, pw)``)."""
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = win
    hg, wg = (oh - 1) * sh + kh, (ow - 1) * sw + kw
    return hg, wg, min(in_shape[2], hg - ph), min(in_shape[3], wg - pw)


def _padded(x: Array, win: Window, fill: float) -> Array:
    """``x`` on its padded grid, ``fill`` around it."""
    xp = get_array_module(x)
    hg, wg, h, w = _grid(x.shape, win)
    (ph, pw) = win.pad
    grid = xp.full((*x.shape[:2], hg, wg), fill, dtype=x.dtype)
    grid[:, :, ph : ph + h, pw : pw + w] = x[:, :, :h, :w]
    return grid


def max_forward(x: Array, win: Window) -> tuple[Array, Array]:
    """``(y, argmax)``; padding is ``-inf``, so it never wins."""
    xp = get_array_module(x)
    grid = _padded(x, win, -np.inf)
    y = argmax = None
    for o, rows, cols in _offsets(win):
        v = grid[:, :, rows, cols]
        if y is None:
            y, argmax = v.copy(), xp.zeros(v.shape, dtype=np.int32)
        else:
            better = v > y  # strict: a tie keeps the first maximum
            y = xp.where(better, v, y)
            argmax = xp.where(better, np.int32(o), argmax)
    return y, argmax


def ave_forward(x: Array, win: Window, inv_count: Array) -> Array:
    """Window sums (zero padding) times ``inv_count``."""
    grid = _padded(x, win, 0.0)
    y = sum(grid[:, :, rows, cols] for _, rows, cols in _offsets(win))
    return y * inv_count


def _scatter(dy: Array, in_shape: Shape, win: Window, share) -> Array:
    """``dx``: each offset's ``share(o)`` added back where it read, padding
    dropped (one offset never reads a position twice, so ``+=`` is exact)."""
    xp = get_array_module(dy)
    hg, wg, h, w = _grid(in_shape, win)
    (ph, pw) = win.pad
    grid = xp.zeros((*in_shape[:2], hg, wg), dtype=dy.dtype)
    for o, rows, cols in _offsets(win):
        grid[:, :, rows, cols] += share(o)
    dx = xp.zeros(in_shape, dtype=dy.dtype)
    dx[:, :, :h, :w] = grid[:, :, ph : ph + h, pw : pw + w]
    return dx


def max_backward(dy: Array, argmax: Array, in_shape: Shape, win: Window) -> Array:
    """Each output's gradient goes to its first maximum."""
    return _scatter(dy, in_shape, win, lambda o: dy * (argmax == o))


def ave_backward(dy: Array, inv_count: Array, in_shape: Shape, win: Window) -> Array:
    """Each output's gradient, over its divisor, to every position it read."""
    share = dy * inv_count
    return _scatter(dy, in_shape, win, lambda o: share)
