"""Phase-plane layout of the NumPy fast paths (:mod:`._pool_cpu`, :mod:`._conv_cpu`).

A stride-``(sh, sw)`` window over the padded input reads, for each window
offset, every ``sh``-th row and ``sw``-th column. Splitting the padded input
into ``min(s, k)`` phase planes per axis makes each offset one *contiguous*
slice of a flattened plane (:func:`views`), so the offset loop runs long
SIMD passes; :func:`merge` is the inverse for gradients and
:func:`channel_blocks` cuts the channels so that those passes stay in cache.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Target size of one channel block's phase planes (see channel_blocks).
_BLOCK_BYTES = 1 << 20


class Phase(NamedTuple):
    """Image positions ``first, first + s, ...`` (``length`` of them) sit at
    ``start, start + 1, ...`` of one phase plane along one axis."""

    first: int
    start: int
    length: int


def plane_hw(kernel, stride, out_hw):
    """Phase-plane size: rows cover every window plus one (see :func:`views`)."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    return (kh - 1) // sh + oh + 1, (kw - 1) // sw + ow


def phases(size, k, s, p, extent):
    """Phase ``a`` (padded positions ``a, a + s, ...``) for ``a < min(s, k)``."""
    out = []
    for a in range(min(s, k)):
        first = (a - p) % s
        start = (first + p) // s
        count = min(len(range(first, size, s)), extent - start)
        out.append(Phase(first, start, max(0, count)))
    return out


def layout(in_shape, kernel, stride, pad, out_hw):
    hq, wq = plane_hw(kernel, stride, out_hw)
    rows = phases(in_shape[2], kernel[0], stride[0], pad[0], hq)
    cols = phases(in_shape[3], kernel[1], stride[1], pad[1], wq)
    return hq, wq, rows, cols


def in_image(ph: Phase, s: int) -> slice:
    """The image positions of a phase: ``ph.first::s``, ``ph.length`` of them."""
    return slice(ph.first, ph.first + s * (ph.length - 1) + 1, s)


def in_plane(ph: Phase) -> slice:
    """Where they sit in the phase plane."""
    return slice(ph.start, ph.start + ph.length)


def split(x, xp, kernel, stride, pad, out_hw, fill):
    """The ``fill``-padded input split into phase planes, ``planes[a][b]``.

    Plane ``(a, b)`` holds padded rows ``a, a + sh, ...`` and columns
    ``b, b + sw, ...`` contiguously, so every window offset becomes one
    contiguous slice of a flattened plane (see :func:`views`): long SIMD
    loops instead of strided views with short rows.
    """
    (n, c), (sh, sw) = x.shape[:2], stride
    hq, wq, rows, cols = layout(x.shape, kernel, stride, pad, out_hw)
    planes = []
    for ra in rows:
        planes.append([])
        for cb in cols:
            plane = xp.full((n, c, hq, wq), fill, dtype=x.dtype)
            if ra.length and cb.length:
                part = x[:, :, in_image(ra, sh), in_image(cb, sw)]
                plane[:, :, in_plane(ra), in_plane(cb)] = part
            planes[-1].append(plane)
    return planes


def merge(planes, dx, kernel, stride, pad, out_hw):
    """Inverse of :func:`split` for gradients: drop padding, interleave the
    planes into ``dx`` (N, C, H, W), whose positions no plane covers stay
    as they are (zero)."""
    (sh, sw) = stride
    _, _, rows, cols = layout(dx.shape, kernel, stride, pad, out_hw)
    for ra, line in zip(rows, planes):
        for cb, plane in zip(cols, line):
            if ra.length and cb.length:
                part = plane[:, :, in_plane(ra), in_plane(cb)]
                dx[:, :, in_image(ra, sh), in_image(cb, sw)] = part


def views(planes, kernel, stride, out_hw):
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


def widen(a, wq, xp):
    """(N, C, oh, ow) -> (N, C, oh * wq), zeros in the filler columns."""
    n, c, oh, ow = a.shape
    if wq == ow:
        return a.reshape(n, c, oh * wq)
    wide = xp.zeros((n, c, oh, wq), dtype=a.dtype)
    wide[..., :ow] = a
    return wide.reshape(n, c, oh * wq)


def channel_blocks(xp, in_shape, kernel, stride, out_hw, itemsize):
    """Channel slices whose phase planes stay in the CPU's L2/L3 caches.

    The offset loop makes ``kh*kw`` passes over its planes; on a whole
    inception input (~10 MB at 1024x768) every pass streams from memory,
    on ~1 MB blocks they hit the cache (twice as fast here). One block on
    a GPU, where more launches only cost.
    """
    c = in_shape[1]
    if xp is not np:
        return [slice(0, c)]
    hq, wq = plane_hw(kernel, stride, out_hw)
    planes = min(stride[0], kernel[0]) * min(stride[1], kernel[1])
    per_channel = in_shape[0] * hq * wq * planes * itemsize
    step = max(1, min(c, _BLOCK_BYTES // per_channel))
    return [slice(c0, min(c, c0 + step)) for c0 in range(0, c, step)]
