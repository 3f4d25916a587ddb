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
"""

from __future__ import annotations

from .backend import get_array_module


def _is_identity(kernel, stride, pad) -> bool:
    """A 1x1, stride-1, unpadded window: cols is x itself (no copy)."""
    return kernel == (1, 1) and stride == (1, 1) and pad == (0, 0)


def _offset_slices(i, j, stride, dilation, out_hw):
    """Slices of the padded input read by kernel offset ``(i, j)``."""
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_hw
    h0, w0 = i * dh, j * dw
    return slice(h0, h0 + sh * (ho - 1) + 1, sh), slice(w0, w0 + sw * (wo - 1) + 1, sw)


def im2col(x, kernel, stride, pad, dilation, out_hw):
    """Gather every window of ``x`` into ``cols``.

    x : ndarray, shape (N, C, H, W)
    returns : ndarray, shape (N, C, kh, kw, Ho, Wo), dtype of ``x``
    """
    if _is_identity(kernel, stride, pad):
        n, c, h, w = x.shape
        return x.reshape(n, c, 1, 1, h, w)
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (ph, pw) = kernel, pad
    if pad != (0, 0):
        xpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
        xpad[:, :, ph : ph + h, pw : pw + w] = x
    else:
        xpad = x
    cols = xp.empty((n, c, kh, kw, *out_hw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _offset_slices(i, j, stride, dilation, out_hw)
            cols[:, :, i, j] = xpad[:, :, rows, columns]
    return cols


def col2im(cols, in_hw, stride, pad, dilation):
    """Sum ``cols`` back onto the input grid: the adjoint of :func:`im2col`.

    cols : ndarray, shape (N, C, kh, kw, Ho, Wo)
    returns : ndarray, shape (N, C, H, W), C-contiguous, dtype of ``cols``
    """
    n, c, kh, kw, ho, wo = cols.shape
    h, w = in_hw
    if _is_identity((kh, kw), stride, pad):
        return cols.reshape(n, c, h, w)
    xp = get_array_module(cols)
    ph, pw = pad
    dxpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _offset_slices(i, j, stride, dilation, (ho, wo))
            dxpad[:, :, rows, columns] += cols[:, :, i, j]
    if pad == (0, 0):
        return dxpad
    return xp.ascontiguousarray(dxpad[:, :, ph : ph + h, pw : pw + w])
