"""Launchers for the hand-written CUDA kernels in ``kernels/cuda/*.cu``.

The op modules call these only when :func:`wanted` says so: every array is a
CuPy array of one dtype (float32 or float64) and the switch
(:func:`~inceptionism.kernels.backend.set_custom_kernels`,
``INCEPTIONISM_CUSTOM_KERNELS=0``) is on. Otherwise the ``xp`` code runs; it
is also the oracle the GPU tests compare these kernels with.

All kernels are in gather form (one thread per output element, grid-stride
loops, no atomics), so results are deterministic. Sources are compiled once
per process by CuPy (``backend.cuda_module``); each ``.cu`` file defines
``<name>_f32`` and ``<name>_f64``. Inputs are made C-contiguous first (no copy
when they already are); outputs are new arrays unless ``out`` is given.

Kernels: max-pool forward with argmax and backward (``pool.cu``), LRN forward
and backward (``lrn.cu``), im2col and col2im (``im2col.cu``), ReLU backward
(``relu.cu``).
"""

from __future__ import annotations

import functools

import numpy as np

from inceptionism.kernels.backend import (
    cuda_module,
    custom_kernels_enabled,
    get_array_module,
    is_cupy,
)

_BLOCK = 256
#: Grid-stride loops cover whatever a capped grid does not.
_MAX_BLOCKS = 1 << 30
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
_i32, _i64 = np.int32, np.int64


def wanted(*arrays) -> bool:
    """True when the CUDA kernels should run on ``arrays``: the switch is on
    and all are CuPy arrays of one dtype, float32 or float64."""
    if not custom_kernels_enabled():
        return False
    if not all(is_cupy(a) for a in arrays):
        return False
    dtype = arrays[0].dtype
    return dtype in _SUFFIX and all(a.dtype == dtype for a in arrays)


@functools.cache
def _function(filename: str, name: str):
    return cuda_module(filename).get_function(name)


def _launch(filename: str, name: str, dtype, total: int, args) -> None:
    if total == 0:
        return
    fn = _function(filename, f"{name}_{_SUFFIX[np.dtype(dtype)]}")
    blocks = min((total + _BLOCK - 1) // _BLOCK, _MAX_BLOCKS)
    fn((blocks,), (_BLOCK,), tuple(args))


def _contiguous(*arrays):
    xp = get_array_module(arrays[0])
    return [xp.ascontiguousarray(a) for a in arrays]


def _ints(*values):
    return [_i32(v) for v in values]


# -- pooling (pool.cu) ---------------------------------------------------------


def max_pool_forward(x, kernel, stride, pad, out_hw):
    """Max pooling of ``x`` (N, C, H, W).

    Returns ``y`` (N, C, oh, ow) and ``argmax`` (int32, (N, C, oh, ow)): the
    offset ``i*kw + j`` of the first maximum inside the unclipped window, the
    code the reference in kernels/pool.py stores, and 0 for a window wholly
    past the image (whose ``y`` is Caffe's ``-FLT_MAX``), as there.
    """
    (x,) = _contiguous(x)
    xp = get_array_module(x)
    n, c, h, w = x.shape
    y = xp.empty((n, c, *out_hw), dtype=x.dtype)
    argmax = xp.empty((n, c, *out_hw), dtype=xp.int32)
    geometry = _ints(h, w, *out_hw, *kernel, *stride, *pad)
    _launch(
        "pool.cu", "max_pool_forward", x.dtype, y.size,
        [x, y, argmax, _i64(y.size), *geometry],
    )  # fmt: skip
    return y, argmax


def max_pool_backward(dy, argmax, in_shape, kernel, stride, pad):
    """``dx`` (``in_shape``): each input pixel sums ``dy`` (N, C, oh, ow) of the
    windows whose ``argmax`` (the same shape, any integer dtype) chose it."""
    xp = get_array_module(dy)
    n, c, oh, ow = dy.shape
    if tuple(argmax.shape) != tuple(dy.shape):
        raise ValueError(
            f"max_pool_backward: argmax of shape {argmax.shape} does not fit "
            f"dy of shape {dy.shape}"
        )
    dy, argmax = _contiguous(dy, argmax.astype(xp.int32, copy=False))
    dx = xp.empty(tuple(in_shape), dtype=dy.dtype)
    geometry = _ints(*in_shape[2:], oh, ow, *kernel, *stride, *pad)
    _launch(
        "pool.cu", "max_pool_backward", dy.dtype, dx.size,
        [dy, argmax, dx, _i64(dx.size), *geometry],
    )  # fmt: skip
    return dx


# -- LRN (lrn.cu) --------------------------------------------------------------


def lrn_forward(x, local_size: int, alpha: float, beta: float, k: float):
    """``(y, scale, factor)`` of Caffe's ACROSS_CHANNELS LRN (see kernels/lrn.py)."""
    (x,) = _contiguous(x)
    xp = get_array_module(x)
    t = x.dtype.type
    y, scale, factor = (xp.empty_like(x) for _ in range(3))
    n = local_size
    _launch(
        "lrn.cu",
        "lrn_forward",
        x.dtype,
        x.size,
        [
            x,
            y,
            scale,
            factor,
            _i64(x.size),
            _i32(x.shape[1]),
            _i64(x.shape[2] * x.shape[3]),
            _i32((n - 1) // 2),
            _i32(n // 2),
            t(alpha / n),
            t(k),
            t(beta),
            _i32(beta == 0.75),
        ],
    )
    return y, scale, factor


def lrn_backward(dy, x, scale, factor, local_size: int, alpha: float, beta: float):
    """``dx`` of LRN from the forward's ``x``, ``scale`` and ``factor``."""
    dy, x, scale, factor = _contiguous(dy, x, scale, factor)
    xp = get_array_module(dy)
    dx = xp.empty_like(dy)
    n = local_size
    _launch(
        "lrn.cu",
        "lrn_backward",
        dy.dtype,
        dy.size,
        [
            dy,
            x,
            scale,
            factor,
            dx,
            _i64(dy.size),
            _i32(dy.shape[1]),
            _i64(dy.shape[2] * dy.shape[3]),
            _i32(n // 2),
            _i32((n - 1) // 2),
            dy.dtype.type(2.0 * alpha * beta / n),
        ],
    )
    return dx


# -- im2col / col2im (im2col.cu) ----------------------------------------------


def im2col(x, kernel, stride, pad, dilation, out_hw, out=None):
    """``cols`` (N, C, kh, kw, Ho, Wo) of ``x`` (N, C, H, W), into ``out`` if
    given (C-contiguous, that shape and dtype)."""
    (x,) = _contiguous(x)
    xp = get_array_module(x)
    n, c, h, w = x.shape
    shape = (n, c, *kernel, *out_hw)
    if out is None:
        out = xp.empty(shape, dtype=x.dtype)
    elif tuple(out.shape) != shape or not out.flags.c_contiguous:
        raise ValueError(f"im2col: out must be C-contiguous {shape}")
    geometry = _ints(h, w, *kernel, *out_hw, *stride, *pad, *dilation)
    _launch(
        "im2col.cu", "im2col", x.dtype, out.size, [x, out, _i64(out.size), *geometry]
    )
    return out


def col2im(cols, in_shape, kernel, stride, pad, dilation, out_hw):
    """``dx`` (``in_shape`` = (N, C, H, W)): every pixel sums the ``cols``
    entries (N, C, kh, kw, Ho, Wo) that read it."""
    (cols,) = _contiguous(cols)
    xp = get_array_module(cols)
    shape = (*in_shape[:2], *kernel, *out_hw)
    if tuple(cols.shape) != shape:
        raise ValueError(f"col2im: cols of shape {cols.shape}, expected {shape}")
    dx = xp.empty(tuple(in_shape), dtype=cols.dtype)
    geometry = _ints(*in_shape[2:], *kernel, *out_hw, *stride, *pad, *dilation)
    _launch(
        "im2col.cu", "col2im", cols.dtype, dx.size, [cols, dx, _i64(dx.size), *geometry]
    )
    return dx


# -- ReLU (relu.cu) ------------------------------------------------------------


def relu_backward(dy, y, negative_slope: float):
    """``dx = dy if y > 0 else negative_slope * dy`` (any shape)."""
    dy, y = _contiguous(dy, y)
    xp = get_array_module(dy)
    dx = xp.empty_like(dy)
    _launch(
        "relu.cu",
        "relu_backward",
        dy.dtype,
        dy.size,
        [dy, y, dx, _i64(dy.size), dy.dtype.type(negative_slope)],
    )
    return dx
