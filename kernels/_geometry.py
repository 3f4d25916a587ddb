"""Shared geometry of windowed ops: output sizes and argument checks.

Convolution (Caffe ``conv_layer.cpp``): ``out = floor((H + 2p - d(k-1) - 1)/s) + 1``.
Pooling (Caffe ``pooling_layer.cpp``): ``out = ceil((H + 2p - k)/s) + 1``, then if
``p > 0`` and ``(out - 1) * s >= H + p``, ``out -= 1`` so that the last window
starts inside the image or the left padding.
"""

from __future__ import annotations

import math
from typing import NamedTuple


class Window(NamedTuple):
    """A pooling window resolved for one input: ``(h, w)`` pairs and the
    output size."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]
    out_hw: tuple[int, int]


def pair(v, name: str = "value") -> tuple[int, int]:
    """Normalise an int or a 2-sequence to ``(h, w)``."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def check_rank(x, rank: int, op: str) -> None:
    if x.ndim != rank:
        raise ValueError(
            f"{op}: expected a {rank}-d array (N, C, H, W), got shape {tuple(x.shape)}"
        )


def check_window(kernel, stride, pad, dilation=(1, 1), op: str = "op") -> None:
    for name, v, low in (
        ("kernel", kernel, 1),
        ("stride", stride, 1),
        ("dilation", dilation, 1),
        ("pad", pad, 0),
    ):
        if v[0] < low or v[1] < low:
            raise ValueError(f"{op}: {name} must be >= {low}, got {v}")


def conv_out_size(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    """Caffe convolution output length along one axis (floor mode)."""
    return (size + 2 * p - (d * (k - 1) + 1)) // s + 1


def pool_out_size(size: int, k: int, s: int, p: int) -> int:
    """Caffe pooling output length along one axis (ceil mode + correction)."""
    out = int(math.ceil((size + 2 * p - k) / s)) + 1
    if p > 0 and (out - 1) * s >= size + p:
        out -= 1
    return out


def conv_out_hw(hw, kernel, stride, pad, dilation=(1, 1), op="Convolution"):
    """Output ``(H, W)``; raises ValueError if the window exceeds the padded input."""
    out = []
    for axis, size, k, s, p, d in zip("HW", hw, kernel, stride, pad, dilation):
        span = d * (k - 1) + 1
        if span > size + 2 * p:
            raise ValueError(
                f"{op}: kernel extent {span} along {axis} is larger than the "
                f"padded input ({size} + 2*{p}); use a larger image"
            )
        out.append(conv_out_size(size, k, s, p, d))
    return tuple(out)


def pool_out_hw(hw, kernel, stride, pad, op="Pooling"):
    """Pooling output ``(H, W)``; raises ValueError if the window does not fit."""
    out = []
    for axis, size, k, s, p in zip("HW", hw, kernel, stride, pad):
        if k > size + 2 * p:
            raise ValueError(
                f"{op}: kernel {k} along {axis} is larger than the padded input "
                f"({size} + 2*{p}); use a larger image"
            )
        out.append(pool_out_size(size, k, s, p))
    return tuple(out)


def check_bias(bias, bias_term: bool, num_output: int, op: str) -> None:
    """A bias is given exactly when ``bias_term`` says so, shaped (num_output,)."""
    if bias_term and bias is None:
        raise ValueError(f"{op}: bias_term is true but no bias was given")
    if not bias_term and bias is not None:
        raise ValueError(f"{op}: a bias was given but bias_term is false")
    if bias is not None and tuple(bias.shape) != (num_output,):
        raise ValueError(
            f"{op}: bias shape {tuple(bias.shape)} does not match "
            f"num_output: expected ({num_output},)"
        )
