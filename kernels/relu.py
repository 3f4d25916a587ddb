"""ReLU with Caffe's ``negative_slope``; matches Caffe relu_layer.cpp.

Forward: ``y = x if x > 0 else negative_slope * x``.
Backward: ``dx = dy if y > 0 else negative_slope * dy`` (0 at ``x == 0`` when
the slope is 0). The mask is read from the *output*, so ``ctx`` keeps ``y``
and not ``x``: in-place ReLU (Caffe nets store the post-ReLU value in the
conv blob) is legal. That needs ``sign(y) == sign(x)``, so a negative slope
is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from inceptionism.kernels import cuda_ops
from inceptionism.kernels._contract import Array, Shape, no_weights, single
from inceptionism.kernels.backend import get_array_module

WEIGHTS: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params:
    negative_slope: float = 0.0

    def __post_init__(self) -> None:
        _check_params(self)


class Ctx(NamedTuple):
    params: Params
    y: Array  # the output


def _check_params(p: Params) -> None:
    if not p.negative_slope >= 0:
        raise ValueError(
            f"ReLU: negative_slope must be >= 0, got {p.negative_slope} (the "
            "gradient is read from the output, which needs sign(y) == sign(x))"
        )


def output_shapes(in_shapes: tuple[Shape, ...], params: Params) -> tuple[Shape, ...]:
    return (tuple(single(in_shapes, "ReLU")),)


def weight_shapes(in_shapes: tuple[Shape, ...], params: Params) -> dict[str, Shape]:
    return {}


def forward(
    xs: tuple[Array, ...], params: Params, weights: tuple[Array, ...] = ()
) -> tuple[tuple[Array, ...], Ctx]:
    """``(y,)`` (same shape and dtype as ``x``, any shape) and ctx."""
    x = single(xs, "ReLU")
    no_weights(weights, "ReLU")
    xp = get_array_module(x)
    if x.dtype.kind != "f":
        raise ValueError(f"ReLU: expected a floating-point array, got {x.dtype}")
    slope = params.negative_slope
    if slope == 0:
        y = xp.maximum(x, x.dtype.type(0))
    else:
        y = xp.where(x > 0, x, x * x.dtype.type(slope))
    return (y,), Ctx(params, y)


def backward(dys: tuple[Array, ...], ctx: Ctx) -> tuple[Array, ...]:
    """``(dx,)``: the gradient with respect to the input, from the saved output."""
    dy = single(dys, "ReLU backward", "gradient")
    xp = get_array_module(dy)
    if dy.shape != ctx.y.shape:
        raise ValueError(
            f"ReLU backward: dy has shape {tuple(dy.shape)}, expected "
            f"{tuple(ctx.y.shape)}"
        )
    slope = ctx.params.negative_slope
    if cuda_ops.wanted(dy, ctx.y):  # kernels/cuda/relu.cu
        return (cuda_ops.relu_backward(dy, ctx.y, slope),)
    if slope == 0:
        return (xp.multiply(dy, ctx.y > 0),)
    return (xp.where(ctx.y > 0, dy, dy * dy.dtype.type(slope)),)
