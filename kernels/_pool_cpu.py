"""The NumPy fast path of pooling (:mod:`.pool`): same results, in long runs.

A loop over the ``kh*kw`` window offsets, each a contiguous slice of one
stride-phase plane of the padded input (``-inf`` for MAX, 0 for AVE; see
:func:`layout.split`); MAX keeps a running maximum and, branch-free, the
offset index of the first maximum (``uint8`` when it fits), separably for
stride 1 (:func:`_max_block`). Backward adds each offset's share into the
same slices of zeroed planes (one offset's slice never repeats a position, so
plain ``+=`` is exact), then interleaves them back. Both run one block of
channels at a time (:func:`layout.channel_blocks`) so that the ``kh*kw``
passes hit the cache. A single window (global pooling) is a plain reduction.

Each function has the signature and the results of its reference in
:mod:`.pool` (``tests/kernels/test_pool_cpu.py`` holds them to it); the
argmax it returns is a view (N, C, oh, ow) of the planes' wide layout.
"""

from __future__ import annotations

import numpy as np

from inceptionism.kernels import _pool_layout as layout
from inceptionism.kernels._contract import Array, Shape
from inceptionism.kernels._geometry import Window


def takes(a: Array) -> bool:
    """This path runs NumPy arrays (CuPy ones take the reference)."""
    return isinstance(a, np.ndarray)


def _one_window(win: Window) -> bool:
    return win.out_hw == (1, 1) and win.pad == (0, 0)


def _idx_dtype(win: Window) -> type:
    kk = win.kernel[0] * win.kernel[1]
    return np.uint8 if kk <= 256 else np.uint16 if kk <= 65536 else np.int32


def _running_max(pairs, idx_dtype):
    """Maximum over ``(index, values)`` pairs in rising index order, and the
    index of the first maximum: ``(max, argmax)``, new arrays.

    ``index`` is an int or an array (per element). Branch-free (masked
    copies are slow): strict > keeps the first maximum, and as indices rise
    ``max(argmax, better * index)`` records the new one.
    """
    first, v0 = pairs[0]
    y = v0.copy()
    argmax = np.empty(y.shape, dtype=idx_dtype)
    argmax[...] = first
    better = np.empty(y.shape, dtype=bool)
    mark = np.empty(y.shape, dtype=idx_dtype)
    for index, v in pairs[1:]:
        np.greater(v, y, out=better)
        np.maximum(y, v, out=y)
        np.multiply(better, index, out=mark, dtype=idx_dtype)
        np.maximum(argmax, mark, out=argmax)
    return y, argmax


def _max_block(x: Array, win: Window, argmax: Array) -> Array:
    """Window maximum of one channel block, separably: rows, then columns.

    Returns the wide maximum (N, Cb, oh * wq) and writes the offset of the
    first maximum in raster order into ``argmax`` (N, Cb, oh * wq). Row pass:
    for each row phase ``a`` and every plane row a window row can start on,
    the maximum over the ``kw`` columns and its first column ``j``. Column
    pass: the maximum of those over the ``kh`` window rows; the first row
    ``i`` holding the window maximum, with its first ``j``, is the first
    maximum in raster order, offset ``i*kw + j``. ``kh + kw - 2`` steps
    instead of ``kh*kw - 1`` for stride 1. With a larger stride each row
    phase's pass covers the whole plane, not every ``sh``-th row, and one
    step per offset was faster (3x3/s2: 10-15%).
    """
    (kh, kw), (sh, sw), pad, (oh, _) = win
    planes = layout.split(x, np, win.kernel, win.stride, pad, win.out_hw, -np.inf)
    if win.stride != (1, 1):
        pairs = list(layout.views(planes, win.kernel, win.stride, win.out_hw))
        y, argmax[...] = _running_max(pairs, argmax.dtype)
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
        rows.append(_running_max(pairs, argmax.dtype))
    pairs = []
    for i in range(kh):
        rmax, rarg = rows[i % sh]
        start = (i // sh) * wq
        cols = rarg[..., start : start + oh * wq]
        if i:
            cols = np.add(cols, argmax.dtype.type(i * kw))
        pairs.append((cols, rmax[..., start : start + oh * wq]))
    y, argmax[...] = _running_max(pairs, argmax.dtype)
    return y


def _blocks(shape: Shape, win: Window, itemsize: int) -> list[slice]:
    return layout.channel_blocks(
        np, shape, win.kernel, win.stride, win.out_hw, itemsize
    )


def max_forward(x: Array, win: Window) -> tuple[Array, Array]:
    """``(y, argmax)`` as :func:`.pool.max_forward`."""
    n, c = x.shape[:2]
    (kh, kw), (oh, ow) = win.kernel, win.out_hw
    if _one_window(win):  # global pooling: a reduction beats kh*kw tiny steps
        flat = x[:, :, :kh, :kw].reshape(n, c, kh * kw)
        argmax = flat.argmax(axis=-1).astype(_idx_dtype(win))
        return flat.max(axis=-1)[..., None, None], argmax[..., None, None]
    wq = layout.plane_hw(win.kernel, win.stride, win.out_hw)[1]
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    wide = np.empty((n, c, oh * wq), dtype=_idx_dtype(win))
    for cs in _blocks(x.shape, win, x.itemsize):
        block = _max_block(x[:, cs], win, wide[:, cs])
        y[:, cs] = block.reshape(n, -1, oh, wq)[..., :ow]
    return y, wide.reshape(n, c, oh, wq)[..., :ow]


def ave_forward(x: Array, win: Window, inv_count: Array) -> Array:
    """``y`` as :func:`.pool.ave_forward`."""
    n, c = x.shape[:2]
    (kh, kw), (oh, ow) = win.kernel, win.out_hw
    if _one_window(win):
        flat = x[:, :, :kh, :kw].reshape(n, c, kh * kw)
        return flat.sum(axis=-1)[..., None, None] * inv_count
    wq = layout.plane_hw(win.kernel, win.stride, win.out_hw)[1]
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    for cs in _blocks(x.shape, win, x.itemsize):
        planes = layout.split(x[:, cs], np, *win, 0)
        views = layout.views(planes, win.kernel, win.stride, win.out_hw)
        _, v0 = next(views)
        block = v0.copy()
        for _, v in views:
            block += v
        y[:, cs] = block.reshape(n, -1, oh, wq)[..., :ow]
    y *= inv_count
    return y


def max_backward(dy: Array, argmax: Array, in_shape: Shape, win: Window) -> Array:
    """``dx`` as :func:`.pool.max_backward`: one scatter pass.

    Each output's first-max offset ``o = i*kw + j`` becomes the flat index of
    the input it came from, ``c*H*W + (oh*sh - ph + i)*W + (ow*sw - pw + j)``
    (max pooling pads with -inf, so it is always inside the image), and
    ``np.add.at`` adds every ``dy`` there in one pass. Measured against one
    masked pass per window offset (:func:`_backward`): 1.5-2x faster for
    3x3/s1 and 3x3/s2 at GoogLeNet sizes (``np.bincount`` with weights was
    slower: it works in float64 over the whole padded grid).
    """
    n, c, h, w = in_shape
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = win
    # a window wholly in the padding (Caffe's ceil rule allows one) has its
    # "maximum" outside the image: the offset passes drop it
    empty = (oh - 1) * sh - ph >= h or (ow - 1) * sw - pw >= w
    if _one_window(win) or empty:
        return _backward(dy, argmax, in_shape, win)
    it = np.int32 if n * c * h * w < 2**31 else np.intp
    idx = np.empty(argmax.shape, dtype=it)
    np.floor_divide(argmax, kw, out=idx, casting="unsafe")  # window row i
    idx *= w - kw  # i*W + j = o + i*(W - kw)
    idx += argmax
    rows = np.arange(oh, dtype=it) * sh - ph
    idx += (rows[:, None] * w + (np.arange(ow, dtype=it) * sw - pw)).astype(it)
    idx += (np.arange(n * c, dtype=it) * (h * w)).reshape(n, c, 1, 1)
    dx = np.zeros(in_shape, dtype=dy.dtype)
    np.add.at(dx.reshape(-1), idx.reshape(-1), dy.reshape(-1))
    return dx


def ave_backward(dy: Array, inv_count: Array, in_shape: Shape, win: Window) -> Array:
    """``dx`` as :func:`.pool.ave_backward`."""
    return _backward(dy * inv_count, None, in_shape, win)


def _backward(dy: Array, argmax, in_shape: Shape, win: Window) -> Array:
    """MAX (``argmax`` given) or AVE (``dy`` already over the divisor)."""
    n, c = in_shape[:2]
    (kh, kw) = win.kernel
    dx = np.zeros(in_shape, dtype=dy.dtype)
    if _one_window(win):
        if argmax is None:
            win_dy = np.broadcast_to(dy[:, :, 0, :], (n, c, kh * kw))
        else:
            win_dy = (np.arange(kh * kw) == argmax[:, :, 0, :]) * dy[:, :, 0, :]
        dx[:, :, :kh, :kw] = win_dy.reshape(n, c, kh, kw)
        return dx
    hq, wq = layout.plane_hw(win.kernel, win.stride, win.out_hw)
    dyw = layout.widen(dy, wq, np)
    wide = None if argmax is None else layout.widen(argmax, wq, np)
    for cs in _blocks(in_shape, win, dy.itemsize):
        arg = None if wide is None else wide[:, cs]
        planes = _backward_block(dyw[:, cs], arg, win, (hq, wq))
        layout.merge(planes, dx[:, cs], *win)
    return dx


def _backward_block(dyw: Array, argmax, win: Window, plane_hw) -> list:
    """Phase planes of one channel block's input gradient.

    dyw : (N, Cb, oh * wq) the widened output gradient (times 1/count for
    AVE); argmax : its (N, Cb, oh * wq) first-max offsets, or None for AVE.
    """
    n, cb = dyw.shape[:2]
    (kh, kw), (sh, sw) = win.kernel, win.stride
    planes = [
        [np.empty((n, cb, *plane_hw), dtype=dyw.dtype) for _ in range(min(sw, kw))]
        for _ in range(min(sh, kh))
    ]
    # A plane's first offset in raster order, (i, j) = (a, b), starts at 0
    # and covers all but the plane's tail: it writes, not adds, and only the
    # tail needs zeros (no zero-fill pass, one add fewer per plane).
    run = dyw.shape[-1]
    for line in planes:
        for plane in line:
            plane.reshape(n, cb, -1)[..., run:] = 0
    views = layout.views(planes, win.kernel, win.stride, win.out_hw)

    def first(o: int) -> bool:
        i, j = divmod(o, kw)
        return i < sh and j < sw

    if argmax is None:
        for o, v in views:
            if first(o):
                v[...] = dyw
            else:
                v += dyw
        return planes
    hit = np.empty(dyw.shape, dtype=bool)
    share = np.empty_like(dyw)
    for o, v in views:
        np.equal(argmax, o, out=hit)
        if first(o):
            np.multiply(dyw, hit, out=v)
        else:
            np.multiply(dyw, hit, out=share)
            v += share
    return planes
