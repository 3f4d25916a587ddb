"""Octaves: the zoomed-down copies of the picture a dream climbs through
(google/deepdream ``dream.ipynb``'s ``octaves``), and which of them are
large enough for the objective's blobs."""

from __future__ import annotations

import warnings

from inceptionism.engine.net import SIZE_FIXED
from inceptionism.engine.resample import zoom, zoom_size


class OctaveSkippedWarning(UserWarning):
    """An octave was smaller than the objective's blobs need and was skipped."""


def octave_bases(x, octaves: int, octave_scale: float) -> list:
    """``[x, zoom(x, 1/s), zoom(zoom(x, 1/s), 1/s), ...]``, largest first."""
    bases = [x]
    for _ in range(octaves - 1):
        bases.append(zoom(bases[-1], 1.0 / octave_scale))
    return bases


def _fits(net, hw, layers) -> tuple[str | None, bool]:
    """``(None, False)`` if every blob of ``layers`` is non-empty at input
    size ``hw``; otherwise the reason, and whether it is a layer whose
    weights fix the picture's size (an InnerProduct) rather than an empty
    blob."""
    problems: dict = {}
    try:
        shapes = net.shapes(hw, problems)
    except ValueError as exc:
        return str(exc), False
    missing = [name for name in layers if name not in shapes]
    if not missing:
        return None, False
    fixed = [v for v in problems.values() if SIZE_FIXED in v]
    if fixed:
        return fixed[0], True
    why = "; ".join(f"{k}: {v}" for k, v in list(problems.items())[:1])
    return f"{', '.join(missing)} would be empty" + (f" ({why})" if why else ""), False


def octave_sizes(hw, octaves: int, octave_scale: float) -> list[tuple[int, int]]:
    """The (H, W) of :func:`octave_bases`, largest first, without the arrays."""
    sizes = [(int(hw[0]), int(hw[1]))]
    for _ in range(octaves - 1):
        h, w = sizes[-1]
        f = 1.0 / octave_scale
        sizes.append((zoom_size(h, f), zoom_size(w, f)))
    return sizes


def check_octaves(net, sizes, layers) -> list[tuple[int, tuple, str]]:
    """The octaves (index, size, reason) of ``sizes`` (largest first) that
    are too small for ``layers`` and are skipped, with every smaller one;
    ValueError, before any dreaming, when the largest does not fit: too
    small, or the wrong size for a layer whose weights fix it."""
    skipped: list[tuple[int, tuple, str]] = []
    for i, hw in enumerate(sizes):
        why, fixed = _fits(net, hw, layers) if not skipped else ("smaller still", False)
        if why is None:
            continue
        if i == 0 and fixed:
            raise ValueError(
                f"{why}; resize or crop the picture to that size, dream at an "
                "earlier layer, or use class:INDEX, which works at any size"
            )
        if i == 0:
            raise ValueError(
                f"the image ({hw[0]}x{hw[1]}) is too small for the objective: "
                f"{why}; use a larger image or a shallower layer"
            )
        skipped.append((i, hw, why))
    return skipped


def plan_octaves(net, x, layers, octaves: int, octave_scale: float) -> list:
    """The octave bases of ``x`` to dream, smallest first; octaves too small
    for ``layers`` are skipped with one :class:`OctaveSkippedWarning`, and
    ValueError when the picture itself does not fit (:func:`check_octaves`)."""
    bases = octave_bases(x, octaves, octave_scale)
    skipped = check_octaves(net, [tuple(b.shape[-2:]) for b in bases], layers)
    todo = bases[: len(bases) - len(skipped)]
    if skipped:  # one warning, however many octaves were asked for
        i, hw, why = skipped[0]
        first = f"octave {i + 1} of {octaves} ({hw[0]}x{hw[1]})"
        many = len(skipped) > 1
        warnings.warn(
            f"{len(skipped)} of {octaves} octaves skipped: {first}"
            f"{' and the smaller ones are' if many else ' is'} too small for "
            f"{', '.join(layers)} ({why}); {len(todo)} octaves give the same "
            "picture",
            OctaveSkippedWarning,
            stacklevel=4,
        )
    todo.reverse()  # smallest first
    return todo
