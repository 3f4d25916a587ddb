"""Built-in transformation robustness: random affine warps of the net's input.

Each step the dream loop draws one warp from the dream's generator
(``state.rng``, so the same seed gives the same warps and a replay is exact),
runs the network on the warped image and pulls the gradient back through the
warp's adjoint (:meth:`Warp.adjoint`, the exact transpose of the bilinear
resampling), so the image learns features that survive small shifts,
scalings and rotations (Olah, Mordvintsev & Schubert, "Feature
Visualization", Distill 2017, "Transformation robustness"; lucid
``transform.standard_transforms``).

The warp keeps the image's size: content moved in from outside the picture
is grey (mid-range, lucid's ``pad(12, constant_value=0.5)``), so tiling,
masks and every objective see the size they expect. The whole chain is one
bilinear resampling (lucid applies its transforms one by one, each
resampling again).

CLI: ``dream --transforms standard`` or ``affine:JITTER:SCALE:DEGREES``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inceptionism.kernels.backend import get_array_module
from inceptionism.plugins.hookspecs import hookimpl


@dataclass(frozen=True)
class Warp:
    """One drawn warp of an (H, W) picture: output pixel ``o`` (row, column)
    reads the input at ``q = A^-1 (o - c - t2) + c - t1`` (bilinear; grey
    outside), i.e. content at ``q`` moves to ``A (q + t1 - c) + c + t2`` with
    ``A`` = rotation by ``degrees`` times ``scale`` about the centre ``c``."""

    hw: tuple[int, int]
    shift1: tuple[int, int] = (0, 0)
    scale: float = 1.0
    degrees: float = 0.0
    shift2: tuple[int, int] = (0, 0)

    def _taps(self, xp):
        """Four (flat index, weight) taps per output pixel; weights of taps
        outside the picture are 0."""
        h, w = self.hw
        oy, ox = np.meshgrid(np.arange(h, dtype=np.float64),
                             np.arange(w, dtype=np.float64), indexing="ij")  # fmt: skip
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        a = math.radians(self.degrees)
        cos, sin = math.cos(a) / self.scale, math.sin(a) / self.scale
        dy, dx = oy - cy - self.shift2[0], ox - cx - self.shift2[1]
        # inverse rotation: R(-a) / scale
        qy = cos * dy - sin * dx + cy - self.shift1[0]
        qx = sin * dy + cos * dx + cx - self.shift1[1]
        y0, x0 = np.floor(qy), np.floor(qx)
        fy, fx = qy - y0, qx - x0
        taps = []
        for yy, xx, wt in (
            (y0, x0, (1 - fy) * (1 - fx)),
            (y0, x0 + 1, (1 - fy) * fx),
            (y0 + 1, x0, fy * (1 - fx)),
            (y0 + 1, x0 + 1, fy * fx),
        ):
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            idx = (np.clip(yy, 0, h - 1) * w + np.clip(xx, 0, w - 1)).astype(np.intp)
            taps.append((xp.asarray(idx.ravel()), np.where(inside, wt, 0.0).ravel()))
        return taps

    def apply(self, x, fill=0.0):
        """The warped ``x`` (..., H, W); ``fill`` (broadcast against x's
        leading axes, e.g. per channel (C, 1, 1)) where the warp reads
        outside the picture."""
        xp = get_array_module(x)
        flat = x.reshape(x.shape[:-2] + (-1,))
        out = 0.0
        total = 0.0
        for idx, wt in self._taps(xp):
            out = out + flat[..., idx] * xp.asarray(wt, dtype=x.dtype)
            total = total + wt
        out = out.reshape(x.shape)
        outside = xp.asarray((1.0 - total).reshape(self.hw), dtype=x.dtype)
        return out + xp.asarray(fill, dtype=x.dtype) * outside

    def adjoint(self, g):
        """The transpose of :meth:`apply` (the fill is a constant): the
        gradient at the input, for ``g`` at the output (..., H, W)."""
        xp = get_array_module(g)
        lead = g.shape[:-2]
        rows = int(np.prod(lead)) if lead else 1
        n = self.hw[0] * self.hw[1]
        gf = g.reshape(rows, n)
        offsets = xp.arange(rows).reshape(-1, 1) * n
        out = xp.zeros(rows * n, dtype=g.dtype)
        for idx, wt in self._taps(xp):
            contrib = gf * xp.asarray(wt, dtype=g.dtype)
            out += xp.bincount(
                (offsets + idx).ravel(), weights=contrib.ravel(), minlength=rows * n
            ).astype(g.dtype)
        return out.reshape(g.shape)


class Transform:
    """Draws one :class:`Warp` per step from the dream's generator."""

    def draw(self, rng: np.random.Generator, hw: tuple[int, int]) -> Warp:
        raise NotImplementedError


def _number(value, what: str, low: float, high: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not low <= v <= high:
        raise ValueError(f"{what} must be in [{low:g}, {high:g}], got {v:g}")
    return v


class Standard(Transform):
    """lucid's standard_transforms: pad, jitter, scale, rotate, jitter.

    Pad 12 (grey), jitter 8, random scale from 0.90, 0.92, ..., 1.10, random
    rotation from -10..10 degrees, jitter 4.
    """

    usage = "standard"
    scales: Sequence[float] = tuple(1 + (i - 5) / 50.0 for i in range(11))
    angles: Sequence[int] = tuple(range(-10, 11))

    def draw(self, rng, hw):
        t1 = tuple(int(v) for v in rng.integers(-8, 9, 2))
        s = float(self.scales[int(rng.integers(len(self.scales)))])
        a = float(self.angles[int(rng.integers(len(self.angles)))])
        t2 = tuple(int(v) for v in rng.integers(-4, 5, 2))
        return Warp(tuple(hw), t1, s, a, t2)

    def __repr__(self):
        return "standard"


class Affine(Transform):
    """Random jitter, scale and rotation within chosen ranges.

    Jitter of at most ``JITTER`` pixels, scale uniform in ``1 +- SCALE``,
    rotation uniform in ``+-DEGREES``: ``affine:JITTER:SCALE:DEGREES``."""

    usage = "affine:JITTER:SCALE:DEGREES"

    def __init__(self, jitter="8", scale="0.1", degrees="10"):
        self.jitter = int(_number(jitter, "jitter", 0, 1000))
        self.scale = _number(scale, "scale", 0.0, 0.9)
        self.degrees = _number(degrees, "degrees", 0.0, 180.0)

    def draw(self, rng, hw):
        t = tuple(int(v) for v in rng.integers(-self.jitter, self.jitter + 1, 2))
        s = 1.0 + float(rng.uniform(-self.scale, self.scale))
        a = float(rng.uniform(-self.degrees, self.degrees))
        return Warp(tuple(hw), t, s, a)

    def __repr__(self):
        return f"affine:{self.jitter}:{self.scale:g}:{self.degrees:g}"


def make_transform(spec: str | Transform | None, pm: Any = None) -> Transform | None:
    """A :class:`Transform` from ``name[:arg...]``, None for ``""``/``"none"``."""
    if spec is None or isinstance(spec, Transform):
        return spec
    if spec.strip() in ("", "none"):
        return None
    from inceptionism.plugins.spec import build

    return build("transforms", spec, pm)


@hookimpl
def inceptionism_transforms():
    return {"standard": Standard, "affine": Affine}
