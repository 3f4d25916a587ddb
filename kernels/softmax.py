"""Softmax over one axis (default 1, channels); matches Caffe softmax_layer.cpp.

Forward: ``y = exp(x - max(x)) / sum(exp(x - max(x)))`` along ``axis`` (the
maximum is subtracted for stability, as Caffe does).
Backward: ``dx = y * (dy - sum(dy * y))`` along ``axis``.
Any rank; a negative axis counts from the end, as in Caffe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from inceptionism.kernels._contract import Array, Shape, no_weights, single
from inceptionism.kernels.backend import get_array_module

WEIGHTS: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params:
    axis: int = 1


class Ctx(NamedTuple):
    axis: int
    y: Array  # the output


def _axis(ndim: int, axis: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"Softmax: axis {axis} is out of range for a {ndim}-d input")
    return axis % ndim


def output_shapes(in_shapes: tuple[Shape, ...], params: Params) -> tuple[Shape, ...]:
    shape = single(in_shapes, "Softmax")
    _axis(len(shape), params.axis)
    return (tuple(shape),)


def weight_shapes(in_shapes: tuple[Shape, ...], params: Params) -> dict[str, Shape]:
    return {}


def forward(
    xs: tuple[Array, ...], params: Params, weights: tuple[Array, ...] = ()
) -> tuple[tuple[Array, ...], Ctx]:
    """``(y,)`` (same shape and dtype as ``x``) and ctx."""
    x = single(xs, "Softmax")
    no_weights(weights, "Softmax")
    xp = get_array_module(x)
    if x.dtype.kind != "f":
        raise ValueError(f"Softmax: expected a floating-point array, got {x.dtype}")
    axis = _axis(x.ndim, params.axis)
    y = x - x.max(axis=axis, keepdims=True)
    xp.exp(y, out=y)
    y /= y.sum(axis=axis, keepdims=True)
    return (y,), Ctx(axis, y)


def backward(dys: tuple[Array, ...], ctx: Ctx) -> tuple[Array, ...]:
    """``(dx,)``: the gradient with respect to the input."""
    dy = single(dys, "Softmax backward", "gradient")
    if dy.shape != ctx.y.shape:
        raise ValueError(
            f"Softmax backward: dy has shape {tuple(dy.shape)}, expected "
            f"{tuple(ctx.y.shape)}"
        )
    dx = dy * ctx.y
    dx -= ctx.y * dx.sum(axis=ctx.axis, keepdims=True)
    return (dx,)
