"""A PyTorch build of any graph dict: the oracle for whole-net tests and the
rival in benchmarks.

Written from the Caffe layer definitions independently of
``inceptionism.kernels`` (only torch.nn.functional): it reads the graph's
Caffe parameters itself, applies Caffe's defaults, and checks every pooling
output size against Caffe's formula. Every layer's value is returned under
its layer name, with Caffe's ``forward(end=layer)`` meaning: in-place ReLU and
Dropout are computed out of place, so a convolution's name keeps its pre-ReLU
value.

    tnet = TorchNet(model.graph, model.params, dtype=torch.float64)
    blobs = tnet(x)                      # every layer, input included
    blobs = tnet(x, end=["inception_4c/output"])  # only what that needs
    dx = tnet.input_grad(x, {"inception_4c/output": g})
    fast = TorchNet(model.graph, model.params, lrn="analytic")  # see CaffeLRN

``lrn="analytic"`` runs Caffe's LRN as :class:`CaffeLRN`, a
``torch.autograd.Function`` with Caffe's closed-form backward (what a careful
PyTorch user writes); the default builds it from ``F.local_response_norm``
(avg_pool3d and element-wise ops, differentiated by autograd).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

INPUT_TYPES = ("Input", "Data")


def _pair(p: dict, name: str, prefix: str, default):
    """Caffe's ``name`` (scalar or 1-2 values) or ``prefix_h``/``prefix_w``."""
    if f"{prefix}_h" in p:
        return int(p[f"{prefix}_h"]), int(p[f"{prefix}_w"])
    v = p.get(name, default)
    if v is None:
        raise ValueError(f"missing {name}")
    if isinstance(v, (list, tuple)):
        return int(v[0]), int(v[-1])
    return int(v), int(v)


def _true(v) -> bool:
    return v is True or str(v).lower() in ("true", "1")


def caffe_pool_out(size: int, k: int, s: int, p: int) -> int:
    """Caffe pooling_layer.cpp: ceil, then drop a window that would start in
    the right padding."""
    out = math.ceil((size + 2 * p - k) / s) + 1
    if p > 0 and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool(x, name: str, p: dict):
    method = str(p.get("pool", "MAX")).upper()
    if _true(p.get("global_pooling", False)):
        k, s, pad = tuple(x.shape[2:]), (1, 1), (0, 0)
    else:
        k = _pair(p, "kernel_size", "kernel", None)
        s = _pair(p, "stride", "stride", 1)
        pad = _pair(p, "pad", "pad", 0)
    want = tuple(caffe_pool_out(x.shape[2 + i], k[i], s[i], pad[i]) for i in (0, 1))
    if method == "MAX":
        y = F.max_pool2d(x, k, s, pad, ceil_mode=True)
    elif method == "AVE":
        # count_include_pad divides by the window clipped to H + pad, as Caffe
        y = F.avg_pool2d(x, k, s, pad, ceil_mode=True, count_include_pad=True)
    else:
        raise ValueError(f"layer {name!r}: pooling method {method} not supported")
    if tuple(y.shape[2:]) != want:  # torch drops windows by its own rule
        raise ValueError(
            f"layer {name!r}: torch pooling gives {tuple(y.shape[2:])}, Caffe {want}"
        )
    return y


def _lrn_params(p: dict) -> tuple[int, float, float, float]:
    n = int(p.get("local_size", 5))
    alpha, beta, k = (
        float(p.get(a, d)) for a, d in (("alpha", 1.0), ("beta", 0.75), ("k", 1.0))
    )
    if str(p.get("norm_region", "ACROSS_CHANNELS")).upper() != "ACROSS_CHANNELS":
        raise ValueError("only ACROSS_CHANNELS LRN is built")
    return n, alpha, beta, k


def _window_sum(v, n: int, adjoint: bool = False):
    """Sum over channels c-(n-1)/2 .. c+n/2 (Caffe's window), zero-padded;
    ``adjoint``: over c-n/2 .. c+(n-1)/2 (the same for odd n)."""
    lo, hi = (n - 1) // 2, n // 2
    if adjoint:
        lo, hi = hi, lo
    pad = F.pad(v, (0, 0, 0, 0, lo, hi))
    out = pad[:, : v.shape[1]].clone()
    for i in range(1, n):
        out += pad[:, i : i + v.shape[1]]
    return out


class CaffeLRN(torch.autograd.Function):
    """Caffe ``lrn_layer.cpp`` ACROSS_CHANNELS, forward and analytic backward:

    scale = k + alpha/n * sum_window x^2,   y = x * scale^-beta
    dx = dy * scale^-beta - 2 alpha beta / n * x * sum_window(dy * y / scale)
    """

    @staticmethod
    def forward(ctx, x, n, alpha, beta, k):
        scale = _window_sum(x * x, n).mul_(alpha / n).add_(k)
        y = x * scale.pow(-beta)
        ctx.save_for_backward(x, y, scale)
        ctx.consts = (n, alpha, beta)
        return y

    @staticmethod
    def backward(ctx, dy):
        x, y, scale = ctx.saved_tensors
        n, alpha, beta = ctx.consts
        ratio = _window_sum(dy * y / scale, n, adjoint=True)
        dx = dy * scale.pow(-beta) - (2 * alpha * beta / n) * x * ratio
        return dx, None, None, None, None


def _lrn(x, p: dict):
    """Caffe ACROSS_CHANNELS LRN: x * (k + alpha/n * sum_window x^2)^-beta with
    window c-(n-1)/2 .. c+n/2. torch's local_response_norm already divides
    alpha by n; its window is c-n/2 .. c+(n-1)/2, the same for odd n."""
    n, alpha, beta, k = _lrn_params(p)
    if n % 2:
        return F.local_response_norm(x, n, alpha=alpha, beta=beta, k=k)
    sq = F.pad(x * x, (0, 0, 0, 0, (n - 1) // 2, n // 2))
    win = sum(sq[:, i : i + x.shape[1]] for i in range(n))
    return x * (k + alpha / n * win) ** -beta


class TorchNet(torch.nn.Module):
    """graph : design-section-4 dict; params : {layer: {"weight", "bias"}}
    (NumPy arrays); dtype : torch dtype of weights and computation."""

    def __init__(
        self, graph: dict, params: dict, dtype=torch.float32, lrn: str = "autograd"
    ):
        super().__init__()
        if lrn not in ("autograd", "analytic"):
            raise ValueError(f"lrn must be 'autograd' or 'analytic', got {lrn!r}")
        self.dtype = dtype
        self.lrn = lrn
        self.input_name = graph["input"]["name"]
        self.layers = [ly for ly in graph["layers"] if ly["type"] not in INPUT_TYPES]
        self.w = {}
        for name, d in params.items():
            self.w[name] = {
                k: torch.from_numpy(np.asarray(v)).to(dtype) for k, v in d.items()
            }
        # every layer reads the values its bottoms held when it ran
        writer = {self.input_name: self.input_name}
        self.inputs = {}
        for ly in self.layers:
            self.inputs[ly["name"]] = [writer[b] for b in ly["bottom"]]
            writer[ly["top"][0]] = ly["name"]

    def needed(self, end) -> set[str]:
        if end is None:
            return {ly["name"] for ly in self.layers}
        end = [end] if isinstance(end, str) else list(end)
        seen, stack = set(), list(end)
        while stack:
            n = stack.pop()
            if n not in seen and n != self.input_name:
                seen.add(n)
                stack.extend(self.inputs[n])
        return seen

    def forward(self, x, end=None) -> dict:
        need = self.needed(end)
        v = {self.input_name: x}
        for ly in self.layers:
            name = ly["name"]
            if name not in need:
                continue
            v[name] = self._layer(ly, [v[i] for i in self.inputs[name]])
        return v

    def _layer(self, ly: dict, ins: list):
        t, p, name = ly["type"], ly.get("params", {}), ly["name"]
        x = ins[0]
        if t == "Convolution":
            w = self.w[name]
            bias = w.get("bias") if _true(p.get("bias_term", True)) else None
            return F.conv2d(
                x,
                w["weight"],
                bias,
                stride=_pair(p, "stride", "stride", 1),
                padding=_pair(p, "pad", "pad", 0),
                dilation=_pair(p, "dilation", "dilation", 1),
                groups=int(p.get("group", 1)),
            )
        if t == "ReLU":
            slope = float(p.get("negative_slope", 0.0))
            return F.leaky_relu(x, slope) if slope else F.relu(x)
        if t == "Pooling":
            return _pool(x, name, p)
        if t == "LRN":
            if self.lrn == "analytic":
                return CaffeLRN.apply(x, *_lrn_params(p))
            return _lrn(x, p)
        if t == "Concat":
            return torch.cat(ins, dim=int(p.get("axis", 1)))
        if t == "InnerProduct":
            w = self.w[name]
            bias = w.get("bias") if _true(p.get("bias_term", True)) else None
            return F.linear(x.reshape(x.shape[0], -1), w["weight"], bias)
        if t == "Dropout":
            return x.clone()
        if t == "Softmax":
            return F.softmax(x, dim=int(p.get("axis", 1)))
        raise ValueError(f"layer {name!r}: type {t} not built in TorchNet")

    def input_grad(self, x, seeds: dict):
        """dL/dx for L = sum_b <seeds[b], blob b> (seeds: torch tensors)."""
        x = x.detach().requires_grad_(True)
        blobs = self.forward(x, end=list(seeds))
        loss = sum((blobs[b] * g).sum() for b, g in seeds.items())
        (dx,) = torch.autograd.grad(loss, x)
        return dx
