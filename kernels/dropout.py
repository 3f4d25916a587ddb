"""Dropout at inference: the identity (Caffe dropout_layer.cpp, TEST phase).

Caffe scales at training time (``scale_train: true``), so at test time
``y = x`` and ``dx = dy``; both are returned as is, without a copy. DeepDream
only ever runs nets in inference mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from inceptionism.kernels._contract import Array, Shape, no_weights, single

WEIGHTS: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params:
    dropout_ratio: float = 0.5
    scale_train: bool = True

    def __post_init__(self) -> None:
        _check_params(self)


class Ctx(NamedTuple):
    pass


def _check_params(p: Params) -> None:
    if not 0.0 <= p.dropout_ratio < 1.0:
        raise ValueError(
            f"Dropout: dropout_ratio must be in [0, 1), got {p.dropout_ratio}"
        )


def output_shapes(in_shapes: tuple[Shape, ...], params: Params) -> tuple[Shape, ...]:
    return (tuple(single(in_shapes, "Dropout")),)


def weight_shapes(in_shapes: tuple[Shape, ...], params: Params) -> dict[str, Shape]:
    return {}


def forward(
    xs: tuple[Array, ...], params: Params, weights: tuple[Array, ...] = ()
) -> tuple[tuple[Array, ...], Ctx]:
    """Identity: returns ``(x,)`` with ``x`` itself and an empty ctx."""
    x = single(xs, "Dropout")
    no_weights(weights, "Dropout")
    return (x,), Ctx()


def backward(dys: tuple[Array, ...], ctx: Ctx) -> tuple[Array, ...]:
    """Identity: returns ``(dy,)`` with ``dy`` itself."""
    return (single(dys, "Dropout backward", "gradient"),)
