"""``Net``: forward to any blob, backward to the input from any blobs.

Design section 3. Names are Caffe layer names with the meaning of Caffe's
``net.forward(end=name)`` (see :mod:`inceptionism.engine.graph`): for a
convolution followed by an in-place ReLU, the convolution's name gives the
pre-ReLU value and the ReLU's name the post-ReLU value, both at once (every
kernel writes a new array, so nothing is overwritten).

Only the layers the requested blobs depend on run; backward runs only the
layers between the seeds and the input, accumulating gradients where a blob
feeds several layers (the branches of an inception module, or a seeded blob
that also feeds another seeded blob). No weight gradients are computed.
Backward state (each op's ``ctx``) is kept only from the last forward, and
only for the layers upstream of its ``end`` (all of which may be seeded).

Weights are uploaded to the device once, at construction; ``forward`` and
``backward`` take and return arrays on the net's device and never copy
between host and device. ``preprocess``/``deprocess`` are the edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

from inceptionism.engine.graph import Graph
from inceptionism.kernels.backend import get_array_module, to_numpy, xp_for_device

#: In the reason :meth:`Net.shapes` gives for a layer whose weights do not
#: fit its input at that size (an InnerProduct: the picture size it was
#: trained at, or one that pools to the same grid).
SIZE_FIXED = "takes its training picture size"


class _Sibling(NamedTuple):
    """The backward state of a layer that ran with its siblings."""

    group: tuple[str, ...]
    position: int
    ctx: Any


class Net:
    """A model ready to run on one device.

    model : inceptionism.weights.Model
        Graph, parameters, preprocessing.
    device : "cpu" or "cuda"
    dtype : float32 (dreaming) or float64 (tests); the stored weights are
        cast once.
    merge_siblings : run layers that share an input and an op as one op
        where the op supports it (an inception module's 1x1 convolutions:
        one GEMM with the filters stacked, forward and backward); False
        runs every layer on its own. Same values to float rounding.

    Attributes: ``model``, ``device``, ``xp`` (numpy or cupy), ``dtype``,
    ``graph`` (:class:`~inceptionism.engine.graph.Graph`), ``input_name``,
    ``blob_names`` (input then every layer, in order), ``params``
    (``{layer: {"weight", "bias"}}`` on the device), ``mean`` (xp (3,), in
    the net's channel order), ``scale``, ``channel_order``.
    """

    def __init__(
        self, model, device: str = "cpu", dtype=np.float32, merge_siblings: bool = True
    ):
        self.model = model
        self.merge_siblings = merge_siblings
        self.device = device
        self.xp = xp_for_device(device)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"Net dtype must be float32 or float64, got {dtype}")
        self.graph = Graph(model.graph)
        self.input_name = self.graph.input_name
        self.blob_names: tuple[str, ...] = self.graph.names
        self.params: dict[str, dict[str, object]] = {}
        self._weights: dict[str, tuple] = {}
        for node in self.graph.nodes.values():
            names = node.op.WEIGHTS  # e.g. ("weight", "bias"), or ()
            self._weights[node.name] = ()
            if not names:
                continue
            stored = model.params.get(node.name)
            if stored is None or names[0] not in stored:
                raise ValueError(
                    f"layer {node.name!r} ({node.type}): no {names[0]} in the "
                    "model parameters; the weight file does not match its graph"
                )
            dev = {
                k: self.xp.asarray(np.asarray(v), dtype=self.dtype)
                for k, v in stored.items()
            }
            self.params[node.name] = dev
            self._weights[node.name] = tuple(dev.get(k) for k in names)
        pre = dict(model.preprocess or {})
        self.channel_order: str = str(pre.get("channel_order", "BGR")).upper()
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(
                f"preprocess channel_order must be 'RGB' or 'BGR', got "
                f"{self.channel_order!r}"
            )
        self.scale = float(pre.get("scale", 255.0))
        mean = np.asarray(pre.get("mean", [0.0, 0.0, 0.0]), dtype=np.float64)
        if mean.shape != (3,):
            raise ValueError(f"preprocess mean must have 3 values, got {mean.tolist()}")
        self._mean_host = mean  # float64 (3,), for the host-side edges
        self.mean = self.xp.asarray(mean, dtype=self.dtype)
        self._ctx: dict[str, object] = {}
        self._blob_shapes: dict[str, tuple] = {}
        self._dtype_last = None

    def __repr__(self) -> str:
        return (
            f"Net({self.model.name!r}, device={self.device!r}, "
            f"dtype={self.dtype.name}, {len(self.graph.nodes)} layers)"
        )

    # -- shapes ------------------------------------------------------------

    def shapes(self, input_hw: tuple[int, int], problems: dict | None = None):
        """``{name: shape}`` of every blob for a (1, 3, H, W) input, from the
        ops' ``output_shapes`` without running the net. Blobs that would be
        empty at this size are left out (see :meth:`Graph.shapes`), and so
        is a layer whose weights do not fit its input at this size (an
        InnerProduct's fix the picture's size), with all after it;
        ``problems`` gets the reason for each."""
        h, w = (int(v) for v in input_hw)
        shapes = self.graph.shapes((1, 3, h, w), problems)
        dropped: set[str] = set()
        for node in self.graph.nodes.values():
            if node.name not in shapes:
                continue
            if any(i in dropped for i in node.inputs):
                dropped.add(node.name)
            elif why := self._weights_misfit(node, shapes, (h, w)):
                dropped.add(node.name)
                if problems is not None:
                    problems[node.name] = why
        return {k: v for k, v in shapes.items() if k not in dropped}

    def _weights_misfit(self, node, shapes: dict, hw: tuple[int, int]) -> str | None:
        """Why ``node``'s weights cannot take its input at input size ``hw``
        (an InnerProduct's weights fix the picture's size), or None."""
        if not node.op.WEIGHTS or node.name not in self.params:
            return None
        ins = tuple(shapes[i] for i in node.inputs)
        want = node.op.weight_shapes(ins, node.params)[node.op.WEIGHTS[0]]
        have = tuple(self.params[node.name][node.op.WEIGHTS[0]].shape)  # type: ignore[attr-defined]
        if tuple(want) == have:
            return None
        nominal = self.graph.input_shape
        size = f" ({nominal[3]}x{nominal[2]})" if nominal else ""
        return (
            f"{node.name} ({node.type}) {SIZE_FIXED}{size}: its weights "
            f"are {have}, a {hw[1]}x{hw[0]} picture needs {tuple(want)}"
        )

    def resolve(self, name: str) -> str:
        """The layer name for ``name``; unknown names raise
        :class:`~inceptionism.engine.graph.UnknownBlobError` (a KeyError and a
        ValueError) listing the closest valid names."""
        return self.graph.resolve(name)

    # -- forward / backward ------------------------------------------------

    def forward(
        self, x, end: str | Iterable[str] | None = None, *, keep: bool = True
    ) -> dict:
        """Run the layers that ``end`` depends on.

        x : xp array (N, 3, H, W) of the net's dtype on its device
            (:meth:`preprocess` makes one).
        end : a layer name, several, or None for the whole net.
        keep : keep what backward needs (default); False for forward only.

        Returns ``{name: array}`` for the input and every layer computed, in
        order, each the value of that layer's top right after it ran (plus
        any alias named in ``end``, see :meth:`Graph.resolve`).
        """
        targets = self.graph.resolve_many(end)
        self._check_input(x)
        order = self.graph.order(self.graph.ancestors(targets))
        self._ctx = {}
        self._blob_shapes = {}
        blobs = {self.input_name: x}
        groups = self._sibling_groups(order)
        for name in order:
            if name in blobs:  # computed with its siblings
                continue
            node = self.graph.nodes[name]
            if name in groups:
                self._forward_siblings(groups[name], blobs, keep)
                continue
            xs = tuple(blobs[i] for i in node.inputs)
            try:
                (y,), ctx = node.op.forward(xs, node.params, self._weights[name])
            except ValueError as exc:
                raise ValueError(f"layer {name!r} ({node.type}): {exc}") from exc
            blobs[name] = y
            if keep:
                self._ctx[name] = ctx
        if keep:
            self._blob_shapes = {k: tuple(v.shape) for k, v in blobs.items()}
            self._dtype_last = x.dtype
        if end is not None:  # a requested alias (a renamed top) is a key too
            for raw in [end] if isinstance(end, str) else end:
                blobs.setdefault(raw, blobs[self.graph.resolve(raw)])
        return blobs

    def backward(self, seeds: Mapping[str, Any]) -> Any:
        """Gradient at the input of ``L`` given ``dL/dblob`` at some blobs.

        seeds : ``{name: array}``, each the shape of that blob in the last
            forward (which must have computed it, with ``keep=True``).

        Returns dL/dx, the shape of the input. Only the layers on a path from
        the seeds to the input run; gradients add up where a blob fans out.
        """
        if not seeds:
            raise ValueError("backward needs at least one seed {blob: gradient}")
        grads: dict[str, Any] = {}
        owned: set[str] = set()  # accumulators we allocated (safe to add into)

        def add(name: str, g) -> None:
            if name not in grads:
                grads[name] = g
            elif name in owned:
                grads[name] += g
            else:
                grads[name] = grads[name] + g
                owned.add(name)

        for raw, g in seeds.items():
            name = self.graph.resolve(raw)
            if name not in self._blob_shapes:
                raise ValueError(
                    f"seed {raw!r}: that blob was not computed by the last forward "
                    "(with keep=True); call forward(x, end=[...]) including it"
                )
            want = self._blob_shapes[name]
            if tuple(g.shape) != want:
                raise ValueError(
                    f"seed {raw!r}: gradient shape {tuple(g.shape)} does not match "
                    f"the blob's shape {want}"
                )
            if get_array_module(g) is not self.xp:
                raise ValueError(
                    f"seed {raw!r}: gradient is not a {self.xp.__name__} array on "
                    f"device {self.device!r}"
                )
            if g.dtype != self._dtype_last:
                raise ValueError(
                    f"seed {raw!r}: gradient dtype {g.dtype} differs from the "
                    f"net's {self._dtype_last}"
                )
            add(name, g)
        order = self.graph.order(self.graph.ancestors(grads))
        # siblings run one backward, at the last of them this loop visits
        last: dict[tuple[str, ...], str] = {}
        for name in order:
            ctx = self._ctx.get(name)
            if isinstance(ctx, _Sibling):
                last.setdefault(ctx.group, name)
        pending: dict[tuple[str, ...], list] = {}
        for name in reversed(order):
            g = grads.pop(name, None)
            node, ctx = self.graph.nodes[name], self._ctx.get(name)
            if isinstance(ctx, _Sibling):
                dys = pending.setdefault(ctx.group, [None] * len(ctx.group))
                dys[ctx.position] = g
                if name != last[ctx.group] or all(d is None for d in dys):
                    continue
                del pending[ctx.group]
                add(node.inputs[0], node.op.backward_shared(tuple(dys), ctx.ctx))
                continue
            if g is None:  # only reachable through unseeded consumers
                continue
            dxs = node.op.backward((g,), ctx)
            for i, dx in zip(node.inputs, dxs):
                add(i, dx)
        return grads[self.input_name]

    # -- sibling layers ----------------------------------------------------

    def _sibling_groups(self, order: list[str]) -> dict[str, tuple[str, ...]]:
        """``{layer: its group}`` for layers of ``order`` that one op runs as
        one (``share_key``, see :mod:`inceptionism.kernels`): the same op,
        the same single input and equal keys, e.g. an inception module's
        1x1 convolutions. Empty with ``merge_siblings=False``."""
        if not self.merge_siblings:
            return {}
        found: dict[tuple, list[str]] = {}
        for name in order:
            node = self.graph.nodes[name]
            key_of = getattr(node.op, "share_key", None)
            key = None if key_of is None else key_of(node.params)
            if key is not None and len(node.inputs) == 1:
                found.setdefault((node.inputs[0], node.op.__name__, key), []).append(
                    name
                )
        return {m: tuple(g) for g in found.values() if len(g) > 1 for m in g}

    def _forward_siblings(self, group: tuple[str, ...], blobs: dict, keep: bool):
        nodes = [self.graph.nodes[m] for m in group]
        op = nodes[0].op
        try:
            ys, ctx = op.forward_shared(
                blobs[nodes[0].inputs[0]],
                tuple(n.params for n in nodes),
                tuple(self._weights[m] for m in group),
            )
        except ValueError as exc:
            names = ", ".join(repr(m) for m in group)
            raise ValueError(f"layers {names} ({nodes[0].type}): {exc}") from exc
        for i, (name, y) in enumerate(zip(group, ys)):
            blobs[name] = y
            if keep:
                self._ctx[name] = _Sibling(group, i, ctx)

    def _check_input(self, x) -> None:
        if get_array_module(x) is not self.xp:
            raise ValueError(
                f"input is a {type(x).__name__}, not a {self.xp.__name__} array on "
                f"device {self.device!r}; use net.preprocess(rgb)"
            )
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"input must have shape (N, 3, H, W), got {tuple(x.shape)}"
            )
        if x.dtype != self.dtype:
            raise ValueError(
                f"input dtype {x.dtype} differs from the net's {self.dtype}; "
                "use net.preprocess(rgb)"
            )

    # -- pre/post-processing (the host/device edge) ------------------------

    def preprocess(self, rgb):
        """RGB image -> network input.

        rgb : float (H, W, 3) RGB in 0..255 (host array).
        returns : xp (1, 3, H, W) in the net's channel order and dtype,
            scaled to 0..scale, mean subtracted, on the net's device.
        """
        a = np.asarray(to_numpy(rgb))
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"expected an RGB image of shape (H, W, 3), got {a.shape}")
        if a.dtype.kind in "fc" and not np.isfinite(a.sum(dtype=np.float64)):
            bad = int(a.size - np.count_nonzero(np.isfinite(a)))  # no copy before
            raise ValueError(
                f"the picture holds {bad} NaN or infinite value(s); give finite "
                "RGB values in 0..255"
            )
        if self.channel_order == "BGR":
            a = a[:, :, ::-1]
        a = a.astype(np.float64)  # in place from here: no more picture copies
        a *= self.scale / 255.0
        a -= self._mean_host
        x = np.ascontiguousarray(a.transpose(2, 0, 1)[None], dtype=self.dtype)
        return self.xp.asarray(x)

    def deprocess(self, x) -> np.ndarray:
        """Network input -> float32 (H, W, 3) RGB 0..255 host array (the
        inverse of :meth:`preprocess`; not clipped). x : (1, 3, H, W) or
        (3, H, W)."""
        a = to_numpy(x)
        if a.ndim == 4:
            if a.shape[0] != 1:
                raise ValueError(f"deprocess takes one image, got {a.shape}")
            a = a[0]
        if a.ndim != 3 or a.shape[0] != 3:
            raise ValueError(f"expected (1, 3, H, W) or (3, H, W), got {a.shape}")
        a = a.astype(np.float64)  # in place from here: no more picture copies
        a += self._mean_host[:, None, None]
        a *= 255.0 / self.scale
        if self.channel_order == "BGR":
            a = a[::-1]
        return np.ascontiguousarray(a.transpose(1, 2, 0), dtype=np.float32)
