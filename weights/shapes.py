"""Shape inference over a graph dict: blob shapes and parameter shapes.

Used to make synthetic weights and to validate loaded or converted weights
against the topology. ``weights`` must not import ``kernels`` (design section
1), so the output-size rules are written here once more; they are Caffe's:

- Convolution (conv_layer.cpp): ``out = floor((H + 2p - (d(k-1)+1)) / s) + 1``.
- Pooling (pooling_layer.cpp): ``out = ceil((H + 2p - k) / s) + 1``; then if
  ``p > 0`` and ``(out - 1) * s >= H + p``, ``out -= 1`` so that the last
  window starts inside the image or its left padding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

#: Layer types a deploy graph may contain. This mirrors
#: ``inceptionism.kernels.OP_MODULES`` (weights may not import kernels; a test
#: elsewhere checks the two agree).
SUPPORTED_TYPES: tuple[str, ...] = (
    "Convolution",
    "Pooling",
    "LRN",
    "ReLU",
    "Concat",
    "InnerProduct",
    "Dropout",
    "Softmax",
)

#: Layer types that carry learned parameters (weight, and bias if bias_term).
PARAM_TYPES: tuple[str, ...] = ("Convolution", "InnerProduct")


def _pair(params: Mapping, name: str, default: int | None) -> tuple[int, int]:
    """(h, w) of a Caffe spatial parameter: ``name`` (one value or a (h, w)
    list) or ``name_h``/``name_w``; ``default`` when absent."""
    base = name.removesuffix("_size")  # kernel_size pairs with kernel_h/_w
    h, w = params.get(f"{base}_h"), params.get(f"{base}_w")
    if h is not None or w is not None:
        if h is None or w is None:
            raise ValueError(f"{base}_h and {base}_w must be given together")
        return int(h), int(w)
    v = params.get(name, default)
    if isinstance(v, (list, tuple)):
        if len(v) == 1:
            return int(v[0]), int(v[0])
        if len(v) == 2:
            return int(v[0]), int(v[1])
        raise ValueError(f"{name} must have 1 or 2 values, got {list(v)}")
    return int(v), int(v)


def conv_out(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    """Caffe convolution output size (floor)."""
    return (size + 2 * p - (d * (k - 1) + 1)) // s + 1


def pool_out(size: int, k: int, s: int, p: int) -> int:
    """Caffe pooling output size (ceil, then the padding correction)."""
    out = int(math.ceil((size + 2 * p - k) / s)) + 1
    if p > 0 and (out - 1) * s >= size + p:
        out -= 1
    return out


def _bias_term(params: Mapping) -> bool:
    v = params.get("bias_term", True)
    return v if isinstance(v, bool) else str(v).lower() not in ("false", "0")


def _layer_out(layer: Mapping, ins: list[tuple[int, ...]]) -> tuple[int, ...]:
    t, p, name = layer["type"], layer.get("params", {}), layer["name"]
    x = ins[0]
    if t == "Convolution":
        n, _, h, w = x
        if not _has(p, "kernel"):
            _missing(name, "kernel_size")
        kh, kw = _pair(p, "kernel_size", None)
        sh, sw = _pair(p, "stride", 1)
        ph, pw = _pair(p, "pad", 0)
        dh, dw = _pair(p, "dilation", 1)
        if "num_output" not in p:
            _missing(name, "num_output")
        return (
            n,
            int(p["num_output"]),
            conv_out(h, kh, sh, ph, dh),
            conv_out(w, kw, sw, pw, dw),
        )
    if t == "Pooling":
        n, c, h, w = x
        if p.get("global_pooling") in (True, "true"):
            return (n, c, 1, 1)
        if not _has(p, "kernel"):
            _missing(name, "kernel_size")
        kh, kw = _pair(p, "kernel_size", None)
        sh, sw = _pair(p, "stride", 1)
        ph, pw = _pair(p, "pad", 0)
        return (n, c, pool_out(h, kh, sh, ph), pool_out(w, kw, sw, pw))
    if t == "Concat":
        axis = int(p.get("axis", p.get("concat_dim", 1)))
        for other in ins[1:]:
            if len(other) != len(x) or any(
                a != b for i, (a, b) in enumerate(zip(x, other)) if i != axis
            ):
                raise ValueError(
                    f"layer {name!r}: Concat inputs {ins} differ off axis {axis}"
                )
        out = list(x)
        out[axis] = sum(s[axis] for s in ins)
        return tuple(out)
    if t == "InnerProduct":
        if "num_output" not in p:
            _missing(name, "num_output")
        return (x[0], int(p["num_output"]))
    if t in ("LRN", "ReLU", "Dropout", "Softmax"):
        return tuple(x)
    raise ValueError(
        f"layer {name!r}: unsupported layer type {t!r}; supported types: "
        f"{', '.join(sorted(SUPPORTED_TYPES))}"
    )


def _has(p: Mapping, name: str) -> bool:
    return f"{name}_size" in p or f"{name}_h" in p


def _missing(layer: str, what: str):
    raise ValueError(f"layer {layer!r}: parameter {what} is required")


def infer_shapes(
    graph: Mapping, size: tuple[int, int] | None = None, strict: bool = True
) -> dict:
    """Shape of every layer's output, in graph order.

    graph : dict
        Design section 4 graph.
    size : (H, W), optional
        Input spatial size; default the graph's nominal input shape.

    Returns ``{name: shape}`` with the input blob first, then one entry per
    layer (the value of its top right after it ran, Caffe's
    ``forward(end=layer)``). Shapes are NCHW tuples, (N, K) after an
    InnerProduct. A layer whose output would be empty raises ``ValueError``
    naming it; with ``strict=False`` it is left out instead, with every layer
    that depends on it (small inputs: the net still runs up to there).
    """
    inp = graph["input"]
    shape = tuple(int(d) for d in inp["shape"])
    if size is not None:
        shape = shape[:2] + (int(size[0]), int(size[1]))
    blobs: dict[str, tuple[int, ...]] = {inp["name"]: shape}
    out: dict[str, tuple[int, ...]] = {inp["name"]: shape}
    empty: set[str] = set()
    for layer in graph["layers"]:
        try:
            ins = [blobs[b] for b in layer["bottom"]]
        except KeyError as exc:
            if not strict and exc.args[0] in empty:
                empty.update(layer["top"])
                continue
            raise ValueError(
                f"layer {layer['name']!r}: bottom blob {exc.args[0]!r} is not "
                "produced by any earlier layer"
            ) from None
        y = _layer_out(layer, ins)
        if any(d <= 0 for d in y):
            if not strict:
                empty.update(layer["top"])
                for top in layer["top"]:  # an in-place layer empties its blob
                    blobs.pop(top, None)
                continue
            raise ValueError(
                f"layer {layer['name']!r}: output shape {y} is empty for input "
                f"size {shape[2:]}; use a larger image"
            )
        for top in layer["top"]:
            blobs[top] = y
        out[layer["name"]] = y
    return out


def param_shapes(graph: Mapping) -> dict[str, dict[str, tuple[int, ...]]]:
    """Expected parameter shapes: ``{layer: {"weight": ..., "bias": ...}}``.

    Convolution weight (num_output, C_in / group, kh, kw), InnerProduct
    weight (num_output, C*H*W of its input at the graph's nominal size),
    bias (num_output,) unless ``bias_term: false``.
    """
    shapes = infer_shapes(graph)
    blobs: dict[str, tuple[int, ...]] = {
        graph["input"]["name"]: shapes[graph["input"]["name"]]
    }
    result: dict[str, dict[str, tuple[int, ...]]] = {}
    for layer in graph["layers"]:
        p = layer.get("params", {})
        x = blobs[layer["bottom"][0]]
        if layer["type"] == "Convolution":
            kh, kw = _pair(p, "kernel_size", None)
            group = int(p.get("group", 1))
            n = int(p["num_output"])
            if x[1] % group or n % group:
                raise ValueError(
                    f"layer {layer['name']!r}: group {group} does not divide "
                    f"{x[1]} input and {n} output channels"
                )
            result[layer["name"]] = {"weight": (n, x[1] // group, kh, kw)}
        elif layer["type"] == "InnerProduct":
            n = int(p["num_output"])
            result[layer["name"]] = {"weight": (n, math.prod(x[1:]))}
        if layer["name"] in result and _bias_term(p):
            result[layer["name"]]["bias"] = (int(p["num_output"]),)
        for top in layer["top"]:
            blobs[top] = shapes[layer["name"]]
    return result
