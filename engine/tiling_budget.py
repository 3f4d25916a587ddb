"""How to tile a dream: the :class:`Tiling` settings, and the tile size a
memory budget allows (issue 11; geometry: :mod:`inceptionism.engine.tiling`).

A tiled step holds the activations of one tile's crop (its interior plus
the halo on each side), estimated with
:func:`inceptionism.engine.preflight.dream_bytes`, plus what stays
full-size whatever the tiling: :data:`FULL_COPIES` copies of the image
(the input, the current octave's base, the step's image and its rolled
copy, the gradient, the update; each released as soon as it is done), the
weights, on a CPU the process itself (:data:`PROCESS_BYTES`; the budget is
the whole process's), and, for objectives that are not pointwise, the
objective's whole blobs and their gradient.

``tile="auto"`` leaves a picture untiled when its untiled step fits the
budget (small pictures keep today's behaviour and speed) and otherwise
takes the largest tile that fits. The tile chosen for the largest octave
serves every octave (octaves no larger than it run untiled), so a recorded
tile size replays the same plan.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from inceptionism.engine import preflight, tiling

#: Image-sized float32 arrays a dream holds at its peak besides the tile's
#: activations (see the module docstring): measured 5.4 with 4 octaves (4.7
#: with 1), the caller's picture included, with tracemalloc over two picture
#: sizes; the loop keeps only what it still needs (issue 11).
FULL_COPIES = 6
#: What a CPU process holds before dreaming (interpreter, NumPy, BLAS,
#: h5py): measured ru_maxrss of a loaded synthetic GoogLeNet, 111 MB, less
#: its weights (27 MB).
PROCESS_BYTES = 84 * 2**20
#: The default budget: this share of the memory available when the dream
#: starts (CPU: ``MemAvailable``; GPU: free device memory).
DEFAULT_SHARE = 0.5
#: Budget when the available memory is unknown.
FALLBACK_BUDGET = 4 * 2**30

_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


@dataclass(frozen=True)
class Tiling:
    """Tiling settings of a dream.

    tile : ``"auto"`` (tile only when the untiled step would exceed
        ``memory``, with the largest tile that fits), ``"off"``, or the tile
        interior's side in pixels (rounded down to the objective's stride).
    halo : ``"exact"``: the receptive field's reach, so the tiled dream equals
        the untiled one to float rounding; ``"auto"`` (half the reach) or a
        pixel count: cheaper, approximate near tile borders (measured in
        ``tests/engine/test_tiling.py``); the tiles then move every step
        (:class:`Shifting`) so the border errors do not add up to seams.
    memory : the budget in bytes; None for :data:`DEFAULT_SHARE` of what is
        available.
    """

    tile: int | Literal["auto", "off"] = "auto"
    halo: int | Literal["exact", "auto"] = "exact"
    memory: int | None = None

    def __post_init__(self):
        if isinstance(self.tile, bool) or not (
            self.tile in ("auto", "off")
            or (isinstance(self.tile, int) and self.tile > 0)
        ):
            raise ValueError(
                f"tile must be 'auto', 'off' or pixels > 0, not {self.tile!r}"
            )
        if isinstance(self.halo, bool) or not (
            self.halo in ("exact", "auto")
            or (isinstance(self.halo, int) and self.halo >= 0)
        ):
            raise ValueError(
                f"tile halo must be exact, auto or pixels >= 0, not {self.halo!r}"
            )
        if self.memory is not None and self.memory <= 0:
            raise ValueError(f"memory must be > 0 bytes, not {self.memory!r}")

    def halo_px(self, net, layers) -> int | None:
        """The halo in pixels for ``layers``; None for the exact one."""
        if self.halo == "exact":
            return None
        if self.halo == "auto":
            fields = tiling.receptive_fields(net.graph, layers)
            return max(tiling.halo(fields, layers)) // 2
        return int(self.halo)


def parse_memory(text: str) -> int:
    """``"2GB"``, ``"1.5G"``, ``"512MiB"``, ``"800000000"`` -> bytes (binary
    units: 1 GB = 2**30 bytes)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(?:I?B)?\s*", text, re.I)
    n = int(float(m.group(1)) * _UNITS[m.group(2).upper()]) if m else 0
    if n < 1:  # also a fraction of a byte ("0.5"), not "must be > 0 bytes, not 0"
        raise ValueError(
            f"memory must be a size such as 2GB, 512MB or 1.5G, not {text!r}"
        )
    return n


def parse_halo(text: str) -> int | Literal["exact", "auto"]:
    """``--tile-halo exact|auto|PX``."""
    if text in ("exact", "auto"):
        return text  # type: ignore[return-value]
    if text.isdigit():
        return int(text)
    raise ValueError(f"--tile-halo must be exact, auto or pixels, not {text!r}")


def parse_tile(text: str) -> int | Literal["auto", "off"]:
    """``--tile auto|off|PX``."""
    if text in ("auto", "off"):
        return text  # type: ignore[return-value]
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise ValueError(f"--tile must be auto, off or a size in pixels, not {text!r}")


def _size(n: float) -> str:
    """Bytes as --memory takes them, rounded up: ``1.25GB``, ``300MB``."""
    if n >= 2**30:
        return f"{math.ceil(n / 2**30 * 100) / 100:g}GB"
    if n >= 2**20:
        return f"{math.ceil(n / 2**20)}MB"
    return f"{max(1, math.ceil(n / 2**10))}KB"


def step_bytes(
    net,
    hw: tuple[int, int],
    layers: list[str],
    tile: int | None,
    pointwise: bool,
    n: int = 1,
) -> int:
    """Estimated peak bytes of one step on an ``hw`` picture with tile
    interiors of ``tile`` pixels (None: untiled, the preflight estimate);
    ``n`` pictures dreamed together (a batch) hold ``n`` of everything but
    the weights and the process."""
    full = n * FULL_COPIES * 3 * hw[0] * hw[1] * net.dtype.itemsize
    fixed = sum(a.nbytes for p in net.params.values() for a in p.values())
    fixed += PROCESS_BYTES if net.device == "cpu" else 0
    if tile is None:
        return n * preflight.dream_bytes(net, hw, layers) + full + fixed
    fields = tiling.receptive_fields(net.graph, layers)
    align = tiling.alignment(fields, layers)
    reach = tiling.halo(fields, layers)
    crop = (
        min(hw[0], tile + 2 * reach[0] + align[0]),
        min(hw[1], tile + 2 * reach[1] + align[1]),
    )
    need = n * preflight.dream_bytes(net, crop, layers) + full + fixed
    if not pointwise:  # the whole blobs, and their gradient
        shapes = net.shapes(hw)
        need += 2 * n * net.dtype.itemsize * sum(math.prod(shapes[b]) for b in layers)
    return need


def budget(net, config: Tiling) -> int:
    """The memory budget in bytes for ``config`` on ``net``'s device."""
    if config.memory is not None:
        return config.memory
    have = preflight.available_memory(net.device)
    return FALLBACK_BUDGET if have is None else int(DEFAULT_SHARE * have)


def choose_tile(
    net,
    hw: tuple[int, int],
    layers: Iterable[str],
    config: Tiling,
    pointwise: bool,
    n: int = 1,
) -> int | None:
    """The tile interior (pixels) for dreaming an ``hw`` picture (``n`` of
    them together) at ``layers`` (resolved names), or None for untiled.

    Raises ValueError for a tile smaller than the halo (each tile would
    compute mostly its neighbours' pixels) and for a budget too small for
    the smallest useful tile, naming the minimum.
    """
    layers = list(dict.fromkeys(layers))
    if config.tile == "off":
        return None
    if isinstance(config.tile, int) and config.tile >= max(hw):
        return None  # one tile: the untiled dream
    limit = need = 0
    if config.tile == "auto":  # tile only what does not fit
        limit = budget(net, config)
        need = step_bytes(net, hw, layers, None, pointwise, n)
        if need <= limit:
            return None
    try:
        fields = tiling.receptive_fields(net.graph, layers)
    except tiling.Untileable as exc:
        if config.tile != "auto":
            raise
        raise ValueError(
            f"dreaming this {hw[1]}x{hw[0]} picture at {', '.join(layers)} needs "
            f"about {_size(need)}, over the {_size(limit)} memory budget, and "
            f"{exc.what}, so it cannot be dreamed in tiles; give a smaller "
            "--max-size or a larger --memory"
        ) from None
    align = max(tiling.alignment(fields, layers))
    reach = max(tiling.halo(fields, layers))
    smallest = max(align, -(-reach // align) * align)
    if isinstance(config.tile, int):
        given = config.halo_px(net, layers)  # --tile-halo auto|PX: that halo
        halo = reach if given is None else min(reach, given)
        if config.tile < halo:
            least_tile = max(align, -(-halo // align) * align)
            which = "the halo of" if given is None else "the --tile-halo at"
            raise ValueError(
                f"a tile of {config.tile} px is smaller than {which} "
                f"{', '.join(layers)} ({halo} px each side): each tile would "
                f"compute mostly its neighbours' pixels; use --tile {least_tile} "
                "or more, or --tile auto"
            )
        return config.tile
    least = step_bytes(net, hw, layers, smallest, pointwise, n)
    if least > limit:
        raise ValueError(
            f"a memory budget of {_size(limit)} is too small to dream this "
            f"{hw[1]}x{hw[0]} picture at {', '.join(layers)}: the smallest useful "
            f"tile ({smallest} px) needs about {_size(least)}; give --memory "
            f"{_size(least)} or more, or a smaller --max-size"
        )
    lo, hi = smallest // align, -(-max(hw) // align)  # in units of align
    while lo < hi:  # the largest tile that fits
        mid = (lo + hi + 1) // 2
        if step_bytes(net, hw, layers, mid * align, pointwise, n) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo * align


class Shifting:
    """Tiles of one octave with an approximate halo, cut afresh each step.

    With a halo narrower than the receptive field's reach, positions near a
    tile's edge see zero padding instead of their neighbours, so the
    gradient errs along the tile borders. Were the borders fixed, every step
    would push the same error into the same lines of pixels and they would
    add up to visible seams; instead :meth:`draw` moves the inner tile edges
    by a random multiple of the alignment in ``[0, tile)`` on each axis,
    drawn from the dream's generator (after jitter's draw), so the errors
    land somewhere else each step and a replay draws the same offsets. It
    costs up to one more row and column of (thinner) tiles. ``len()`` is the
    tile count without offsets (the progress bar's nominal count).
    """

    def __init__(self, graph, hw, layers, tile: int, halo: int):
        self.graph, self.hw, self.layers = graph, hw, list(layers)
        self.tile, self.halo = tile, halo
        fields = tiling.receptive_fields(graph, self.layers)
        self.align = tiling.alignment(fields, self.layers)
        self.choices = tuple(tiling.step_of(tile, a) // a for a in self.align)
        self._plans: dict = {}
        self._n = len(self.tiles((0, 0)))

    def __len__(self) -> int:
        return self._n

    def tiles(self, shift: tuple[int, int]) -> list:
        """The non-empty tiles with inner edges moved by ``shift`` pixels."""
        if shift not in self._plans:
            if len(self._plans) >= 64:  # plans are cheap; keep a few
                self._plans.pop(next(iter(self._plans)))
            tiles = tiling.plan(
                self.graph, self.hw, self.layers, self.tile, self.halo, shift
            )
            self._plans[shift] = [t for t in tiles if not t.empty]
        return self._plans[shift]

    def draw(self, rng) -> list:
        """This step's tiles: one ``rng.integers`` draw for both offsets."""
        k = rng.integers(0, self.choices)
        return self.tiles((int(k[0]) * self.align[0], int(k[1]) * self.align[1]))


def tile_plans(net, octaves, layers, config, pointwise) -> list:
    """Each octave's tiles (of ``octaves``' N pictures together;
    :func:`inceptionism.engine.tiling.plan`, empty
    tiles left out; with an approximate halo a :class:`Shifting` plan that
    moves them each step), or None where it runs untiled (``config``: a
    :class:`Tiling` or a tile size): the tile size is chosen
    once, for the largest octave
    (:func:`~inceptionism.engine.tiling_budget.choose_tile`), and every
    octave larger than it is cut into tiles of that size."""
    config = config if isinstance(config, Tiling) else Tiling(tile=config)
    largest = max((tuple(b.shape[-2:]) for b in octaves), key=lambda hw: hw[0] * hw[1])
    n = int(octaves[0].shape[0])  # pictures dreamed together
    tile = choose_tile(net, largest, layers, config, pointwise, n)
    halo = None if tile is None else config.halo_px(net, layers)
    out: list[Shifting | list[tiling.Tile] | None] = []
    for base in octaves:
        hw = (int(base.shape[-2]), int(base.shape[-1]))
        if tile is None or max(hw) <= tile:
            out.append(None)
        elif halo is not None:
            out.append(Shifting(net.graph, hw, layers, tile, halo))
        else:
            tiles = tiling.plan(net.graph, hw, layers, tile)
            out.append([t for t in tiles if not t.empty])
    return out
