"""The layer graph of a deploy net: order, in-place layers, fan-out, sub-graphs.

A graph dict (design section 4) lists Caffe layers in prototxt order, each
with ``bottom`` and ``top`` *blob* names. Caffe lets a layer write its top in
place (``top == bottom``: the ReLU after every convolution, the Dropout before
the classifier), so one blob name stands for several values over time. Here
every **layer** is a node whose value is its top right after it ran (Caffe's
``net.forward(end=layer)``); a layer's inputs are the nodes that last wrote
its bottom blobs when it ran. Then a convolution and its in-place ReLU are two
nodes (pre- and post-ReLU), fan-out is a node read by several layers, and the
sub-graph needed for a set of nodes is the set of their ancestors.

The input (``graph["input"]["name"]``, or the top of an ``Input``/``Data``
layer) is node 0. A top name that is not also a layer name (a blob renamed by
its writer) is accepted as an alias of the layer that last wrote it, i.e.
Caffe's ``net.blobs[name]`` after a full forward.

Prototxt order is the topological order: Caffe requires each bottom to be
written by an earlier layer, and in-place writes make the order meaningful.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType

from inceptionism.kernels import get_op
from inceptionism.weights.caffe_params import layer_params
from inceptionism.weights.shapes import shapes_by_name

#: Caffe layer types that only declare the net's input.
INPUT_TYPES = ("Input", "Data", "ImageData", "MemoryData")


class UnknownBlobError(KeyError, ValueError):
    """A blob name that the graph does not have; lists the closest names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def _closest(name: str, choices: list[str], n: int = 6) -> list[str]:
    """Names to suggest for an unknown ``name``: for a module prefix
    (``inception_4c``) its blobs, its ``output`` first; otherwise the most
    similar names."""
    inside = [c for c in choices if c.startswith(name.rstrip("/") + "/")]
    if inside:
        return sorted(inside, key=lambda c: not c.endswith("/output"))[:n]
    return difflib.get_close_matches(name, choices, n=n, cutoff=0.5)


@dataclass(frozen=True)
class Node:
    """One layer of the graph.

    name : the Caffe layer name (the node's key)
    type : the Caffe layer type
    inputs : names of the nodes whose values this layer reads, in bottom order
    op : the kernel module (``inceptionism.kernels.get_op(type)``)
    params : the op's typed ``Params``
        (:func:`inceptionism.weights.caffe_params.layer_params`)
    in_place : the layer writes its top over its bottom (ReLU, Dropout)
    """

    name: str
    type: str
    inputs: tuple[str, ...]
    op: ModuleType
    params: object
    in_place: bool


class Graph:
    """A deploy graph resolved into layer nodes (see the module docstring).

    graph : dict
        Design section 4: ``{"name", "input": {"name", "shape"}, "layers"}``.

    Raises ``ValueError`` naming the layer for an unsupported type, bad
    parameters, a bottom no earlier layer writes, a duplicate layer name or a
    layer with more than one top.
    """

    def __init__(self, graph: Mapping):
        layers = list(graph.get("layers", ()))
        inp = graph.get("input") or {}
        input_name = inp.get("name")
        input_shape = inp.get("shape")
        input_layers = [ly for ly in layers if ly.get("type") in INPUT_TYPES]
        if input_layers:
            first = input_layers[0]
            if input_name is None:
                input_name = first["top"][0]
            if input_shape is None:
                input_shape = first.get("params", {}).get("shape")
        if input_name is None:
            raise ValueError(
                "graph has no input: give graph['input']['name'] or an Input layer"
            )
        self.name: str = str(graph.get("name", ""))
        self.input_name: str = input_name
        self.input_shape = tuple(int(d) for d in input_shape) if input_shape else None
        self.nodes: dict[str, Node] = {}
        #: blob name -> node that last wrote it (so far, while building)
        writer: dict[str, str] = {input_name: input_name}
        aliases: dict[str, str] = {}
        for ly in layers:
            name, type_ = ly.get("name"), ly.get("type")
            if type_ in INPUT_TYPES:
                for top in ly.get("top", ()):
                    writer[top] = input_name
                if name and name != input_name:
                    aliases[name] = input_name
                continue
            if name in self.nodes or name == input_name:
                raise ValueError(f"layer {name!r}: duplicate layer name")
            tops = list(ly.get("top", ()))
            if len(tops) != 1:
                raise ValueError(
                    f"layer {name!r} ({type_}): exactly one top is supported, "
                    f"got {tops}"
                )
            bottoms = list(ly.get("bottom", ()))
            missing = [b for b in bottoms if b not in writer]
            if missing or not bottoms:
                raise ValueError(
                    f"layer {name!r}: bottom blob {missing[0] if missing else None!r}"
                    " is not written by any earlier layer or the input"
                )
            op = get_op(type_, name)
            params = layer_params(type_, ly.get("params"), name)
            self.nodes[name] = Node(
                name=name,
                type=type_,
                inputs=tuple(writer[b] for b in bottoms),
                op=op,
                params=params,
                in_place=tops[0] in bottoms,
            )
            writer[tops[0]] = name
        for blob, layer in writer.items():
            if blob not in self.nodes and blob != input_name:
                aliases.setdefault(blob, layer)
        self.aliases: dict[str, str] = aliases
        #: the input then every layer, in prototxt (= topological) order
        self.names: tuple[str, ...] = (input_name, *self.nodes)
        self.consumers: dict[str, tuple[str, ...]] = {n: () for n in self.names}
        for node in self.nodes.values():
            for i in dict.fromkeys(node.inputs):
                self.consumers[i] = (*self.consumers[i], node.name)
        self._index = {n: i for i, n in enumerate(self.names)}

    # -- names -------------------------------------------------------------

    def resolve(self, name: str) -> str:
        """The node for a layer name (or input / blob alias).

        Raises :class:`UnknownBlobError` listing the closest valid names.
        """
        if name in self._index:
            return name
        if name in self.aliases:
            return self.aliases[name]
        close = _closest(str(name), [*self.names, *self.aliases])
        hint = (
            f"closest: {', '.join(close)}"
            if close
            else "run `inceptionism layers` to list them"
        )
        raise UnknownBlobError(
            f"unknown blob {name!r} in net {self.name or '(unnamed)'}: {hint}"
        )

    def resolve_many(self, names: str | Iterable[str] | None) -> list[str]:
        """Resolve one name, several, or None (= every layer)."""
        if names is None:
            return list(self.names)
        if isinstance(names, str):
            names = [names]
        return list(dict.fromkeys(self.resolve(n) for n in names))

    # -- sub-graphs --------------------------------------------------------

    def ancestors(self, targets: Iterable[str]) -> set[str]:
        """Every node the resolved ``targets`` depend on, themselves included."""
        seen: set[str] = set()
        stack = list(targets)
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            if n in self.nodes:
                stack.extend(self.nodes[n].inputs)
        return seen

    def order(self, subset: Iterable[str]) -> list[str]:
        """The layers of ``subset`` (input excluded) in topological order."""
        sub = set(subset)
        return [n for n in self.nodes if n in sub]

    def blob_count(self) -> int:
        """Distinct blob names counting the input: Caffe's ``len(net.blobs)``
        (an in-place layer writes no new blob)."""
        return 1 + sum(not node.in_place for node in self.nodes.values())

    # -- shapes ------------------------------------------------------------

    def shapes(
        self, input_shape: tuple[int, ...], problems: dict | None = None
    ) -> dict[str, tuple[int, ...]]:
        """Output shape of every node for an input of ``input_shape``.

        Computed with each op's ``output_shapes`` without running anything.
        A layer whose output would be empty at this size (its window larger
        than its padded input) is left out of the result, and so is
        everything that depends on it; ``forward`` to it fails. If
        ``problems`` is a dict, it receives ``{layer: reason}`` for the first
        layers left out. The walk is
        :func:`inceptionism.weights.shapes.walk_shapes`, keyed by node name.
        """
        steps = (
            (n.name, n.op, n.params, n.inputs, (n.name,)) for n in self.nodes.values()
        )
        return shapes_by_name(
            self.input_name, tuple(input_shape), steps, strict=False, problems=problems
        )
