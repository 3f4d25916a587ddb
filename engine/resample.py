"""Bilinear resampling on the array's device (NumPy or CuPy).

Two operations, both exactly what google/deepdream's ``dream.ipynb`` calls:

- :func:`zoom` — ``scipy.ndimage.zoom(x, factors, order=1)`` (``grid_mode``
  False): output size ``round(n * factor)`` with Python's ``round``, and
  *align-corners* sampling, output index ``j`` reads input coordinate
  ``j * (n_in - 1) / (n_out - 1)`` so the first and last samples coincide.
- :func:`zoom_in` — ``scipy.ndimage.affine_transform(x, [1-s, 1-s],
  [h*s/2, w*s/2], order=1)``: the same size out, coordinate
  ``(1 - s) * j + n * s / 2``, i.e. a zoom by ``1 / (1 - s)`` about the centre
  (the notebook's zoom-feedback step).

One deliberate difference: scipy computes the last align-corners coordinate
as e.g. ``15 * (31 / 15) = 31.000000000000004`` and, in its default
``mode="constant"``, fills that sample with 0 (a float artefact that zeroes
the last row or column at some sizes); here coordinates are clamped to the
image, i.e. scipy with ``mode="nearest"``, which the tests compare against.

Order-1 splines need no prefilter, so both are separable linear interpolation
along the two spatial axes. The interpolation weights are computed on the host
in float64 (a few hundred numbers) and moved to the array's device; the image
itself never leaves it.
"""

from __future__ import annotations

import numpy as np

from inceptionism.kernels.backend import get_array_module


def zoom_size(n: int, factor: float) -> int:
    """``round(n * factor)`` as ``scipy.ndimage.zoom`` computes output sizes."""
    return int(round(n * factor))


def _interp_axis(x, coords: np.ndarray, axis: int):
    """Linear interpolation of ``x`` along ``axis`` at float64 ``coords``.

    Coordinates are clipped to ``[0, n - 1]`` (they only leave it by rounding
    error in both callers), so no sample falls outside the image.
    """
    xp = get_array_module(x)
    n = x.shape[axis]
    coords = np.clip(coords, 0.0, n - 1)
    i0 = np.minimum(np.floor(coords).astype(np.intp), max(n - 2, 0))
    i1 = np.minimum(i0 + 1, n - 1)
    frac = coords - i0
    shape = [1] * x.ndim
    shape[axis] = len(coords)
    w1 = xp.asarray(frac.reshape(shape), dtype=x.dtype)
    a = xp.take(x, xp.asarray(i0), axis=axis)
    b = xp.take(x, xp.asarray(i1), axis=axis)
    b -= a  # a + (b - a) * w1 in b's buffer: the same bits, two copies fewer
    b *= w1
    b += a
    return b


def _align_corners(n_in: int, n_out: int) -> np.ndarray:
    """Input coordinates of ``n_out`` samples spanning ``[0, n_in - 1]``."""
    if n_out == 1:
        return np.zeros(1)  # scipy uses a zoom factor of 1 here
    return np.arange(n_out) * ((n_in - 1) / (n_out - 1))


def resize(x, size: tuple[int, int], axes: tuple[int, int] = (-2, -1)):
    """Bilinear resize of two axes of ``x`` to ``size = (h, w)``, align corners.

    x : ndarray (NumPy or CuPy), any rank, e.g. (1, 3, H, W) or (H, W, 3)
        with ``axes=(0, 1)``. Float dtypes; the result has ``x``'s dtype.

    Equals ``scipy.ndimage.zoom(x, (.., h / H, w / W, ..), order=1)`` whenever
    that call's rounded output size is ``(h, w)``.
    """
    h, w = (int(v) for v in size)
    if h < 1 or w < 1:
        raise ValueError(f"cannot resample to an empty size {h}x{w}")
    ah, aw = (a % x.ndim for a in axes)
    if x.shape[ah] != h:
        x = _interp_axis(x, _align_corners(x.shape[ah], h), ah)
    if x.shape[aw] != w:
        x = _interp_axis(x, _align_corners(x.shape[aw], w), aw)
    return x


def zoom(x, factor: float | tuple[float, float], axes: tuple[int, int] = (-2, -1)):
    """``scipy.ndimage.zoom(order=1)`` on two axes: rounded sizes, align corners.

    factor : one float for both axes, or ``(fh, fw)``.
    """
    fh, fw = (factor, factor) if isinstance(factor, (int, float)) else factor
    ah, aw = axes
    size = (zoom_size(x.shape[ah], fh), zoom_size(x.shape[aw], fw))
    return resize(x, size, axes)


def zoom_in(x, s: float = 0.05, axes: tuple[int, int] = (-2, -1)):
    """Zoom by ``1 / (1 - s)`` about the centre, keeping the size.

    Matches ``scipy.ndimage.affine_transform(x, [1-s, 1-s], [h*s/2, w*s/2],
    order=1)`` (``dream.ipynb``'s zoom feedback, ``s = 0.05``). For ``0 <= s <
    1`` and sides of at least 2 every sample lies inside the image.
    """
    if not 0.0 <= s < 1.0:
        raise ValueError(f"zoom step s={s} must be in [0, 1)")
    for axis in axes:
        n = x.shape[axis]
        coords = (1.0 - s) * np.arange(n) + n * s / 2.0
        x = _interp_axis(x, coords, axis % x.ndim)
    return x
