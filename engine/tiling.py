"""Tiled dreaming in bounded memory (issue 11): geometry and the tiled gradient.

**Geometry from the graph.** Along each axis, position ``i`` of a blob sees
the input pixels ``[i*stride + offset, i*stride + offset + size)``: its
receptive field (:class:`Field`). It is computed layer by layer from the
ops' parameters (``k_eff = d(k-1)+1``; ``size += (k_eff-1)*stride``,
``offset -= pad*stride``, ``stride *= s``); ReLU, Dropout and LRN across
channels leave it unchanged, LRN within a channel is a stride-1 window, and
Concat takes the union of its inputs' fields (their strides must agree).
Layers that see the whole picture (InnerProduct, global pooling) cannot be
tiled exactly and are refused, naming the layer.

**Tiles.** The picture is cut into interiors whose edges are multiples of
the *alignment*, the least common multiple of the objective blobs' strides,
so that every strided/pooled grid of a tile coincides with the untiled one.
Each blob position belongs to the one tile whose interior holds its anchor
pixel ``i*stride``; a tile's crop is its share's receptive fields (clipped
to the picture), its start rounded down to the alignment. Interior tiles
then compute their share exactly as untiled (a window that would read the
crop's zero padding or a clipped ceil-mode pooling window lies outside every
receptive field of the share), and tiles touching the picture's border keep
the real border, so Caffe's padding and ceil-mode pooling happen where they
happen untiled.

**Gradient.** Each tile's seeds are the objective's gradient on its share
(zero elsewhere in the tile's blobs); the tile's input gradient is *added*
into one full-size gradient over the whole crop, halo included (a share
position's receptive field reaches into its neighbours' interiors, so
writing interiors only would lose those terms). The sum over tiles is the
untiled gradient, exactly, up to float summation order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from inceptionism.kernels.backend import get_array_module as net_xp

#: Layer types that leave every position's field unchanged.
POINTWISE_TYPES = ("ReLU", "Dropout", "Concat", "LRN")


@dataclass(frozen=True)
class Field:
    """Receptive field of a blob's positions along one axis (input pixels).

    Position ``i`` sees ``[i*stride + offset, i*stride + offset + size)``;
    ``offset`` is <= 0 where padding reaches before the first pixel.
    """

    stride: int = 1
    offset: int = 0
    size: int = 1

    def window(self, k: int, s: int, p: int, d: int = 1) -> Field:
        """The field after a window op (kernel ``k``, stride ``s``, pad ``p``,
        dilation ``d``) reading a blob with this field."""
        k_eff = d * (k - 1) + 1
        return Field(
            stride=self.stride * s,
            offset=self.offset - p * self.stride,
            size=self.size + (k_eff - 1) * self.stride,
        )

    def union(self, other: Field) -> Field:
        """The field of a concatenation: both inputs' pixels."""
        if other.stride != self.stride:
            raise ValueError(
                f"concatenated blobs have strides {self.stride} and {other.stride}"
            )
        start = min(self.offset, other.offset)
        stop = max(self.offset + self.size, other.offset + other.size)
        return Field(self.stride, start, stop - start)

    def span(self, i0: int, i1: int) -> tuple[int, int]:
        """Input pixels seen by positions ``[i0, i1)`` (unclipped)."""
        return i0 * self.stride + self.offset, (i1 - 1) * self.stride + (
            self.offset + self.size
        )


Fields = tuple[Field, Field]  # (along H, along W)


class Untileable(ValueError):
    """A layer on the objective's path sees the whole picture (``what``)."""

    def __init__(self, what: str):
        super().__init__(
            f"{what}, so its blobs cannot be tiled; choose an objective on an "
            "earlier layer or --tile off"
        )
        self.what = what


def _window_params(node) -> tuple | None:
    """``((kh, kw), (sh, sw), (ph, pw), (dh, dw))`` for a window layer, None
    for a layer that keeps the grid; ValueError for one that sees the whole
    picture."""
    p = node.params
    if node.type == "LRN" and getattr(p.norm_region, "value", "") == "WITHIN_CHANNEL":
        n = p.local_size
        r = (n - 1) // 2
        return (n, n), (1, 1), (r, r), (1, 1)
    if node.type in POINTWISE_TYPES:
        return None
    if node.type in ("Convolution", "Pooling") and not getattr(
        p, "global_pooling", False
    ):
        return p.kernel, p.stride, p.pad, getattr(p, "dilation", (1, 1))
    raise Untileable(f"layer {node.name!r} ({node.type}) sees the whole picture")


def receptive_fields(graph, layers: Iterable[str]) -> dict[str, Fields]:
    """``{node: (field_h, field_w)}`` for ``layers`` (resolved names) and
    every node they depend on, the input included."""
    nodes = graph.order(graph.ancestors(list(layers)))
    fields: dict[str, Fields] = {graph.input_name: (Field(), Field())}
    for name in nodes:
        node = graph.nodes[name]
        ins = [fields[i] for i in node.inputs]
        f = ins[0]
        for other in ins[1:]:
            try:
                f = (f[0].union(other[0]), f[1].union(other[1]))
            except ValueError as exc:
                raise ValueError(f"layer {name!r} ({node.type}): {exc}") from None
        win = _window_params(node)
        if win is not None:
            k, s, p, d = win
            f = (
                f[0].window(k[0], s[0], p[0], d[0]),
                f[1].window(k[1], s[1], p[1], d[1]),
            )
        fields[name] = f
    return fields


# -- tiles -------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One tile of a plan.

    interior : ``((y0, y1), (x0, x1))`` input pixels this tile owns (the
        interiors cover the picture exactly once).
    crop : ``((y0, y1), (x0, x1))`` input pixels run through the net.
    shares : ``{blob: ((i0, i1), (j0, j1))}`` the blob positions (untiled
        coordinates) this tile computes for the objective.
    origins : ``{blob: (i, j)}`` the untiled position of the crop's blob
        position (0, 0).
    """

    interior: tuple[tuple[int, int], tuple[int, int]]
    crop: tuple[tuple[int, int], tuple[int, int]]
    shares: dict
    origins: dict

    @property
    def empty(self) -> bool:
        """No blob position is anchored in this tile (a thin last tile whose
        pixels only neighbours' windows reach): nothing to run."""
        return all(i1 <= i0 or j1 <= j0 for (i0, i1), (j0, j1) in self.shares.values())


def alignment(fields: dict[str, Fields], layers: Iterable[str]) -> tuple[int, int]:
    """Tile edges fall on multiples of this (H, W): the LCM of the blobs'
    strides (every grid on their path divides it)."""
    return tuple(  # type: ignore[return-value]
        math.lcm(*(fields[name][axis].stride for name in layers)) for axis in (0, 1)
    )


def halo(fields: dict[str, Fields], layers: Iterable[str]) -> tuple[int, int]:
    """The exact halo (H, W): how far beyond a tile's interior the crop may
    have to reach, the largest receptive-field overhang on either side."""
    out = []
    for axis in (0, 1):
        reach = 0
        for name in layers:
            f = fields[name][axis]
            reach = max(reach, -f.offset, f.offset + f.size - f.stride)
        out.append(reach)
    return tuple(out)  # type: ignore[return-value]


def step_of(tile: int, align: int) -> int:
    """The tile interior's side: ``tile`` rounded down to ``align``."""
    return max(align, tile // align * align)


def _cuts(size: int, tile: int, align: int, shift: int = 0) -> list[tuple[int, int]]:
    """``[(t0, t1), ...]`` covering ``[0, size)``, inner edges on multiples
    of ``align``, each at most ``tile`` (rounded down to ``align``) long;
    the inner edges sit at ``shift + k * step`` (``shift`` a multiple of
    ``align``; a first, thinner tile then ends at ``shift``)."""
    step = step_of(tile, align)
    first = shift % step
    edges = [0, *range(first or step, size, step), size]
    return list(zip(edges[:-1], edges[1:]))


def _share(t0: int, t1: int, size: int, stride: int, n: int) -> tuple[int, int]:
    """Blob positions whose anchor ``i*stride`` lies in ``[t0, t1)``; the last
    tile also takes the positions anchored past the picture (ceil mode)."""
    i0 = -(-t0 // stride)
    i1 = n if t1 >= size else min(n, -(-t1 // stride))
    return i0, i1


def plan(
    graph,
    hw: tuple[int, int],
    layers: Iterable[str],
    tile,
    halo: int | None = None,
    shift: tuple[int, int] = (0, 0),
) -> list[Tile]:
    """Tiles for an ``hw`` picture and the objective's ``layers`` (resolved
    names): interiors at most ``tile`` pixels (an int or an (H, W) pair,
    rounded down to the alignment) on a side, crops with the exact halo, or
    with at most ``halo`` pixels beyond the interior (approximate: share
    positions near the crop's edge then see zero padding instead of their
    neighbours; crops still reach far enough for every share position to
    exist). ``shift`` (H, W), multiples of the alignment, moves the inner
    tile edges (:func:`_cuts`)."""
    layers = list(dict.fromkeys(layers))
    fields = receptive_fields(graph, layers)
    align = alignment(fields, layers)
    shapes = graph.shapes((1, 3, int(hw[0]), int(hw[1])))
    tile_hw = (tile, tile) if isinstance(tile, int) else tuple(tile)
    cuts = [_cuts(int(hw[a]), int(tile_hw[a]), align[a], shift[a]) for a in (0, 1)]
    tiles = []
    for ty in cuts[0]:
        for tx in cuts[1]:
            interior = (ty, tx)
            shares, spans = {}, []
            for name in layers:
                share = []
                for a, (t0, t1) in enumerate(interior):
                    f = fields[name][a]
                    n = shapes[name][2 + a]
                    share.append(_share(t0, t1, int(hw[a]), f.stride, n))
                shares[name] = tuple(share)
                spans.append([fields[name][a].span(*share[a]) for a in (0, 1)])
            crop = []
            for a in (0, 1):
                live = [
                    s[a] for s, sh in zip(spans, shares.values()) if sh[a][1] > sh[a][0]
                ]
                if not live:  # no blob position anchored here: nothing to run
                    crop.append(interior[a])
                    continue
                lo = max(0, min(s[0] for s in live)) // align[a] * align[a]
                hi = min(int(hw[a]), max(s[1] for s in live))
                crop.append((lo, hi))
            if halo is not None:
                crop = _narrow(graph, fields, crop, interior, shares, halo, align)
            origins = {
                name: tuple(crop[a][0] // fields[name][a].stride for a in (0, 1))
                for name in layers
            }
            tiles.append(Tile(interior, (crop[0], crop[1]), shares, origins))
    return tiles


def _narrow(graph, fields, crop, interior, shares, halo, align):
    """``crop`` cut to ``halo`` pixels around ``interior``, then widened on
    its far side (by the alignment, up to the exact crop; on its near side
    once the far side is there, e.g. a thin last tile) until the crop's
    blobs hold every share position."""
    exact = list(crop)
    crop = [
        (max(lo, max(0, t0 - halo) // align[a] * align[a]), min(hi, t1 + halo))
        for a, ((lo, hi), (t0, t1)) in enumerate(zip(exact, interior))
    ]
    while True:
        shapes = graph.shapes((1, 3, *(c1 - c0 for c0, c1 in crop)))
        short = {
            a
            for name, share in shares.items()
            for a in (0, 1)
            if share[a][1] - crop[a][0] // fields[name][a].stride
            > shapes.get(name, (0, 0, 0, 0))[2 + a]
            and crop[a] != exact[a]
        }
        if not short:
            return crop
        for a in short:
            (lo, hi), (lo_x, hi_x) = crop[a], exact[a]
            if hi < hi_x:
                crop[a] = (lo, min(hi_x, hi + align[a]))
            else:  # a blob too thin to exist: more context before it
                crop[a] = (max(lo_x, lo - align[a]), hi)


# -- the tiled gradient ------------------------------------------------------


def _local(tile: Tile, name: str) -> tuple:
    """Index of ``tile``'s share in the tile's own blob ``name``."""
    (i0, i1), (j0, j1) = tile.shares[name]
    oi, oj = tile.origins[name]
    return (..., slice(i0 - oi, i1 - oi), slice(j0 - oj, j1 - oj))


def _global(tile: Tile, name: str) -> tuple:
    """Index of ``tile``'s share in the untiled blob ``name``."""
    (i0, i1), (j0, j1) = tile.shares[name]
    return (..., slice(i0, i1), slice(j0, j1))


def _check_share(tile: Tile, name: str, blob) -> None:
    (_, i1), (_, j1) = tile.shares[name]
    oi, oj = tile.origins[name]
    if i1 - oi > blob.shape[-2] or j1 - oj > blob.shape[-1]:
        raise AssertionError(  # a geometry bug, never bad input
            f"tile {tile.crop}: blob {name!r} is {blob.shape[-2:]} but its share "
            f"needs {(i1 - oi, j1 - oj)}"
        )


def tiled_gradient(net, x, objective, tiles: list[Tile], on_tile=None):
    """``(value, dvalue/dx)`` of ``objective`` at ``x`` (N, 3, H, W), one tile
    at a time; equal to the untiled forward/objective/backward.

    An objective with ``pointwise = True`` (its value a sum over blob
    positions, each position's gradient depending on that position alone:
    deepdream, guide and sums of them) is evaluated on each tile's share and
    the values summed: one forward and one backward per tile. Any other
    objective (a mean, a centre neuron, balanced layers) first sees the whole
    blobs: a forward-only pass over the tiles assembles them, the objective
    runs once, and a second pass back-propagates each tile's slice of its
    gradient. ``on_tile(i, n)`` is called after each tile's backward.
    """
    xp = net.xp
    names = {raw: net.resolve(raw) for raw in objective.layers}
    work = [t for t in tiles if not t.empty]
    pointwise = bool(getattr(objective, "pointwise", False))
    g = xp.zeros_like(x)
    value: Any = xp.zeros((), dtype=x.dtype)
    seeds: dict = {}
    if not pointwise:
        shapes = net.shapes(tuple(x.shape[-2:]))
        full = {  # a batch of N pictures: N of each blob
            raw: xp.zeros((x.shape[0], *shapes[n][1:]), dtype=x.dtype)
            for raw, n in names.items()
        }
        for tile in work:
            blobs = net.forward(_crop(x, tile), end=list(names), keep=False)
            for raw, n in names.items():
                _check_share(tile, n, blobs[raw])
                full[raw][_global(tile, n)] = blobs[raw][_local(tile, n)]
            del blobs
        value, seeds = objective(full)
        del full
    for k, tile in enumerate(work):
        if not pointwise:
            part = {raw: seeds[raw][_global(tile, names[raw])] for raw in seeds}
            if not any(bool(s.any()) for s in part.values()):  # e.g. a neuron
                _report(on_tile, k, len(work))
                continue
        blobs = net.forward(_crop(x, tile), end=list(names))
        if pointwise:
            share = {}
            for raw, n in names.items():
                _check_share(tile, n, blobs[raw])
                share[raw] = blobs[raw][_local(tile, n)]
            v, part = objective(share)
            value = value + v
        tile_seeds = {}
        for raw, s in part.items():
            seed = xp.zeros_like(blobs[raw])
            seed[_local(tile, names[raw])] = s
            tile_seeds[raw] = seed
        del blobs
        (y0, y1), (x0, x1) = tile.crop
        g[..., y0:y1, x0:x1] += net.backward(tile_seeds)
        _report(on_tile, k, len(work))
    return value, g


def _report(on_tile, k: int, n: int) -> None:
    if on_tile is not None:
        on_tile(k, n)


def _crop(x, tile: Tile):
    (y0, y1), (x0, x1) = tile.crop
    return net_xp(x).ascontiguousarray(x[..., y0:y1, x0:x1])
