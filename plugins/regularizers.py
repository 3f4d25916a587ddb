"""Built-in regularizers: penalties on the preprocessed image.

Each returns the *unweighted* penalty (a 0-d array on ``x``'s device) and
its gradient for ``x`` of shape (N, C, H, W); the dream loop subtracts
``weight * grad`` (base class :class:`inceptionism.plugins.Regularizer`).
CLI specs give the weight: ``tv:0.01``, ``l2:1e-3``, ``l1:1e-4``.
"""

from __future__ import annotations

from inceptionism.kernels.backend import get_array_module
from inceptionism.plugins.base import Regularizer
from inceptionism.plugins.hookspecs import hookimpl


def _as_weight(value) -> float:
    try:
        w = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"regularizer weight must be a number, got {value!r}"
        ) from None
    if w < 0:
        raise ValueError(f"regularizer weight must be >= 0, got {w:g}")
    return w


class _Weighted(Regularizer):
    name = ""

    def __init__(self, weight=1.0):
        self.weight = _as_weight(weight)

    def __repr__(self):
        return f"{self.name}:{self.weight:g}"


class TotalVariation(_Weighted):
    """Squared total variation over the last two axes (anisotropic, beta = 2).

        value = sum (x[.., i+1, j] - x[.., i, j])^2
              + sum (x[.., i, j+1] - x[.., i, j])^2

    The sum of squared neighbour differences: Mahendran & Vedaldi,
    "Understanding Deep Image Representations by Inverting Them" (CVPR 2015)
    with beta = 2, the form most DeepDream/style-transfer code uses
    (jcjohnson/neural-style's ``TVLoss``). It is smooth everywhere, unlike the
    L1 (beta = 1) form, so plain gradient ascent needs no special care.
    """

    name = "tv"
    usage = "tv[:WEIGHT]"

    def __call__(self, x):
        xp = get_array_module(x)
        dy = x[..., 1:, :] - x[..., :-1, :]
        dx = x[..., :, 1:] - x[..., :, :-1]
        g = xp.zeros_like(x)
        g[..., 1:, :] += 2 * dy
        g[..., :-1, :] -= 2 * dy
        g[..., :, 1:] += 2 * dx
        g[..., :, :-1] -= 2 * dx
        return xp.asarray((dy * dy).sum() + (dx * dx).sum()), g


class L2Decay(_Weighted):
    """``value = 1/2 sum x^2``, gradient ``x``: decay toward the mean image.

    The L2 decay of Yosinski et al., "Understanding Neural Networks Through
    Deep Visualization" (2015), on the mean-subtracted image.
    """

    name = "l2"
    usage = "l2[:WEIGHT]"

    def __call__(self, x):
        xp = get_array_module(x)
        return xp.asarray(0.5 * (x * x).sum()), x.copy()


class L1Decay(_Weighted):
    """``value = sum |x|``, gradient ``sign(x)`` (0 at exactly 0).

    Differentiable everywhere except x = 0, where the subgradient 0 is used;
    pushes small values of the mean-subtracted image to exactly the mean.
    """

    name = "l1"
    usage = "l1[:WEIGHT]"

    def __call__(self, x):
        xp = get_array_module(x)
        return xp.asarray(xp.abs(x).sum()), xp.sign(x)


@hookimpl
def inceptionism_regularizers():
    return {"tv": TotalVariation, "l2": L2Decay, "l1": L1Decay}
