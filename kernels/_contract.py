"""The op contract's shared pieces: type names and input-count checks.

Every op module exposes ``Params``, ``WEIGHTS``, ``output_shapes``,
``weight_shapes``, ``forward`` and ``backward`` (see the package docstring);
these helpers keep the single-input ops' unpacking one line each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: An NCHW (or any-rank) shape.
Shape = tuple[int, ...]
#: A NumPy or CuPy array (kernels are written once against ``xp``).
Array = Any


def single(items: Sequence[Any], op: str, what: str = "input") -> Any:
    """The one element of ``items`` (inputs, shapes or gradients) of a
    single-input op; anything else is an error naming the op."""
    if len(items) != 1:
        raise ValueError(
            f"{op}: takes exactly 1 {what}, got {len(items)}; pass a 1-tuple"
        )
    return items[0]


def no_weights(weights: Sequence[Any], op: str) -> None:
    """Ops without weights take an empty ``weights`` tuple."""
    if len(weights):
        raise ValueError(f"{op}: takes no weights, got {len(weights)}; pass weights=()")


def weight_and_bias(weights: Sequence[Any], op: str) -> tuple[Any, Any]:
    """``(weight, bias)`` from ``weights`` in ``WEIGHTS`` order; the bias is
    None (or left out) for an op without ``bias_term``."""
    if not 1 <= len(weights) <= 2:
        raise ValueError(
            f"{op}: weights must be (weight, bias) or (weight,), got "
            f"{len(weights)} arrays"
        )
    return weights[0], weights[1] if len(weights) == 2 else None
