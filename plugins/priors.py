"""Built-in image priors: jitter, clipping, smoothing, Laplacian normalisation,
colour decorrelation.

A prior shapes each step of the dream (:class:`inceptionism.plugins.Prior`):
``before_step`` on the image, ``grad`` on the image gradient, ``after_step``
on the image. Images and gradients are preprocessed, shape (N, 3, H, W), on
the network's device; every array operation goes through ``xp``. Constant
kernels (a few numbers) are Python floats so they keep the data's dtype.

CLI specs: ``jitter[:N]``, ``clip``, ``smooth[:SIGMA]``, ``lapnorm[:LEVELS]``,
``decorrelate[:ORDER]``.
"""

from __future__ import annotations

import numpy as np

from inceptionism.kernels.backend import get_array_module
from inceptionism.plugins.base import Prior, StepState
from inceptionism.plugins.hookspecs import hookimpl


def _number(value, what: str, kind=float, minimum=0, maximum=10_000):
    """``kind(value)``, checked finite and in ``[minimum, maximum]``."""
    try:
        v = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not minimum <= v <= maximum:  # False for NaN too
        raise ValueError(
            f"{what} must be a finite number >= {minimum} and <= {maximum}, got {v}"
        )
    return v


def _along(a, axis: int, sl: slice):
    index = [slice(None)] * a.ndim
    index[axis] = sl
    return tuple(index)


# -- jitter ------------------------------------------------------------------
class Jitter(Prior):
    """Roll the image by a random (oy, ox) in [-n, n] before the step; undo after.

    Exactly google/deepdream ``dream.ipynb``'s ``make_step``: ``ox, oy =
    np.random.randint(-jitter, jitter+1, 2)`` — here ``state.rng.integers(-n,
    n + 1, 2)``, the same order — then ``np.roll(np.roll(x, ox, -1), oy,
    -2)``. The shift is kept in ``state.extras`` between the two calls.
    """

    usage = "jitter[:N]"

    def __init__(self, n=32):
        self.n = _number(n, "jitter", int)

    def before_step(self, x, state: StepState):
        ox, oy = (int(v) for v in state.rng.integers(-self.n, self.n + 1, 2))
        state.extras[self] = (ox, oy)
        state.roll = (state.roll[0] + oy, state.roll[1] + ox)
        xp = get_array_module(x)
        return xp.roll(x, (oy, ox), (-2, -1))  # one copy, the same pixels

    def after_step(self, x, state: StepState):
        ox, oy = state.extras.pop(self)
        xp = get_array_module(x)
        return xp.roll(x, (-oy, -ox), (-2, -1))

    def __repr__(self):
        return f"jitter:{self.n}"


# -- clip --------------------------------------------------------------------
class Clip(Prior):
    """Clip channel c to ``[-mean[c], scale - mean[c]]`` after each step.

    The notebook's ``np.clip(src.data, -bias, 255-bias)``: the image stays a
    valid picture (pixels 0..scale before mean subtraction).
    """

    usage = "clip"

    def after_step(self, x, state: StepState):
        xp = get_array_module(x)
        mean = xp.asarray(state.mean).astype(x.dtype, copy=False).reshape(-1, 1, 1)
        return xp.clip(x, -mean, state.scale - mean)

    def __repr__(self):
        return "clip"


# -- Gaussian smoothing --------------------------------------------------------
def gaussian_kernel(sigma: float, truncate: float = 4.0) -> tuple[float, ...]:
    """Normalised 1-D Gaussian taps, radius ``int(truncate * sigma + 0.5)``.

    The same taps as ``scipy.ndimage.gaussian_filter1d``.
    """
    radius = int(truncate * sigma + 0.5)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return tuple(float(v) for v in k / k.sum())


def smooth(g, sigma: float, truncate: float = 4.0):
    """Separable Gaussian blur over the last two axes, mirror boundaries.

    Boundary: ``d c b a | a b c d`` (scipy's ``mode="reflect"``, NumPy's
    ``pad(mode="symmetric")``), matching ``scipy.ndimage.gaussian_filter``
    on those axes. The loop runs over the 2r+1 taps, not over pixels.
    """
    if sigma == 0:
        return g
    xp = get_array_module(g)
    taps = gaussian_kernel(sigma, truncate)
    r = len(taps) // 2
    for axis in (g.ndim - 2, g.ndim - 1):
        n = g.shape[axis]
        pad = [(0, 0)] * g.ndim
        pad[axis] = (r, r)
        padded = xp.pad(g, pad, mode="symmetric")
        out = xp.zeros_like(g)
        for t, k in enumerate(taps):
            out += k * padded[_along(padded, axis, slice(t, t + n))]
        g = out
    return g


class Smooth(Prior):
    """Blur the gradient with a Gaussian of ``sigma`` pixels.

    Damps the high frequencies of each update, a cheap relative of the
    Gaussian-blur regulariser of Yosinski et al., "Understanding Neural
    Networks Through Deep Visualization" (2015), which blurs the image
    itself every few steps.
    """

    usage = "smooth[:SIGMA]"

    def __init__(self, sigma=1.0):
        self.sigma = _number(sigma, "smoothing sigma", maximum=100)

    def grad(self, g, state: StepState):
        return smooth(g, self.sigma)

    def __repr__(self):
        return f"smooth:{self.sigma:g}"


# -- Laplacian pyramid normalisation -----------------------------------------------
#: The notebook's 5-tap binomial ``[1, 4, 6, 4, 1] / 16``; its 5x5 kernel is the
#: outer product, so every 2-D operation here is two 1-D ones.
_BINOMIAL = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)


def _same_geometry(n: int) -> tuple[int, int, int]:
    """TensorFlow's ``SAME`` for k=5, stride 2: (out, pad_before, pad_after)."""
    out = -(-n // 2)
    total = max((out - 1) * 2 + 5 - n, 0)
    return out, total // 2, total - total // 2


def _down(x, axis: int):
    """``tf.nn.conv2d(.., stride 2, 'SAME')`` with the binomial, one axis."""
    xp = get_array_module(x)
    out, before, after = _same_geometry(x.shape[axis])
    pad = [(0, 0)] * x.ndim
    pad[axis] = (before, after)
    padded = xp.pad(x, pad)
    lo = 0
    for t, k in enumerate(_BINOMIAL):
        lo = lo + k * padded[_along(padded, axis, slice(t, t + 2 * out - 1, 2))]
    return lo


def _up(lo, n: int, axis: int):
    """The transpose of :func:`_down` back to length ``n``, times 2.

    ``tf.nn.conv2d_transpose(lo, k5x5 * 4, shape, [1, 2, 2, 1])``: the factor
    4 of the 2-D kernel is 2 per axis.
    """
    xp = get_array_module(lo)
    out, before, after = _same_geometry(n)
    shape = list(lo.shape)
    shape[axis] = n + before + after
    padded = xp.zeros(shape, dtype=lo.dtype)
    for t, k in enumerate(_BINOMIAL):
        padded[_along(padded, axis, slice(t, t + 2 * out - 1, 2))] += 2 * k * lo
    return padded[_along(padded, axis, slice(before, before + n))]


def lap_split(img):
    """Split into a half-size low band and the full-size high band."""
    h, w = img.shape[-2:]
    lo = _down(_down(img, img.ndim - 2), img.ndim - 1)
    lo2 = _up(_up(lo, w, img.ndim - 1), h, img.ndim - 2)
    return lo, img - lo2


def lap_split_n(img, n: int) -> list:
    """Laplacian pyramid with ``n`` splits: ``[lowest, ..., highest band]``."""
    levels = []
    for _ in range(n):
        img, hi = lap_split(img)
        levels.append(hi)
    levels.append(img)
    return levels[::-1]


def lap_merge(levels):
    """Invert :func:`lap_split_n` exactly."""
    img = levels[0]
    for hi in levels[1:]:
        h, w = hi.shape[-2:]
        img = _up(_up(img, w, img.ndim - 1), h, img.ndim - 2) + hi
    return img


def normalize_std(img, eps: float = 1e-10):
    """Divide by ``max(sqrt(mean(img^2)), eps)`` (the RMS, as the notebook)."""
    xp = get_array_module(img)
    # a device scalar: float() here would sync the GPU once per band and step
    return img / xp.maximum(xp.sqrt(xp.mean(img * img)), eps)


def lap_normalize(g, levels: int = 4):
    """The TensorFlow deepdream notebook's ``lap_normalize``.

    Splits ``g`` (N, C, H, W) into a Laplacian pyramid of ``levels`` splits
    (5x5 binomial kernel, TensorFlow ``SAME`` stride-2 convolution and its
    transpose, channels filtered independently), scales every band to unit
    RMS over all its values and merges: each frequency band moves the image
    equally, so low frequencies are no longer drowned out
    (tensorflow/examples/tutorials/deepdream/deepdream.ipynb).
    """
    return lap_merge([normalize_std(band) for band in lap_split_n(g, levels)])


class LapNorm(Prior):
    """Laplacian-pyramid gradient normalisation (:func:`lap_normalize`)."""

    usage = "lapnorm[:LEVELS]"

    def __init__(self, levels=4):
        self.levels = _number(levels, "lapnorm levels", int, minimum=1, maximum=32)

    def grad(self, g, state: StepState):
        return lap_normalize(g, self.levels)

    def __repr__(self):
        return f"lapnorm:{self.levels}"


# -- colour decorrelation ------------------------------------------------------
#: lucid's ``color_correlation_svd_sqrt`` (lucid/optvis/param/color.py): the
#: square root of ImageNet's RGB colour covariance; rows R, G, B.
COLOR_CORRELATION_SVD_SQRT = (
    (0.26, 0.09, 0.02),
    (0.27, 0.00, -0.05),
    (0.27, -0.09, 0.03),
)


def decorrelation_matrix(order: str = "bgr") -> np.ndarray:
    """``M = C C^T`` with lucid's C scaled to unit largest column norm (3x3).

    lucid optimises ``y`` with ``rgb = C y`` per pixel; a gradient step on
    ``y`` moves ``rgb`` by ``C C^T g``. ``order="bgr"`` permutes M to the
    Caffe networks' channel order.
    """
    c = np.asarray(COLOR_CORRELATION_SVD_SQRT, dtype=np.float64)
    c = c / np.linalg.norm(c, axis=0).max()
    m = c @ c.T
    if order == "bgr":
        return m[::-1, ::-1].copy()
    if order == "rgb":
        return m
    raise ValueError(f"colour order must be 'bgr' or 'rgb', got {order!r}")


class Decorrelate(Prior):
    """Precondition the gradient with ImageNet's colour correlation.

    Each pixel's gradient g (3 channels) becomes ``M g`` with
    :func:`decorrelation_matrix` — the step lucid's decorrelated colour
    parameterisation (Olah et al., "Feature Visualization", Distill 2017)
    would take, without changing how the image is stored. M is symmetric
    positive definite, so the result is still an ascent direction. The
    gradient is in network channel order, BGR for every Caffe model here
    (``order="rgb"`` for RGB networks).
    """

    usage = "decorrelate[:ORDER]"

    def __init__(self, order: str = "bgr"):
        self.order = order
        self.matrix = decorrelation_matrix(order)

    def grad(self, g, state: StepState):
        xp = get_array_module(g)
        if g.shape[-3] != 3:
            raise ValueError(f"decorrelate needs 3 colour channels, got {g.shape}")
        m = xp.asarray(self.matrix, dtype=g.dtype)
        axis = g.ndim - 3  # the channel axis
        return xp.moveaxis(xp.tensordot(m, g, axes=(1, axis)), 0, axis)

    def __repr__(self):
        return f"decorrelate:{self.order}"


@hookimpl
def inceptionism_priors():
    return {
        "jitter": Jitter,
        "clip": Clip,
        "smooth": Smooth,
        "lapnorm": LapNorm,
        "decorrelate": Decorrelate,
    }


__all__ = [
    "Clip",
    "Decorrelate",
    "Jitter",
    "LapNorm",
    "Smooth",
    "lap_normalize",
    "smooth",
]
