"""InnerProduct (Caffe ``InnerProduct``): forward and backward to the input.

As Caffe ``inner_product_layer.cpp``: the input is flattened from ``axis``
into ``(M, K)`` with ``M = prod(shape[:axis])``, ``K = prod(shape[axis:])``,
and::

    y = x2 @ W^T + b        W : (num_output, K), b : (num_output,)

giving ``shape[:axis] + (num_output,)``. With ``transpose: true`` Caffe stores
``W`` as ``(K, num_output)`` and ``y = x2 @ W``. Backward: ``dx = dy @ W``
reshaped to the input's shape. No weight gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from inceptionism.kernels._contract import Array, Shape, single, weight_and_bias
from inceptionism.kernels._geometry import check_bias
from inceptionism.kernels.backend import get_array_module

OP = "InnerProduct"
#: ``forward``'s ``weights``, in order; the bias is None (or left out) when
#: ``bias_term`` is false.
WEIGHTS: tuple[str, ...] = ("weight", "bias")


@dataclass(frozen=True)
class Params:
    """InnerProduct parameters (Caffe names and defaults)."""

    num_output: int
    bias_term: bool = True
    axis: int = 1
    transpose: bool = False

    def __post_init__(self):
        if self.num_output < 1:
            raise ValueError(f"{OP}: num_output must be >= 1, got {self.num_output}")


def _axis(ndim: int, axis: int) -> int:
    """Caffe's CanonicalAxisIndex: negative axes count from the end."""
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{OP}: axis {axis} is out of range for a {ndim}-d input; "
            f"use -{ndim} <= axis < {ndim}"
        )
    return axis % ndim


def output_shapes(in_shapes: tuple[Shape, ...], params: Params) -> tuple[Shape, ...]:
    """``(shape[:axis] + (num_output,),)``."""
    shape = tuple(single(in_shapes, OP))
    a = _axis(len(shape), params.axis)
    return ((*shape[:a], params.num_output),)


def weight_shapes(in_shapes: tuple[Shape, ...], params: Params) -> dict[str, Shape]:
    """``weight`` (num_output, K) (``(K, num_output)`` if transpose), ``K`` the
    product of the flattened dims; ``bias`` (num_output,) if ``bias_term``."""
    shape = tuple(single(in_shapes, OP))
    k = math.prod(shape[_axis(len(shape), params.axis) :])
    n = params.num_output
    out: dict[str, Shape] = {"weight": (k, n) if params.transpose else (n, k)}
    if params.bias_term:
        out["bias"] = (n,)
    return out


class Ctx(NamedTuple):
    """What backward needs: the op is linear in x, so x itself is not kept."""

    in_shape: Shape
    params: Params
    weight: Array  # (num_output, K), cast to the input's dtype


def _weight_2d(weight: Array, params: Params, k: int) -> Array:
    """Check ``weight`` and return it as ``(num_output, K)`` (a view)."""
    want = (k, params.num_output) if params.transpose else (params.num_output, k)
    if weight.ndim != 2 or tuple(weight.shape) != want:
        layout = "(K, num_output)" if params.transpose else "(num_output, K)"
        raise ValueError(
            f"{OP}: in-features mismatch: weight shape {tuple(weight.shape)}, "
            f"expected {layout} = {want} for an input with K={k} features "
            f"from axis {params.axis}"
        )
    return weight.T if params.transpose else weight


def forward(
    xs: tuple[Array, ...], params: Params, weights: tuple[Array, ...] = ()
) -> tuple[tuple[Array, ...], Ctx]:
    """``(y,)`` with y = flatten(x) @ W^T + b.

    x : ndarray, any rank > axis, float32 or float64
    weights : (weight, bias): weight (num_output, K) (``(K, num_output)`` if
        transpose); bias (num_output,), or None / left out without bias_term
    returns : ((y of shape x.shape[:axis] + (num_output,), x's dtype), Ctx)
    """
    x = single(xs, OP)
    weight, bias = weight_and_bias(weights, OP)
    xp = get_array_module(x)
    a = _axis(x.ndim, params.axis)
    m, k = math.prod(x.shape[:a]), math.prod(x.shape[a:])
    w2 = _weight_2d(weight, params, k).astype(x.dtype, copy=False)
    check_bias(bias, params.bias_term, params.num_output, OP)
    y = xp.matmul(x.reshape(m, k), w2.T)
    if bias is not None:
        y += bias.astype(x.dtype, copy=False)
    (shape,) = output_shapes((x.shape,), params)
    return (y.reshape(shape),), Ctx(tuple(x.shape), params, w2)


def backward(dys: tuple[Array, ...], ctx: Ctx) -> tuple[Array, ...]:
    """``(dx,)`` with dx = dy @ W, reshaped to the input's shape.

    dy : ndarray, shape in_shape[:axis] + (num_output,)
    returns : (dx of shape ctx.in_shape, dy's dtype)
    """
    dy = single(dys, f"{OP} backward", "gradient")
    (want,) = output_shapes((ctx.in_shape,), ctx.params)
    if tuple(dy.shape) != want:
        raise ValueError(
            f"{OP}: upstream gradient shape {tuple(dy.shape)} does not match "
            f"the output shape {want}"
        )
    xp = get_array_module(dy)
    w2 = ctx.weight.astype(dy.dtype, copy=False)
    dx = xp.matmul(dy.reshape(-1, ctx.params.num_output), w2)
    return (dx.reshape(ctx.in_shape),)
