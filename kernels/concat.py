"""Concatenation along one axis (default 1, channels); Caffe concat_layer.cpp.

Forward: ``(y,) = (concatenate(xs, axis),)``; every input must have the same
rank, dtype and shape except along ``axis``. Backward splits ``dy`` back into
the inputs' extents along ``axis``, one gradient per input; the pieces are
views of ``dy`` (no copy), so copy one before changing it in place.
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
    sizes: tuple[int, ...]  # each input's extent along axis


def _check_shapes(shapes: tuple[Shape, ...], axis: int) -> int:
    """Validate the input shapes; return the axis as a non-negative index."""
    shapes = tuple(tuple(s) for s in shapes)
    if not shapes:
        raise ValueError("Concat: needs at least one input")
    ndim = len(shapes[0])
    if not -ndim <= axis < ndim:
        raise ValueError(f"Concat: axis {axis} is out of range for {ndim}-d inputs")
    axis %= ndim
    for i, s in enumerate(shapes[1:], 1):
        if len(s) != ndim or s[:axis] + s[axis + 1 :] != (
            shapes[0][:axis] + shapes[0][axis + 1 :]
        ):
            raise ValueError(
                f"Concat: input {i} has shape {s}, incompatible with input 0 "
                f"{shapes[0]}: all dimensions but axis {axis} must match"
            )
    return axis


def output_shapes(in_shapes: tuple[Shape, ...], params: Params) -> tuple[Shape, ...]:
    """``(shape,)``: the inputs' shape with their extents along axis summed."""
    axis = _check_shapes(in_shapes, params.axis)
    out = list(in_shapes[0])
    out[axis] = sum(s[axis] for s in in_shapes)
    return (tuple(out),)


def weight_shapes(in_shapes: tuple[Shape, ...], params: Params) -> dict[str, Shape]:
    return {}


def forward(
    xs: tuple[Array, ...], params: Params, weights: tuple[Array, ...] = ()
) -> tuple[tuple[Array, ...], Ctx]:
    """``(y,)``: the concatenation of the inputs ``xs``, and ctx."""
    no_weights(weights, "Concat")
    axis = _check_shapes(tuple(x.shape for x in xs), params.axis)
    dtypes = {x.dtype for x in xs}
    if len(dtypes) != 1:
        raise ValueError(
            f"Concat: inputs have mixed dtypes {sorted(map(str, dtypes))}; cast them "
            "to one dtype first"
        )
    xp = get_array_module(xs[0])
    y = xp.concatenate(xs, axis=axis)
    return (y,), Ctx(axis, tuple(x.shape[axis] for x in xs))


def backward(dys: tuple[Array, ...], ctx: Ctx) -> tuple[Array, ...]:
    """One gradient per input (views of ``dy``)."""
    dy = single(dys, "Concat backward", "gradient")
    if dy.shape[ctx.axis] != sum(ctx.sizes):
        raise ValueError(
            f"Concat backward: dy has {dy.shape[ctx.axis]} entries along axis "
            f"{ctx.axis}, expected {sum(ctx.sizes)}"
        )
    out, start = [], 0
    index: list[slice] = [slice(None)] * dy.ndim
    for size in ctx.sizes:
        index[ctx.axis] = slice(start, start + size)
        out.append(dy[tuple(index)])
        start += size
    return tuple(out)
