"""The NumPy fast paths of convolution (:mod:`.conv`): same results, longer runs.

- Strided, undilated forward (conv1 7x7/s2, :func:`forward`): the padded input
  split into stride-phase planes (the layout of max pooling,
  :mod:`._pool_layout`) makes each kernel offset one contiguous run of a
  flattened plane, so im2col copies long runs instead of every ``s``-th
  element, into ``(N, C, kh*kw, Ho*Wq)``; the GEMM's filler columns
  ``q >= Wo`` are cropped. Its backward adds each offset's run back into
  its phase plane and interleaves the planes.
- Stride-1 backward (:func:`col2im_stride1`): zero columns past ``Wo`` give
  ``dcols`` the *padded-width* layout ``(N, C, kh, kw, Ho*Wp)``, ``Wp = W +
  2pw``, where kernel offset ``(i, j)`` lands on one contiguous run of the
  flattened padded image, ``[i*dh*Wp + j*dw, ... + Ho*Wp)``: NumPy adds long
  rows instead of ``Ho`` rows of ``Wo`` (twice as fast at GoogLeNet sizes).

The reference (im2col, one GEMM per group, col2im) is in :mod:`.conv` and is
these paths' test oracle (``tests/kernels/test_conv_cpu.py``). ``gemm(dy,
out)`` is the reference's ``W^T @ dy`` into ``out``, passed in by it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from inceptionism.kernels import _pool_layout as layout
from inceptionism.kernels import cuda_ops
from inceptionism.kernels._contract import Array, Shape
from inceptionism.kernels._im2col import scratch

Gemm = Callable[[Array, Array], None]


def _numpy(a: Array) -> bool:
    # the CUDA host emulator of the tests runs NumPy arrays through the kernels
    return isinstance(a, np.ndarray) and not cuda_ops.wanted(a)


def forward_takes(a: Array, stride, dilation) -> bool:
    """Strided, undilated, NumPy: :func:`forward` applies."""
    return _numpy(a) and stride != (1, 1) and dilation == (1, 1)


def backward_takes(a: Array, stride, dilation) -> bool:
    """NumPy, and strided undilated or stride 1: :func:`backward` applies."""
    return forward_takes(a, stride, dilation) or (_numpy(a) and stride == (1, 1))


def forward(x: Array, weight3: Array, kernel, stride, pad, out_hw) -> Array:
    """``W @ im2col(x)`` (no bias) for a strided undilated window.

    weight3 : ``(group, O/group, Cg*kh*kw)``, x's dtype
    returns : (N, O, Ho, Wo), a new array
    """
    n, c = x.shape[:2]
    g, og = weight3.shape[:2]
    (kh, kw), (ho, wo) = kernel, out_hw
    planes = layout.split(x, np, kernel, stride, pad, out_hw, 0)
    run = ho * layout.plane_hw(kernel, stride, out_hw)[1]
    # im2col's own buffer: the same size, and dead once the GEMM has run
    cols = scratch(np, "im2col.cols", (n, c, kh * kw, run), x.dtype)
    for o, v in layout.views(planes, kernel, stride, out_hw):
        cols[:, :, o] = v
    wide = np.empty((n, g * og, run), dtype=x.dtype)  # not kept
    np.matmul(weight3, cols.reshape(n, g, -1, run), out=wide.reshape(n, g, og, run))
    return wide.reshape(n, g * og, ho, -1)[..., :wo].copy()


def backward(
    dy: Array, in_shape: Shape, kernel, stride, pad, dilation, gemm: Gemm
) -> Array:
    """``col2im(W^T @ dy)`` in the layout of :func:`forward` (strided) or the
    padded-width one (stride 1)."""
    if stride == (1, 1):
        n, o, ho, wo = dy.shape
        wp = in_shape[3] + 2 * pad[1]
        dyp = scratch(np, "conv.dy", (n, o, ho, wp), dy.dtype)
        dyp[..., wo:] = 0
        dyp[..., :wo] = dy
        dcols = scratch(np, "conv.dcols", (*in_shape[:2], *kernel, ho * wp), dy.dtype)
        gemm(dyp, dcols)
        return col2im_stride1(dcols, in_shape[2:], kernel, pad, dilation)
    n, c = in_shape[:2]
    (kh, kw), out_hw = kernel, tuple(dy.shape[2:])
    hq, wq = layout.plane_hw(kernel, stride, out_hw)
    dyw = layout.widen(dy, wq, np)
    dcols = scratch(np, "conv.dcols", (n, c, kh * kw, out_hw[0] * wq), dy.dtype)
    gemm(dyw, dcols)
    sh, sw = stride
    planes = [
        [np.zeros((n, c, hq, wq), dtype=dy.dtype) for _ in range(min(sw, kw))]
        for _ in range(min(sh, kh))
    ]
    for o, v in layout.views(planes, kernel, stride, out_hw):
        v += dcols[:, :, o]
    dx = np.zeros(in_shape, dtype=dy.dtype)
    layout.merge(planes, dx, kernel, stride, pad, out_hw)
    return dx


def col2im_stride1(cols: Array, in_hw, kernel, pad, dilation) -> Array:
    """:func:`._im2col.col2im` for stride 1, ``cols`` in the padded-width layout.

    cols : ndarray, shape (N, C, kh, kw, Ho*Wp), columns ``ow >= Wo`` zero
    returns : ndarray, shape (N, C, H, W), a new C-contiguous array
    """
    n, c = cols.shape[:2]
    (h, w), (kh, kw), (ph, pw), (dh, dw) = in_hw, kernel, pad, dilation
    hp, wp = h + 2 * ph, w + 2 * pw
    run = cols.shape[-1]
    # the zero tail of the last run can reach (kw-1)*dw past the image
    flat = scratch(np, "col2im.flat", (n, c, hp * wp + (kw - 1) * dw), cols.dtype)
    flat.fill(0)
    for i in range(kh):
        for j in range(kw):
            start = i * dh * wp + j * dw
            flat[:, :, start : start + run] += cols[:, :, i, j]
    dxpad = flat[:, :, : hp * wp].reshape(n, c, hp, wp)
    # a copy even when already contiguous: dxpad is a work array
    return dxpad[:, :, ph : ph + h, pw : pw + w].copy()
