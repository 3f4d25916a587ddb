"""A seam measure for approximate tiling (tests and ``benchmarks/tiling.py``).

A dream step moves the picture by ``step_size * g / mean|g|``, so what a
tiled step adds wrongly is ``e = g_tiled / mean|g_tiled| - g / mean|g|``.
Errors that fall on the same lines of pixels step after step add up to a
visible seam; errors that move average out. :func:`seam` is the worst line
(row or column) of the steps' mean error, relative to the mean normalised
gradient (1): the visible seam after those steps, per step.
"""

from __future__ import annotations

import numpy as np


def normalised_error(g_tiled, g) -> np.ndarray:
    """``g_tiled / mean|g_tiled| - g / mean|g|``, as float64."""
    g_tiled, g = np.asarray(g_tiled, np.float64), np.asarray(g, np.float64)
    return g_tiled / np.abs(g_tiled).mean() - g / np.abs(g).mean()


def seam(errors) -> float:
    """The worst row's or column's mean ``|mean of errors|`` (errors: arrays
    (..., H, W) in picture coordinates, one per step)."""
    e = np.abs(np.mean(np.stack([np.asarray(x) for x in errors]), axis=0))
    e = e.reshape(-1, *e.shape[-2:]).mean(axis=0)  # (H, W)
    return float(max(e.mean(axis=0).max(), e.mean(axis=1).max()))
