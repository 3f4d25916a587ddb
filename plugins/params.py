"""Built-in image parameterisations: the pixels, and lucid's Fourier image.

A :class:`Parameterization` is what the dream loop's step climbs: it maps the
(preprocessed) image ``x`` (N, 3, H, W) to a parameter ``p``
(:meth:`~Parameterization.from_image`), back (:meth:`~Parameterization.to_image`)
and pulls an image gradient back to the parameter
(:meth:`~Parameterization.backward`, the vector-Jacobian product of
``to_image``). The step is then ``p += step_size / mean|g_p| * g_p`` and
``x = to_image(p)`` (:func:`step`).

Because the image is converted to the parameter at every step, octaves,
jitter, masks and tiling mean what they mean for pixels: a parameterisation
only changes the *geometry* of the ascent. ``pixel`` (the default) is the
identity and leaves the notebook's dream bit for bit as it was.

CLI: ``dream --param pixel|fft[:DECAY]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inceptionism.kernels.backend import get_array_module
from inceptionism.plugins.hookspecs import hookimpl
from inceptionism.plugins.priors import COLOR_CORRELATION_SVD_SQRT


class Parameterization:
    """The image as a function of a parameter (default: the pixels themselves).

    ``mean`` (per-channel, network channel order) and ``scale`` (pixel range)
    describe the network's preprocessing; :meth:`bind` receives them from the
    dream loop before the first step.
    """

    mean: Any = None
    scale: float = 255.0
    channel_order: str = "BGR"

    def bind(self, mean, scale: float, channel_order: str = "BGR") -> None:
        """Called once by the dream loop with the net's preprocessing."""
        self.mean, self.scale, self.channel_order = mean, float(scale), channel_order

    def from_image(self, x):
        return x

    def to_image(self, p):
        return p

    def backward(self, p, g):
        """d(value)/dp given ``g`` = d(value)/d(to_image(p))."""
        return g

    def __repr__(self):
        return "pixel"


class Pixel(Parameterization):
    """The pixels are the parameter (the notebook's dream; the default)."""

    usage = "pixel"


def rfft2d_freqs(h: int, w: int) -> np.ndarray:
    """Spatial frequency magnitude of each bin of ``rfft2`` of an (h, w) image
    (lucid ``rfft2d_freqs``, with NumPy's ``rfftfreq`` so odd widths keep
    exactly ``w // 2 + 1`` bins)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    return np.sqrt(fx * fx + fy * fy)


def _colour_matrix(order: str) -> np.ndarray:
    """lucid's ``color_correlation_normalized`` (3x3) in ``order``: decorrelated
    colour ``y`` maps to ``C @ y``."""
    c = np.asarray(COLOR_CORRELATION_SVD_SQRT, dtype=np.float64)
    c = c / np.linalg.norm(c, axis=0).max()
    return c[::-1].copy() if order == "BGR" else c  # rows: output channels


class FFT(Parameterization):
    """lucid's Fourier image: a 1/f spectrum in decorrelated colour.

    ``fft_image`` + ``to_valid_rgb``: a 1/f-scaled spectrum in a
    decorrelated colour space, squashed into the valid pixel range.

    With ``s = 1 / max(f, 1 / max(H, W)) ** decay`` per frequency bin ``f``
    (:func:`rfft2d_freqs`), ``C`` the square root of ImageNet's colour
    covariance normalised to unit largest column (lucid
    ``color_correlation_svd_sqrt``), the parameter ``p`` = (real, imaginary)
    parts, shape (2, N, 3, H, W // 2 + 1)::

        t   = irfft2(s * (p_re + i p_im), norm="ortho") / 4      # (N, 3, H, W)
        u   = sigmoid(C t)                                       # 0..1, per pixel
        x   = scale * u - mean                                   # preprocessed

    A gradient step on ``p`` moves low frequencies more (1/f, the spectrum
    of natural images) and colours along ImageNet's principal axes, which
    is what makes lucid's visualisations crisp (Olah, Mordvintsev &
    Schubert, "Feature Visualization", Distill 2017; Mordvintsev et al.,
    "Differentiable Image Parameterizations", Distill 2018). The image is
    always a valid picture (the sigmoid), so ``clip`` never bites.
    :meth:`from_image` inverts the chain (pixels within ``eps`` of 0 or
    ``scale`` are first pulled inside, since the sigmoid never reaches them).

    ``step_scale``: the loop's normalised step would move every spectral
    coefficient by ``step_size`` on average, but the 1/f scale multiplies the
    lowest frequencies' moves by up to ``max(H, W)``; the pixel-sized
    ``step_size`` (1.5) is therefore multiplied by ``1/150`` here (0.01 per
    coefficient). Measured on a synthetic edge unit (tests/engine/
    test_fvis_edge.py): at 1/30, a third of the pixels saturate within two
    steps and the orientation is lost; at 1/150 none do.
    """

    usage = "fft[:DECAY]"
    step_scale = 1.0 / 150.0
    eps = 1e-3

    def __init__(self, decay=1.0):
        try:
            self.decay = float(decay)
        except (TypeError, ValueError):
            raise ValueError(f"fft decay must be a number, got {decay!r}") from None
        if not 0.0 <= self.decay <= 4.0:
            raise ValueError(f"fft decay must be in [0, 4], got {self.decay}")

    def _spectrum_scale(self, h: int, w: int, xp, dtype):
        s = 1.0 / np.maximum(rfft2d_freqs(h, w), 1.0 / max(h, w)) ** self.decay
        return xp.asarray(s, dtype=dtype)

    def _colour(self, xp, dtype):
        return xp.asarray(_colour_matrix(self.channel_order), dtype=dtype)

    def _mean(self, x):
        xp = get_array_module(x)
        return xp.asarray(self.mean, dtype=x.dtype).reshape(-1, 1, 1)

    def from_image(self, x):
        xp = get_array_module(x)
        u = (x + self._mean(x)) / self.scale
        u = xp.clip(u, self.eps, 1.0 - self.eps)
        logit = xp.log(u) - xp.log1p(-u)
        cinv = xp.asarray(np.linalg.inv(_colour_matrix(self.channel_order)))
        t = xp.einsum("ij,njhw->nihw", cinv.astype(x.dtype), logit)
        h, w = x.shape[-2:]
        self._width = int(w)  # an rfft spectrum does not say if w was odd
        spec = xp.fft.rfft2(4.0 * t, norm="ortho") / self._spectrum_scale(
            h, w, xp, x.dtype
        )
        return xp.stack([spec.real, spec.imag]).astype(x.dtype)

    def _shape(self, p) -> tuple[int, int]:
        h, wf = p.shape[-2:]
        w = getattr(self, "_width", None)
        return h, (2 * (wf - 1) if w is None else w)

    def to_image(self, p):
        xp = get_array_module(p)
        h, w = self._shape(p)
        spec = (p[0] + 1j * p[1]) * self._spectrum_scale(h, w, xp, p.dtype)
        t = xp.fft.irfft2(spec, s=(h, w), norm="ortho").astype(p.dtype) / 4.0
        c = xp.einsum("ij,njhw->nihw", self._colour(xp, p.dtype), t)
        u = 0.5 * (xp.tanh(0.5 * c) + 1.0)  # sigmoid, without overflow
        return (self.scale * u - self._mean(u)).astype(p.dtype)

    def backward(self, p, g):
        xp = get_array_module(p)
        h, w = self._shape(p)
        u = (self.to_image(p) + self._mean(g)) / self.scale
        gc = g * self.scale * u * (1.0 - u)  # through the sigmoid
        gt = xp.einsum("ij,nihw->njhw", self._colour(xp, g.dtype), gc) / 4.0
        # irfft2 (ortho) pulls back to c_l * rfft2 (ortho): every column but
        # the 0th (and the Nyquist one of an even width) stands for two
        # conjugate bins of the full spectrum.
        gs = xp.fft.rfft2(gt, norm="ortho")
        double = np.full(gs.shape[-1], 2.0)
        double[0] = 1.0
        if w % 2 == 0:
            double[-1] = 1.0
        gs = (
            gs
            * xp.asarray(double, dtype=g.dtype)
            * self._spectrum_scale(h, w, xp, g.dtype)
        )
        return xp.stack([gs.real, gs.imag]).astype(g.dtype)

    def __repr__(self):
        return "fft" if self.decay == 1.0 else f"fft:{self.decay:g}"


def step(param: Parameterization, x, g, step_size: float, watch=None, n: int = 0):
    """One normalised ascent step of ``x`` along the image gradient ``g``
    through ``param``: ``p += step_size / mean|g_p| * g_p`` (no update when
    ``g_p == 0``); returns the new image. For :class:`Pixel` exactly the
    notebook's ``x += step_size / mean(|g|) * g``."""
    xp = get_array_module(x)
    step_size = step_size * getattr(param, "step_scale", 1.0)
    p = param.from_image(x)
    gp = param.backward(p, g)
    a = xp.abs(gp)
    m = a.mean()
    k = (step_size / xp.where(m > 0, m, xp.ones_like(m))).astype(p.dtype)
    if watch is not None:  # g == 0: no update (k = step_size), no 0/0
        watch.step(m, n, k)
    if a.dtype != p.dtype or a.shape != p.shape:
        return param.to_image(p + k * gp)
    # p + k * gp computed in |gp|'s buffer (ours alone): the same bits, one
    # picture-sized array fewer; p and gp may be the caller's, never written
    xp.multiply(k, gp, out=a)
    return param.to_image(xp.add(p, a, out=a))


@hookimpl
def inceptionism_params():
    return {"pixel": Pixel, "fft": FFT}
