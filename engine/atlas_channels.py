"""Channel sheets (issue 15): every channel of one layer (or a range, or the
ones a photo excites most) rendered from noise, for browsing a layer.

Each channel is the dream loop run on seeded noise with the objective
``channel:LAYER:K`` (every other option is the base config's); the start
is dream.ipynb's ``np.random.uniform(size=(S, S, 3)) + 100`` drawn from
``numpy.random.default_rng(seed)``, so a channel looks the same every time
and on its own as within a sheet. Renders are cached as PNG files in
``<cache dir>/channels/`` (:func:`inceptionism.weights.files.cache_dir`)
under the SHA-1 of everything that changes their pixels (:func:`cache_key`:
model name, weights SHA-1, layer, channel, config, size, mean), so a second
sheet of the same layer dreams nothing. The device and the tiling are not
in the key: they change the last bits only (tiles take the exact halo).
The channels the cache lacks are dreamed here, or as batch tasks on Dask
(``scheduler=``; :mod:`inceptionism.engine.atlas_tasks`), the same pictures.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.engine.dream import DreamConfig

#: Bump when the rendering changes so old cache entries are not reused.
CACHE_VERSION = 1


def parse_range(text: str, channels: int) -> range:
    """``"a:b"`` (Python slice bounds, either may be empty) -> the channels;
    ``ValueError`` naming the layer's channel count when it selects none or
    a bound lies past the layer's channels (a slice would quietly clip it)."""
    lo, sep, hi = text.partition(":")
    try:
        if not sep:
            raise ValueError
        bounds = [int(b) if b else None for b in (lo, hi)]
    except ValueError:
        raise ValueError(
            f"--range {text}: write A:B (channels A to B-1), e.g. --range 0:16"
        ) from None
    if any(b is not None and not -channels <= b <= channels for b in bounds):
        raise ValueError(
            f"--range {text} goes past the {channels} channels of the layer; "
            f"give bounds from 0 to {channels}, e.g. --range 0:{min(16, channels)}"
        )
    r = range(channels)[slice(*bounds)]
    if not r:
        raise ValueError(f"--range {text} selects no channel of the {channels}")
    return r


def channel_means(net: Any, rgb: np.ndarray, layer: str) -> np.ndarray:
    """Mean activation of each channel of ``layer`` over the picture
    (float64 (C,)), host side."""
    from inceptionism.kernels.backend import to_numpy

    blobs = net.forward(net.preprocess(rgb), end=layer, keep=False)
    a = to_numpy(blobs[layer]).astype(np.float64)
    return a.reshape(a.shape[0], a.shape[1], -1).mean(axis=(0, 2))


def top_channels(means: np.ndarray, k: int) -> list[int]:
    """The ``k`` channels with the largest ``means`` (of
    :func:`channel_means`), largest first (ties: lower channel first)."""
    return [int(c) for c in np.argsort(-means, kind="stable")[:k]]


def noise(size: int, seed: int | None) -> np.ndarray:
    """The start picture: dream.ipynb's ``uniform(size=(S, S, 3)) + 100``."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(size=(size, size, 3)) + 100.0).astype(np.float32)


def channel_config(base: DreamConfig, layer: str, channel: int) -> DreamConfig:
    return dataclasses.replace(base, objective=f"channel:{layer}:{channel}")


def cache_key(
    model: str,
    weights_sha1: str,
    layer: str,
    channel: int,
    config: DreamConfig,
    size: int,
    mean: Sequence[float],
    extra: dict[str, Any] | None = None,
) -> str:
    """SHA-1 naming one render in the cache (see the module docstring);
    ``extra``: more settings in the key (diverse renders' N and W)."""
    from inceptionism.weights.files import sha1_bytes

    what = {
        "v": CACHE_VERSION,
        "model": model,
        "weights": weights_sha1,
        "layer": layer,
        "channel": int(channel),
        "config": config.to_dict(),
        "size": int(size),
        "mean": [float(m) for m in mean],
        **(extra or {}),
    }
    files = _file_sha1s(config)
    if files:  # left out without files: the keys renders had before
        what["files"] = files
    return sha1_bytes(json.dumps(what, sort_keys=True).encode())


def _file_sha1s(config: DreamConfig) -> dict[str, str]:
    """SHA-1 of each file the render reads besides the weights (its
    ``--mask``, ``TERM@MASK`` masks, direction vectors): a file redrawn
    under the same path makes another render."""
    from inceptionism.engine.recipe import data_paths
    from inceptionism.weights.files import sha1_file

    if "@" in config.objective or ".npy" in config.objective.lower():
        paths = data_paths(config)
    else:  # channel renders: no spec to parse for each key
        paths = [Path(config.mask)] if config.mask else []
    return {str(p): sha1_file(p) for p in paths if p.is_file()}


def cache_path(key: str, root: Path | None = None) -> Path:
    from inceptionism.weights.files import cache_dir

    return (root or cache_dir()) / "channels" / f"{key}.png"


def _mean(net: Any) -> list[float]:
    return [float(m) for m in net.model.preprocess.get("mean", (0, 0, 0))]


#: ``(base, layer, channel) -> config`` of one render: :func:`channel_config`,
#: or a variant's (:func:`inceptionism.engine.atlas_diverse.diverse_config`).
ConfigMaker = Callable[[DreamConfig, str, int], DreamConfig]


def _path(
    net: Any,
    sha1: str,
    layer: str,
    k: int,
    base: DreamConfig,
    size: int,
    root: Path | None,
    make_config: ConfigMaker = channel_config,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Where channel ``k``'s render is cached; ``make_config`` and ``extra``
    (more settings in the key) serve variants such as diverse renders."""
    config = make_config(base, layer, k)
    key = cache_key(net.model.name, sha1, layer, k, config, size, _mean(net), extra)
    return cache_path(key, root)


def cached_count(
    net: Any,
    weights_sha1: str,
    layer: str,
    channels: Sequence[int],
    base: DreamConfig,
    size: int,
    root: Path | None = None,
    make_config: ConfigMaker = channel_config,
    extra: dict[str, Any] | None = None,
) -> int:
    """How many of the channels :func:`render` would read from the cache
    (``make_config``, ``extra``: as :func:`_path`)."""
    layer = net.resolve(layer)
    return sum(
        _path(
            net, weights_sha1, layer, k, base, size, root, make_config, extra
        ).is_file()
        for k in channels
    )


@dataclasses.dataclass
class Rendered:
    """The channels' pictures (in the order asked; None where a task on
    Dask failed) and how many were dreamed now (``rendered``) or read from
    the cache (``cached``); ``failed``: ``(channel, reason)`` of those."""

    images: list[np.ndarray | None]
    rendered: int = 0
    cached: int = 0
    failed: list[tuple[int, str]] = dataclasses.field(default_factory=list)


def render_recipe(
    net: Any,
    weights_sha1: str,
    layer: str,
    k: int,
    config: DreamConfig,
    size: int,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a cached render embeds: what its key holds (``extra``: a
    variant's settings, as in :func:`_path`)."""
    from inceptionism.engine.recipe import version

    return {
        "inceptionism": version(),
        "channel": {
            "model": net.model.name,
            "weights_sha1": weights_sha1,
            "layer": layer,
            "channel": int(k),
            "config": config.to_dict(),
            "size": size,
            "mean": _mean(net),
            **(extra or {}),
            **({"files": files} if (files := _file_sha1s(config)) else {}),
        },
    }


def render(
    net: Any,
    weights_sha1: str,
    layer: str,
    channels: Sequence[int],
    base: DreamConfig,
    size: int,
    *,
    tiling: Any = None,
    pm: Any = None,
    observers: Iterable[Any] = (),
    root: Path | None = None,
    where: Any = None,
) -> Rendered:
    """Each channel from noise, through the cache (``root``: default the
    cache dir). ``tiling``: a :class:`~inceptionism.engine.tiling_budget.Tiling`
    or None. ``observers`` see every dream (one progress display for all).
    ``where``: an :class:`~inceptionism.engine.atlas_tasks.Where` to render
    the channels the cache lacks as Dask tasks (default: here)."""
    layer = net.resolve(layer)

    def tile(config: DreamConfig) -> int | None:
        return _tile(net, layer, config, size, tiling, pm)

    from inceptionism.engine.atlas_tasks import through_cache

    return through_cache(
        net, weights_sha1, layer, channels, base, size, noise(size, base.seed),
        root=root, tile=tile, where=where, pm=pm, observers=observers,
    )  # fmt: skip


def _tile(
    net: Any, layer: str, config: DreamConfig, size: int, tiling: Any, pm: Any
) -> int | None:
    """The tile size ``tiling`` gives a ``size`` x ``size`` channel dream."""
    if tiling is None:
        return None
    from inceptionism.engine.tiling_budget import choose_tile
    from inceptionism.plugins.spec import parse_objective

    pointwise = parse_objective(config.objective, pm).pointwise
    return choose_tile(net, (size, size), [layer], tiling, pointwise)


def write_sheet(
    out: Path,
    net: Any,
    weights: Path,
    weights_sha1: str,
    layer: str,
    channels: Sequence[int],
    base: DreamConfig,
    size: int,
    images: Sequence[np.ndarray | None],
    *,
    labels: Sequence[str] | None = None,
    columns: int = 8,
    cell: int | None = 256,
    protect: Iterable[Any] = (),
    diverse: tuple[int, float] | None = None,
) -> Path:
    """The labelled grid of ``images`` (``ch K`` unless ``labels``) with the
    layer and the dream's parameters as title and the settings as recipe.
    ``diverse``: (N, W) of diverse renders, N images per channel, one row
    each (:mod:`inceptionism.engine.atlas_diverse`)."""
    from inceptionism.engine.atlas import caption
    from inceptionism.engine.image import save_image
    from inceptionism.engine.recipe import version
    from inceptionism.engine.sheet import contact_sheet

    layer = net.resolve(layer)
    count = net.shapes((size, size))[layer][1]
    title = (
        f"{net.model.name} {layer} ({count} ch) from noise {size}x{size} px"
        f"\n{caption(base)}"
    )
    labels = labels or [f"ch {k}" for k in channels]
    more: dict[str, Any] = {}
    if diverse is not None:
        n, w = diverse
        title += f"\n{n} diverse per channel: channel + {w:g} * diversity"
        labels = [f"{x} #{i + 1}" for x in labels for i in range(n)]
        columns, more = n, {"diverse": int(n), "diversity_weight": float(w)}
    sheet = contact_sheet(
        images, labels, columns, title=title, cell=cell, fit_labels=True
    )
    recipe = {
        "inceptionism": version(),
        "atlas": {
            "kind": "channels",
            "model": net.model.name,
            "weights": str(Path(weights).resolve()),
            "weights_sha1": weights_sha1,
            "layer": layer,
            "channels": [int(k) for k in channels],
            "size": size,
            "config": base.to_dict(),
            "mean": _mean(net),
            **more,
        },
    }
    return save_image(out, sheet.astype(np.float32), recipe=recipe, protect=protect)


def failures(failed: Sequence[tuple[int, str]], total: int) -> str:
    """One sentence for the channels whose Dask tasks failed."""
    first, why = failed[0]
    return (
        f"{len(failed)} of {total} channels failed on Dask (channel {first}: "
        f"{why}); the others are cached, so the same command renders only those"
    )


def channel_sheet(
    out: str | Path,
    layer: str,
    *,
    weights: str | Path | None = None,
    model: str | None = None,
    channels: Sequence[int] | None = None,
    config: DreamConfig = DreamConfig(seed=0),  # noqa: B008 - frozen
    size: int = 128,
    cell: int | None = 256,
    diverse: int | None = None,
    diversity_weight: float | None = None,
    scheduler: str | None = None,
    client: Any = None,
    **spec: Any,
) -> Path:
    """Render ``channels`` (default: all) of ``layer`` from noise through
    the cache and write their sheet to ``out``; returns its path.
    ``cell``: largest side of each picture on the sheet (None: as rendered).
    ``diverse=N``: N different pictures per channel, dreamed together with
    ``channel + diversity_weight * diversity`` (default
    :data:`~inceptionism.engine.atlas_diverse.DEFAULT_WEIGHT`), one row each.
    ``spec``: :class:`~inceptionism.engine.batch.Spec` fields (``device``,
    ``mean``, ``tiling`` ...; diverse renders are untiled).
    ``scheduler`` / ``client``: render the channels the cache lacks as Dask
    tasks (as :func:`inceptionism.engine.atlas.run`; ``"local"``,
    ``"local:N"``, ``"tcp://HOST:PORT"``, or a ``distributed.Client``);
    ValueError naming the channels whose tasks failed (the others are
    cached, so the same call renders only those)."""
    from inceptionism.engine import atlas_diverse, batch
    from inceptionism.engine.atlas_tasks import Where

    w = atlas_diverse.DEFAULT_WEIGHT if diversity_weight is None else diversity_weight
    if diverse is not None:
        atlas_diverse.check(diverse, w)
    elif diversity_weight is not None:
        raise ValueError("diversity_weight weighs diverse renders; give diverse=N")

    s = batch.Spec(
        config=config,
        weights=None if weights is None else str(Path(weights).resolve()),
        model=model,
        **spec,
    )
    where = Where(s, scheduler, client)
    net, path, sha1 = batch.loaded_net(s)
    layer = net.resolve(layer)
    if channels is None:
        channels = range(net.shapes((size, size))[layer][1])
    channels = list(channels)
    if diverse is not None:
        got = atlas_diverse.render(
            net, sha1, layer, channels, config, size, diverse, w, where=where
        )
    else:
        got = render(
            net, sha1, layer, channels, config, size, tiling=s.tiling, where=where
        )
    if got.failed:
        raise ValueError(failures(got.failed, len(channels)))
    return write_sheet(
        Path(out), net, path, sha1, layer, channels, config, size, got.images,
        cell=cell, diverse=None if diverse is None else (diverse, w),
    )  # fmt: skip
