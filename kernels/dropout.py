"""Dropout at inference: the identity (Caffe dropout_layer.cpp, TEST phase).

Caffe scales at training time (``scale_train: true``), so at test time
``y = x`` and ``dx = dy``; both are returned as is, without a copy. DeepDream
only ever runs nets in inference mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


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


def output_shape(in_shape, params: Params) -> tuple[int, ...]:
    _check_params(params)
    return tuple(in_shape)


def forward(x, params: Params):
    """Identity: returns ``x`` itself and an empty ctx."""
    _check_params(params)
    return x, Ctx()


def backward(dy, ctx: Ctx):
    """Identity: returns ``dy`` itself."""
    return dy
