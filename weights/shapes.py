"""Shape inference over a graph dict: blob shapes and parameter shapes.

Used to make synthetic weights and to validate loaded or converted weights
against the topology. The rules are not written here: each layer's
parameters are read by :func:`~inceptionism.weights.caffe_params.layer_params`
(Caffe's defaults and spellings) and its shapes come from the op's own
``output_shapes`` and ``weight_shapes`` (:mod:`inceptionism.kernels`), the
same code that runs the layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

from inceptionism.kernels import get_op
from inceptionism.weights.caffe_params import layer_params

Shape = tuple[int, ...]


def _input_shape(graph: Mapping, size: tuple[int, int] | None) -> Shape:
    shape = tuple(int(d) for d in graph["input"]["shape"])
    if size is not None:
        shape = shape[:2] + (int(size[0]), int(size[1]))
    return shape


#: One step of a walk: (layer name, op module, typed params, the keys of its
#: inputs, the keys its output is stored under).
Step = tuple[str, ModuleType, Any, Sequence[str], Sequence[str]]


def walk_shapes(
    input_key: str,
    input_shape: Shape,
    steps: Iterable[Step],
    strict: bool = True,
    problems: dict[str, str] | None = None,
) -> Iterator[tuple[str, ModuleType, Any, tuple[Shape, ...], Shape]]:
    """The one shape walk over a layer graph: yield ``(name, op, params,
    input shapes, output shape)`` for each step, in order, with each op's own
    ``output_shapes``.

    Keys are what the caller reads and writes: blob names for a graph dict
    (:func:`infer_shapes`), node names for
    :class:`~inceptionism.engine.graph.Graph`. A step whose output would be
    empty raises ``ValueError`` naming it; with ``strict=False`` it is left
    out instead, with every step that depends on it, and ``problems`` (if a
    dict) receives ``{name: reason}`` for the steps that failed themselves.
    """
    blobs: dict[str, Shape] = {input_key: input_shape}
    empty: set[str] = set()
    for name, op, params, bottoms, tops in steps:
        missing = [b for b in bottoms if b not in blobs]
        if missing:
            if not strict and missing[0] in empty:
                empty.update(tops)
                continue
            raise ValueError(
                f"layer {name!r}: bottom blob {missing[0]!r} is not produced by "
                "any earlier layer"
            )
        ins = tuple(blobs[b] for b in bottoms)
        try:
            (y,) = op.output_shapes(ins, params)
            y = tuple(int(d) for d in y)
            reason = None
        except ValueError as exc:  # the op says why (e.g. window too big)
            reason = str(exc)
        if reason is None and any(d <= 0 for d in y):  # both old wordings kept
            reason = f"output shape {y} is empty" if strict else f"empty output {y}"
        if reason is not None:
            if strict:
                raise ValueError(
                    f"layer {name!r}: {reason} (input size {input_shape[2:]})"
                )
            if problems is not None:
                problems[name] = reason
            empty.update(tops)
            for top in tops:  # an in-place layer empties its blob
                blobs.pop(top, None)
            continue
        for top in tops:
            blobs[top] = y
        yield name, op, params, ins, y


def shapes_by_name(
    input_key: str,
    input_shape: Shape,
    steps: Iterable[Step],
    strict: bool = True,
    problems: dict[str, str] | None = None,
) -> dict[str, Shape]:
    """``{input_key: input_shape, name: output shape, ...}`` of
    :func:`walk_shapes` (left-out steps absent)."""
    out = {input_key: input_shape}
    for name, *_, y in walk_shapes(input_key, input_shape, steps, strict, problems):
        out[name] = y
    return out


def _graph_steps(graph: Mapping) -> Iterator[Step]:
    """A graph dict's layers as walk steps keyed by blob name, each with its
    op module and typed params."""
    for layer in graph["layers"]:
        name, type_ = layer["name"], layer["type"]
        op = get_op(type_, name)
        params = layer_params(type_, layer.get("params"), name)
        yield name, op, params, layer["bottom"], layer["top"]


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
    shape = _input_shape(graph, size)
    return shapes_by_name(graph["input"]["name"], shape, _graph_steps(graph), strict)


def param_shapes(graph: Mapping) -> dict[str, dict[str, Shape]]:
    """Expected parameter shapes at the graph's nominal input size:
    ``{layer: {"weight": ..., "bias": ...}}`` for every layer whose op has
    ``WEIGHTS`` (from the op's ``weight_shapes``)."""
    result: dict[str, dict[str, Shape]] = {}
    for name, op, params, ins, _ in walk_shapes(
        graph["input"]["name"], _input_shape(graph, None), _graph_steps(graph)
    ):
        if op.WEIGHTS:
            try:
                result[name] = dict(op.weight_shapes(ins, params))
            except ValueError as exc:
                raise ValueError(f"layer {name!r}: {exc}") from None
    return result
