"""Convolution (Caffe ``Convolution``): forward and backward to the input.

Cross-correlation with zero padding, stride, dilation and groups, as Caffe
``conv_layer.cpp`` / ``base_conv_layer.cpp``::

    y[n, o, oh, ow] = b[o] + sum_{c, i, j} w[o, c, i, j]
                      * xpad[n, g*Cg + c, oh*sh + i*dh, ow*sw + j*dw]

with ``g = o // (O/group)``, ``Cg = C/group``, and output size
``floor((H + 2p - d(k-1) - 1)/s) + 1``. Each group is one batched GEMM
``(O/g, Cg*kh*kw) @ (Cg*kh*kw, Ho*Wo)`` on the im2col matrix, whose product is
already NCHW; a 1x1 stride-1 unpadded convolution multiplies ``x`` itself.
Backward: ``dcols = W^T @ dy`` then col2im. No weight gradients. That is the
reference below; on NumPy, strided forwards and most backwards take the
long-run layouts of :mod:`._conv_cpu` instead (3x3 stride-1 ones Winograd
F(2x2, 3x3), :mod:`._winograd`, when it is switched on), and on a GPU
im2col/col2im are CUDA kernels (:mod:`._im2col`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

from inceptionism.kernels import _conv_cpu, _winograd
from inceptionism.kernels._contract import Array, Shape, single, weight_and_bias
from inceptionism.kernels._geometry import (
    check_bias,
    check_rank,
    check_window,
    conv_out_hw,
)
from inceptionism.kernels._im2col import col2im, im2col, is_identity, scratch
from inceptionism.kernels.backend import get_array_module

OP = "Convolution"
#: ``forward``'s ``weights``, in order; the bias is None (or left out) when
#: ``bias_term`` is false.
WEIGHTS: tuple[str, ...] = ("weight", "bias")


@dataclass(frozen=True)
class Params:
    """Convolution parameters; pairs are ``(h, w)``."""

    num_output: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    group: int = 1
    bias_term: bool = True

    def __post_init__(self):
        check_window(self.kernel, self.stride, self.pad, self.dilation, op=OP)
        if self.num_output < 1 or self.group < 1:
            raise ValueError(
                f"{OP}: num_output and group must be >= 1, got "
                f"num_output={self.num_output}, group={self.group}"
            )
        if self.num_output % self.group:
            raise ValueError(
                f"{OP}: num_output {self.num_output} is not divisible by "
                f"group {self.group}"
            )


def _channels(shape: Shape, params: Params) -> int:
    """C of an (N, C, H, W) shape, checked against ``group``."""
    if len(shape) != 4:
        raise ValueError(f"{OP}: expected (N, C, H, W), got shape {shape}")
    if shape[1] % params.group:
        raise ValueError(
            f"{OP}: input channels {shape[1]} are not divisible by group {params.group}"
        )
    return shape[1]


def output_shapes(in_shapes: tuple[Shape, ...], params: Params) -> tuple[Shape, ...]:
    """``((N, C, H, W),) -> ((N, num_output, Ho, Wo),)``."""
    shape = tuple(single(in_shapes, OP))
    _channels(shape, params)
    p = params
    ho, wo = conv_out_hw(shape[2:], p.kernel, p.stride, p.pad, p.dilation)
    return ((shape[0], p.num_output, ho, wo),)


def weight_shapes(in_shapes: tuple[Shape, ...], params: Params) -> dict[str, Shape]:
    """``weight`` (num_output, C/group, kh, kw); ``bias`` (num_output,) if
    ``bias_term``. Only C matters, not the input's height and width."""
    c = _channels(tuple(single(in_shapes, OP)), params)
    p = params
    out: dict[str, Shape] = {"weight": (p.num_output, c // p.group, *p.kernel)}
    if p.bias_term:
        out["bias"] = (p.num_output,)
    return out


class Ctx(NamedTuple):
    """What backward needs: conv is linear in x, so x itself is not kept."""

    in_shape: Shape
    params: Params
    weight: Array  # (O, C/group, kh, kw), cast to the input's dtype


def _check_weights(x: Array, params: Params, weight: Array, bias: Array) -> None:
    c = x.shape[1]
    want = (params.num_output, c // params.group, *params.kernel)
    if weight.ndim != 4 or weight.shape[0] != want[0] or weight.shape[2:] != want[2:]:
        raise ValueError(
            f"{OP}: weight shape {tuple(weight.shape)} does not match "
            f"num_output={params.num_output}, kernel={params.kernel}; expected "
            f"(num_output, C/group, kh, kw) = {want}"
        )
    if weight.shape[1] * params.group != c:
        raise ValueError(
            f"{OP}: channel mismatch: input has {c} channels but weight "
            f"expects {weight.shape[1]} x group {params.group} = "
            f"{weight.shape[1] * params.group}"
        )
    check_bias(bias, params.bias_term, params.num_output, OP)


def _grouped(weight: Array, group: int) -> Array:
    """OIHW -> ``(group, O/group, Cg*kh*kw)`` (a view)."""
    o = weight.shape[0]
    return weight.reshape(group, o // group, -1)


def forward(
    xs: tuple[Array, ...], params: Params, weights: tuple[Array, ...] = ()
) -> tuple[tuple[Array, ...], Ctx]:
    """``(y,)`` with y = conv(x, weight) + bias.

    x : ndarray, shape (N, C, H, W), float32 or float64
    weights : (weight, bias): weight (num_output, C/group, kh, kw); bias
        (num_output,), or None / left out without bias_term
    returns : ((y of shape (N, num_output, Ho, Wo) and x's dtype,), Ctx)
    """
    x = single(xs, OP)
    weight, bias = weight_and_bias(weights, OP)
    check_rank(x, 4, OP)
    _check_weights(x, params, weight, bias)
    p = params
    out_hw = conv_out_hw(x.shape[2:], p.kernel, p.stride, p.pad, p.dilation)
    weight = weight.astype(x.dtype, copy=False)
    w3 = _grouped(weight, p.group)
    geometry = (p.kernel, p.stride, p.dilation, p.group, p.pad)
    if _winograd.takes(x, *geometry):
        b = None if bias is None else bias.astype(x.dtype, copy=False)
        y = _winograd.conv(x, _winograd.filters(weight), p.pad, b)
        return (y,), Ctx(tuple(x.shape), params, weight)
    if _conv_cpu.forward_takes(x, p.stride, p.dilation):
        y = _conv_cpu.forward(x, w3, p.kernel, p.stride, p.pad, out_hw)
    else:
        n, g = x.shape[0], p.group
        cols = im2col(x, p.kernel, p.stride, p.pad, p.dilation, out_hw)
        y = get_array_module(x).empty((n, p.num_output, *out_hw), dtype=x.dtype)
        # (g, Og, K) @ (N, g, K, P) -> (N, g, Og, P): one GEMM per (item,
        # group), written straight into y, which is NCHW already.
        get_array_module(x).matmul(
            w3,
            cols.reshape(n, g, -1, out_hw[0] * out_hw[1]),
            out=y.reshape(n, g, p.num_output // g, -1),
        )
    if bias is not None:
        y += bias.astype(x.dtype, copy=False).reshape(1, -1, 1, 1)
    return (y,), Ctx(tuple(x.shape), params, weight)


def backward(dys: tuple[Array, ...], ctx: Ctx) -> tuple[Array, ...]:
    """``(dx,)`` with dx = col2im(W^T @ dy), of shape ``ctx.in_shape``."""
    dy = single(dys, f"{OP} backward", "gradient")
    xp = get_array_module(dy)
    p = ctx.params
    n, c, h, w = ctx.in_shape
    ho, wo = conv_out_hw((h, w), p.kernel, p.stride, p.pad, p.dilation)
    if tuple(dy.shape) != (n, p.num_output, ho, wo):
        raise ValueError(
            f"{OP}: upstream gradient shape {tuple(dy.shape)} does not match "
            f"the output shape {(n, p.num_output, ho, wo)}"
        )
    if _winograd.takes(dy, p.kernel, p.stride, p.dilation, p.group, p.pad):
        u = _winograd.backward_filters(ctx.weight.astype(dy.dtype, copy=False))
        return (_winograd.conv(dy, u, (2 - p.pad[0], 2 - p.pad[1])),)
    g, og = p.group, p.num_output // p.group
    wt = _grouped(ctx.weight.astype(dy.dtype, copy=False), g).transpose(0, 2, 1)

    def gemm(dy_: Array, out: Array) -> None:
        # (g, K, Og) @ (N, g, Og, P) -> (N, g, K, P), written into out
        xp.matmul(wt, dy_.reshape(n, g, og, -1), out=out.reshape(n, g, wt.shape[1], -1))

    if is_identity(p.kernel, p.stride, p.pad):
        dx = xp.empty((n, c, h, w), dtype=dy.dtype)
        gemm(dy, dx)
        return (dx,)
    if _conv_cpu.backward_takes(dy, p.stride, p.dilation):
        geometry = (p.kernel, p.stride, p.pad, p.dilation)
        return (_conv_cpu.backward(dy, ctx.in_shape, *geometry, gemm),)
    dcols = scratch(xp, "conv.dcols", (n, c, *p.kernel, ho, wo), dy.dtype)
    gemm(dy, dcols)
    return (col2im(dcols, (h, w), p.stride, p.pad, p.dilation),)


# -- sibling layers on one input (optional contract: see the package docs) --


def share_key(params: Params):
    """Convolutions with equal keys on the same input run as one: everything
    but ``num_output`` and ``bias_term`` (grouped ones never)."""
    p = params
    return None if p.group != 1 else (p.kernel, p.stride, p.pad, p.dilation)


class SharedCtx(NamedTuple):
    ctx: Ctx  # of the stacked convolution
    bounds: tuple[int, ...]  # layer i's filters are rows bounds[i]:bounds[i+1]


def _stack(params_seq, weights_seq, dtype, xp):
    """One convolution holding every layer's filters (and biases, zero for
    a layer without) in order: ``(params, weight, bias or None)``."""
    keys = {share_key(p) for p in params_seq}
    if None in keys or len(keys) != 1:
        raise ValueError(f"{OP}: only layers of equal share_key run as one")
    pairs = [weight_and_bias(w, OP) for w in weights_seq]
    weight = xp.concatenate([xp.asarray(w, dtype=dtype) for w, _ in pairs])
    bias = None
    if any(p.bias_term for p in params_seq):
        bias = xp.concatenate([
            xp.zeros(p.num_output, dtype) if b is None else xp.asarray(b, dtype)
            for p, (_, b) in zip(params_seq, pairs)
        ])  # fmt: skip
    first = params_seq[0]
    stacked = Params(
        int(weight.shape[0]), first.kernel, first.stride, first.pad,
        first.dilation, bias_term=bias is not None,
    )  # fmt: skip
    return stacked, weight, bias


def forward_shared(
    x: Array, params_seq: tuple[Params, ...], weights_seq: tuple[tuple, ...]
) -> tuple[tuple[Array, ...], SharedCtx]:
    """Every layer of ``params_seq`` on the same ``x`` as one convolution:
    one im2col (none for 1x1) and one GEMM with the filters stacked. Returns
    each layer's output (channel slices of one array) and one ctx."""
    stacked, weight, bias = _stack(
        params_seq, weights_seq, x.dtype, get_array_module(x)
    )
    (y,), ctx = forward((x,), stacked, (weight, bias))
    bounds = [0]
    for p in params_seq:
        bounds.append(bounds[-1] + p.num_output)
    ys = tuple(y[:, a:b] for a, b in zip(bounds, bounds[1:]))
    return ys, SharedCtx(ctx, tuple(bounds))


def backward_shared(dys: tuple[Array | None, ...], ctx: SharedCtx) -> Array:
    """The input gradient of :func:`forward_shared`'s layers: one GEMM of the
    stacked filters with the stacked output gradients (a None gradient: that
    layer's filters are left out)."""
    keep = [i for i, d in enumerate(dys) if d is not None]
    if not keep:
        raise ValueError(f"{OP} backward: no gradient for any of the layers")
    xp = get_array_module(dys[keep[0]])
    inner, b = ctx.ctx, ctx.bounds
    weight = inner.weight
    if len(keep) < len(dys):
        weight = xp.concatenate([weight[b[i] : b[i + 1]] for i in keep])
    dy = xp.concatenate([dys[i] for i in keep], axis=1)
    params = dataclasses.replace(inner.params, num_output=int(weight.shape[0]))
    return backward((dy,), Ctx(inner.in_shape, params, weight))[0]
