"""Octaves: the zoomed-down copies of the picture a dream climbs through
(google/deepdream ``dream.ipynb``'s ``octaves``), and which of them are
large enough for the objective's blobs."""

from __future__ import annotations

import warnings

from inceptionism.engine.resample import zoom


class OctaveSkippedWarning(UserWarning):
    """An octave was smaller than the objective's blobs need and was skipped."""


def octave_bases(x, octaves: int, octave_scale: float) -> list:
    """``[x, zoom(x, 1/s), zoom(zoom(x, 1/s), 1/s), ...]``, largest first."""
    bases = [x]
    for _ in range(octaves - 1):
        bases.append(zoom(bases[-1], 1.0 / octave_scale))
    return bases


def _fits(net, hw, layers) -> str | None:
    """None if every blob of ``layers`` is non-empty at input size ``hw``;
    otherwise the reason."""
    problems: dict = {}
    try:
        shapes = net.shapes(hw, problems)
    except ValueError as exc:
        return str(exc)
    missing = [name for name in layers if name not in shapes]
    if not missing:
        return None
    why = "; ".join(f"{k}: {v}" for k, v in list(problems.items())[:1])
    return f"{', '.join(missing)} would be empty" + (f" ({why})" if why else "")


def plan_octaves(net, x, layers, octaves: int, octave_scale: float) -> list:
    """The octave bases of ``x`` to dream, smallest first; octaves too small
    for ``layers`` are skipped with one :class:`OctaveSkippedWarning`, and
    ValueError when even the picture itself is too small."""
    bases = octave_bases(x, octaves, octave_scale)
    todo: list = []
    skipped: list[tuple[int, tuple, str]] = []
    for i, base in enumerate(bases):
        hw = tuple(base.shape[-2:])
        why = _fits(net, hw, layers) if not skipped else "smaller still"
        if why is None:
            todo.append(base)
        elif i == 0:
            raise ValueError(
                f"the image ({hw[0]}x{hw[1]}) is too small for the objective: "
                f"{why}; use a larger image or a shallower layer"
            )
        else:
            skipped.append((i, hw, why))
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
