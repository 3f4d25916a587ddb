"""Winograd F(2x2, 3x3): NumPy's fast path for 3x3 stride-1 convolutions.

Lavin & Gray (2015). Each 2x2 output tile is ``A^T [(G g G^T) * (B^T d
B)] A`` for the 4x4 input tile ``d`` around it, so the 9 multiplies per
output of a direct 3x3 become 4 (16 per tile of 4), done as 16 batched GEMMs
``U[k] (O, C) @ V[k] (C, tiles)`` over the transformed filters ``U`` and
tiles ``V``::

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

The transforms are separable, so each is a handful of whole-array adds on
stride-2 views (no per-tile loop). Backward to the input of a stride-1
convolution is itself a stride-1 convolution of ``dy`` (padded by ``2 - p``)
with the filters flipped and their in/out channels swapped: the same
routine. The transforms' coefficients are 0, +-1 and +-1/2, so the float32
error stays at the direct GEMM's level (``tests/kernels/test_winograd.py``
holds it to the reference im2col convolution with the project's
tolerances; F(4x4, 3x3) was measured too: see that test's module).

The reference (:mod:`.conv`'s im2col + GEMM) is the oracle; this path runs
only on NumPy arrays, for ``group == 1`` 3x3 kernels with stride and
dilation 1 and padding <= 2 (:func:`takes`).
"""

from __future__ import annotations

import numpy as np

from inceptionism.kernels._contract import Array
from inceptionism.kernels._im2col import scratch

#: Off: measured slower than the im2col GEMM on the step (see :func:`takes`).
ENABLED = False

#: Target bytes of one block's V and M (see :func:`conv`).
BLOCK_BYTES = 2 << 20

_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])


def takes(x: Array, kernel, stride, dilation, group, pad) -> bool:
    """:data:`ENABLED`, NumPy, 3x3, stride 1, undilated, one group, padding
    at most 2.

    Off by default: on the shared 2-core machine (load 10-15) a forward plus
    backward of GoogLeNet's 3x3s took 1.5-10x the im2col path's wall and CPU
    time. Its 16 GEMMs per block (2.25x fewer FLOPs in all) are 16 BLAS
    calls, and each multi-threaded OpenBLAS call waits for a descheduled
    sibling thread; the transforms, single-threaded NumPy on stride-2 views,
    cost as much as the GEMMs. Single-threaded and unloaded it was 0.88x
    the direct forward. Kept, tested, for a machine where it pays.
    """
    from inceptionism.kernels._conv_cpu import _numpy

    return (
        ENABLED
        and _numpy(x)
        and kernel == (3, 3)
        and stride == (1, 1)
        and dilation == (1, 1)
        and group == 1
        and max(pad) <= 2
    )


def filters(weight: Array) -> Array:
    """``U = G g G^T`` of an OIHW 3x3 weight, as ``(16, O, C)``."""
    g = _G.astype(weight.dtype)
    u = np.matmul(np.matmul(g, weight), g.T)  # (O, C, 4, 4)
    o, c = weight.shape[:2]
    return np.ascontiguousarray(u.reshape(o, c, 16).transpose(2, 0, 1))


def backward_filters(weight: Array) -> Array:
    """:func:`filters` of the flipped, channel-swapped weight (C, O, 3, 3)."""
    return filters(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


def _pairs(views: list, out: Array) -> None:
    """The rows of ``B^T d`` from four row views, into ``out[0..3]``."""
    r0, r1, r2, r3 = views
    np.subtract(r0, r2, out=out[0])
    np.add(r1, r2, out=out[1])
    np.subtract(r2, r1, out=out[2])
    np.subtract(r1, r3, out=out[3])


def conv(x: Array, u: Array, pad, bias: Array | None = None) -> Array:
    """Stride-1 cross-correlation of x (N, C, H, W) with the 3x3 filters
    whose :func:`filters` are ``u`` (16, O, C), zero padding ``pad``; plus
    ``bias`` (O,) if given. Returns a new (N, O, H + 2ph - 2, W + 2pw - 2)."""
    n, c, h, w = x.shape
    o = u.shape[1]
    ph, pw = pad
    ho, wo = h + 2 * ph - 2, w + 2 * pw - 2
    th, tw = -(-ho // 2), -(-wo // 2)
    hp, wp = 2 * th + 2, 2 * tw + 2
    dt = x.dtype
    # zero-padded input on the tile grid (the border only is zeroed)
    xp = scratch(np, "wino.xpad", (n, c, hp, wp), dt)
    xp[:, :, :ph] = 0
    xp[:, :, ph + h :] = 0
    xp[:, :, ph : ph + h, :pw] = 0
    xp[:, :, ph : ph + h, pw + w :] = 0
    xp[:, :, ph : ph + h, pw : pw + w] = x
    y = np.empty((n, o, 2 * th, 2 * tw), dtype=dt)
    # blocks of tile rows whose V and M stay in cache (one pass over memory)
    per_row = 16 * n * (c + o) * tw * x.itemsize
    step = max(1, min(th, BLOCK_BYTES // per_row))
    for t0 in range(0, th, step):
        t1 = min(th, t0 + step)
        _tiles(xp[:, :, 2 * t0 : 2 * t1 + 2], u, y[:, :, 2 * t0 : 2 * t1])
    if bias is not None:
        y += bias.reshape(1, -1, 1, 1)
    return y if (2 * th, 2 * tw) == (ho, wo) else y[:, :, :ho, :wo].copy()


def _tiles(xp: Array, u: Array, y: Array) -> None:
    """One block of tile rows: xp (N, C, 2bt + 2, wp) -> y (N, O, 2bt, 2tw)."""
    n, c, hp, wp = xp.shape
    o, bt, tw = u.shape[1], (hp - 2) // 2, (wp - 2) // 2
    dt = xp.dtype
    # rows: B^T d, four (N, C, bt, wp) planes
    rows = scratch(np, "wino.rows", (4, n, c, bt, wp), dt)
    _pairs([xp[:, :, k : k + 2 * bt : 2] for k in range(4)], rows)
    # columns: (B^T d) B, into V (4, 4, N, C, bt, tw)
    v = scratch(np, "wino.v", (4, 4, n, c, bt, tw), dt)
    for a in range(4):
        _pairs([rows[a, ..., k : k + 2 * tw : 2] for k in range(4)], v[a])
    # 16 GEMMs (O, C) @ (C, tiles), every image at once
    m = scratch(np, "wino.m", (16, n, o, bt * tw), dt)
    np.matmul(u[:, None], v.reshape(16, n, c, bt * tw), out=m)
    m = m.reshape(4, 4, n, o, bt, tw)
    # A^T M A: rows, then columns, straight into the output's tile grid
    s = scratch(np, "wino.s", (2, 4, n, o, bt, tw), dt)
    np.add(m[0], m[1], out=s[0])
    s[0] += m[2]
    np.subtract(m[1], m[2], out=s[1])
    s[1] -= m[3]
    for a in range(2):
        sa = s[a]
        left = y[:, :, a::2, 0::2]
        np.add(sa[0], sa[1], out=left)
        left += sa[2]
        right = y[:, :, a::2, 1::2]
        np.subtract(sa[1], sa[2], out=right)
        right -= sa[3]
