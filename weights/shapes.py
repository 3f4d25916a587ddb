"""Shape inference over a graph dict: blob shapes and parameter shapes.

Used to make synthetic weights and to validate loaded or converted weights
against the topology. The rules are not written here: each layer's
parameters are read by :func:`~inceptionism.weights.caffe_params.layer_params`
(Caffe's defaults and spellings) and its shapes come from the op's own
``output_shapes`` and ``weight_shapes`` (:mod:`inceptionism.kernels`), the
same code that runs the layer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any

from inceptionism.kernels import get_op
from inceptionism.weights.caffe_params import layer_params

Shape = tuple[int, ...]


def _layers(graph: Mapping) -> Iterator[tuple[Mapping, ModuleType, Any]]:
    """Each layer with its op module and typed params."""
    for layer in graph["layers"]:
        op = get_op(layer["type"], layer["name"])
        yield layer, op, layer_params(layer["type"], layer.get("params"), layer["name"])


def _input_shape(graph: Mapping, size: tuple[int, int] | None) -> Shape:
    shape = tuple(int(d) for d in graph["input"]["shape"])
    if size is not None:
        shape = shape[:2] + (int(size[0]), int(size[1]))
    return shape


def _walk(graph: Mapping, size, strict: bool):
    """Yield ``(layer, op, params, input shapes, output shape)`` in order;
    see :func:`infer_shapes` for ``strict``."""
    inp = graph["input"]
    shape = _input_shape(graph, size)
    blobs: dict[str, Shape] = {inp["name"]: shape}
    empty: set[str] = set()
    for layer, op, params in _layers(graph):
        name = layer["name"]
        missing = [b for b in layer["bottom"] if b not in blobs]
        if missing:
            if not strict and missing[0] in empty:
                empty.update(layer["top"])
                continue
            raise ValueError(
                f"layer {name!r}: bottom blob {missing[0]!r} is not produced by "
                "any earlier layer"
            )
        ins = tuple(blobs[b] for b in layer["bottom"])
        try:
            (y,) = op.output_shapes(ins, params)
            if any(d <= 0 for d in y):
                raise ValueError(f"output shape {y} is empty")
        except ValueError as exc:
            if not strict:
                empty.update(layer["top"])
                for top in layer["top"]:  # an in-place layer empties its blob
                    blobs.pop(top, None)
                continue
            raise ValueError(
                f"layer {name!r}: {exc} (input size {shape[2:]})"
            ) from None
        for top in layer["top"]:
            blobs[top] = tuple(int(d) for d in y)
        yield layer, op, params, ins, blobs[layer["top"][0]]


def infer_shapes(
    graph: Mapping, size: tuple[int, int] | None = None, strict: bool = True
) -> dict[str, Shape]:
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
    out: dict[str, Shape] = {graph["input"]["name"]: _input_shape(graph, size)}
    for layer, _, _, _, y in _walk(graph, size, strict):
        out[layer["name"]] = y
    return out


def param_shapes(graph: Mapping) -> dict[str, dict[str, Shape]]:
    """Expected parameter shapes at the graph's nominal input size:
    ``{layer: {"weight": ..., "bias": ...}}`` for every layer whose op has
    ``WEIGHTS`` (from the op's ``weight_shapes``)."""
    result: dict[str, dict[str, Shape]] = {}
    for layer, op, params, ins, _ in _walk(graph, None, True):
        if op.WEIGHTS:
            try:
                result[layer["name"]] = dict(op.weight_shapes(ins, params))
            except ValueError as exc:
                raise ValueError(f"layer {layer['name']!r}: {exc}") from None
    return result
