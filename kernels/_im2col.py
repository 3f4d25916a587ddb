"""im2col / col2im: windowed views of an NCHW array laid out for one GEMM.

``im2col`` turns ``x`` of shape ``(N, C, H, W)`` into ``cols`` of shape
``(N, C, kh, kw, Ho, Wo)`` with::

    cols[n, c, i, j, oh, ow] = xpad[n, c, oh*sh + i*dh, ow*sw + j*dw]

where ``xpad`` is ``x`` zero-padded by ``(ph, pw)``. Reshaped to
``(N, C*kh*kw, Ho*Wo)`` (a free view, C outermost so groups split cleanly)
it multiplies an OIHW weight reshaped to ``(O, C*kh*kw)`` and the product is
already NCHW. ``col2im`` is its adjoint: it scatters ``cols`` back by
summation. Both loop only over the ``kh*kw`` kernel offsets; each step moves
one strided ``(N, C, Ho, Wo)`` block, so there is no ``add.at``. Same layout
as Caffe ``im2col.cpp`` (which uses one image at a time).

On a GPU both are CUDA kernels (``cuda/im2col.cu``, same layout); NumPy's
faster layouts for convolution are in :mod:`._conv_cpu`.

Work arrays come from :func:`scratch`: large fresh arrays cost a page fault
per 4 KiB on every call, which doubled im2col's time at 1024x768.
"""

from __future__ import annotations

import math
import threading

from inceptionism.kernels import cuda_ops
from inceptionism.kernels.backend import get_array_module

_local = threading.local()


def scratch(xp, name: str, shape, dtype):
    """A reusable work array (contents undefined), one per name and thread.

    Each ``(name, array module, dtype)`` keeps one flat buffer, grown on
    demand and viewed with ``shape``; a second call with the same name hands
    out the same memory, so callers must be done with the previous one.
    """
    buffers = _local.__dict__.setdefault("buffers", {})
    # a CuPy buffer belongs to the device that was current when it was made
    device = xp.cuda.runtime.getDevice() if xp.__name__ == "cupy" else None
    key = (name, xp.__name__, device, xp.dtype(dtype).str)
    size = math.prod(int(n) for n in shape)
    buf = buffers.get(key)
    if buf is None or buf.size < size:
        buf = buffers[key] = xp.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


def release_scratch() -> None:
    """Free this thread's work arrays (they are re-made on the next call)."""
    _local.__dict__.pop("buffers", None)


def is_identity(kernel, stride, pad) -> bool:
    """A 1x1, stride-1, unpadded window: cols is x itself (no copy)."""
    return kernel == (1, 1) and stride == (1, 1) and pad == (0, 0)


def _offset_slices(i, j, stride, dilation, out_hw):
    """Slices of the padded input read by kernel offset ``(i, j)``."""
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_hw
    h0, w0 = i * dh, j * dw
    return slice(h0, h0 + sh * (ho - 1) + 1, sh), slice(w0, w0 + sw * (wo - 1) + 1, sw)


def im2col(x, kernel, stride, pad, dilation, out_hw):
    """Gather every window of ``x`` into ``cols`` (a scratch array).

    x : ndarray, shape (N, C, H, W)
    returns : ndarray, shape (N, C, kh, kw, Ho, Wo), dtype of ``x``; valid
    until the next call
    """
    n, c, h, w = x.shape
    if is_identity(kernel, stride, pad):
        return x.reshape(n, c, 1, 1, h, w)
    xp = get_array_module(x)
    (kh, kw), (ph, pw) = kernel, pad
    if cuda_ops.wanted(x):  # kernels/cuda/im2col.cu, no padded copy
        cols = scratch(xp, "im2col.cols", (n, c, kh, kw, *out_hw), x.dtype)
        return cuda_ops.im2col(x, kernel, stride, pad, dilation, out_hw, out=cols)
    if pad != (0, 0):
        xpad = scratch(xp, "im2col.xpad", (n, c, h + 2 * ph, w + 2 * pw), x.dtype)
        # zero only the border: the interior is overwritten next
        xpad[:, :, :ph] = 0
        xpad[:, :, ph + h :] = 0
        xpad[:, :, ph : ph + h, :pw] = 0
        xpad[:, :, ph : ph + h, pw + w :] = 0
        xpad[:, :, ph : ph + h, pw : pw + w] = x
    else:
        xpad = x
    cols = scratch(xp, "im2col.cols", (n, c, kh, kw, *out_hw), x.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _offset_slices(i, j, stride, dilation, out_hw)
            cols[:, :, i, j] = xpad[:, :, rows, columns]
    return cols


def col2im(cols, in_hw, stride, pad, dilation):
    """Sum ``cols`` back onto the input grid: the adjoint of :func:`im2col`.

    cols : ndarray, shape (N, C, kh, kw, Ho, Wo)
    returns : ndarray, shape (N, C, H, W), a new C-contiguous array
    """
    n, c, kh, kw, ho, wo = cols.shape
    h, w = in_hw
    if cuda_ops.wanted(cols):  # kernels/cuda/im2col.cu, gather form
        return cuda_ops.col2im(
            cols, (n, c, h, w), (kh, kw), stride, pad, dilation, (ho, wo)
        )
    xp = get_array_module(cols)
    ph, pw = pad
    dxpad = scratch(xp, "col2im.dxpad", (n, c, h + 2 * ph, w + 2 * pw), cols.dtype)
    dxpad.fill(0)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _offset_slices(i, j, stride, dilation, (ho, wo))
            dxpad[:, :, rows, columns] += cols[:, :, i, j]
    # a copy even when already contiguous: dxpad is a work array
    return dxpad[:, :, ph : ph + h, pw : pw + w].copy()
