"""Channel renders the cache lacks, dreamed here or as batch tasks on Dask
(issue 15), for :mod:`~inceptionism.engine.atlas_channels` and
:mod:`~inceptionism.engine.atlas_diverse`.

A :class:`Pending` render is one channel's start picture (or the N starts
of a diverse render), its config, tile size and cache file.
:func:`render_all` dreams them one after another in this process (the
observers see every step), or, given a scheduler or a client, as batch
tasks: :func:`inceptionism.engine.batch.dream_task` with the start array
and no output, through the batch's runner
(:func:`inceptionism.engine.batch_dask.run_on_dask`: the net loaded once
per worker, retries when a worker dies, Ctrl-C cancels the rest). Workers
return the pixels; this process writes each cache file (atomically, with
its recipe) as its task finishes, so workers on other machines need the
weights but not the cache, a stopped sheet keeps every finished channel,
and a failed task leaves its channel out with the reason. A task makes the
dream loop's call the local render makes (same start, config and tile
size), so a channel is the same picture here and on a worker with the same
BLAS thread count (:func:`~inceptionism.engine.batch_dask.blas_env`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.engine import atlas_channels as ac
from inceptionism.engine.dream import DreamConfig


@dataclass(frozen=True)
class Pending:
    """One render to dream: ``index`` is its place among the channels
    asked; ``start`` (S, S, 3), or (N, S, S, 3) for N pictures dreamed
    together (saved side by side in one file)."""

    index: int
    channel: int
    start: np.ndarray
    config: DreamConfig
    path: Path
    recipe: dict
    tile: int | None = None


def read(path: Path, size: int, n: int = 1) -> list[np.ndarray] | None:
    """The ``n`` cached ``size``-pixel pictures in ``path`` (side by side),
    or None when it is missing, damaged or of another shape."""
    from inceptionism.engine.image import load_image

    if not path.is_file():
        return None
    try:
        strip = np.asarray(load_image(path))
    except ValueError:
        return None  # damaged: render it again
    if strip.shape != (size, n * size, 3):
        return None
    return np.split(strip, n, axis=1)


def save(p: Pending, rgb: np.ndarray) -> list[np.ndarray]:
    """Write a render to its cache file with its recipe (atomically) and
    return its pictures as the PNG has them."""
    from inceptionism.engine.image import save_image

    rgbs = list(rgb) if rgb.ndim == 4 else [rgb]
    p.path.parent.mkdir(parents=True, exist_ok=True)
    save_image(p.path, np.concatenate(rgbs, axis=1), recipe=p.recipe)
    return [np.clip(np.rint(im), 0, 255) for im in rgbs]


@dataclass
class Where:
    """Where the renders run: here (no ``scheduler`` nor ``client``), or on
    Dask with ``spec`` (a :class:`~inceptionism.engine.batch.Spec` naming
    the net: weights, model, mean, device; the config and tiling are each
    task's). ``on_done(outcome, finished, total)`` and ``on_connect(client)``
    are the batch runner's callbacks."""

    spec: Any = None
    scheduler: str | None = None
    client: Any = None
    on_done: Callable[[Any, int, int], None] | None = None
    on_connect: Callable[[Any], None] | None = None

    @property
    def remote(self) -> bool:
        return self.scheduler is not None or self.client is not None


HERE = Where()


def render_all(
    net: Any,
    pending: Sequence[Pending],
    where: Where = HERE,
    *,
    pm: Any = None,
    observers: Iterable[Any] = (),
) -> tuple[dict[int, list[np.ndarray]], list[tuple[int, str]]]:
    """Dream and cache every pending render: ``({index: pictures},
    [(channel, why it failed)])``. Here a failure raises; on Dask it is
    reported and the other channels go on, as in a batch."""
    if not where.remote:
        from inceptionism.engine.dream import run  # looked up per call (tests)

        got = {}
        for p in pending:
            rgb = run(net, p.start, p.config, pm=pm, observers=observers, tiling=p.tile)
            got[p.index] = save(p, rgb)
        return got, []
    if not pending:  # every channel cached: no cluster to start
        return {}, []
    return _on_dask(pending, where)


def _on_dask(
    pending: Sequence[Pending], where: Where
) -> tuple[dict[int, list[np.ndarray]], list[tuple[int, str]]]:
    from inceptionism.engine.batch_dask import run_on_dask
    from inceptionism.engine.tiling_budget import Tiling

    if where.spec is None:
        raise ValueError("rendering on Dask needs the net's batch.Spec (spec=)")
    tasks = [
        (p.start, None, dataclasses.replace(
            where.spec, config=p.config,
            tiling=None if p.tile is None else Tiling(tile=p.tile),
        ))
        for p in pending
    ]  # fmt: skip
    got: dict[int, list[np.ndarray]] = {}
    failed: list[tuple[int, str]] = []

    def done(outcome: Any, n: int, total: int) -> None:
        p = pending[outcome.task]
        outcome.input = f"channel {p.channel}"
        if outcome.status == "done":
            got[p.index] = save(p, np.asarray(outcome.image))
            outcome.output, outcome.image = p.path, None
        else:
            failed.append((p.channel, outcome.reason))
        if where.on_done is not None:
            where.on_done(outcome, n, total)

    run_on_dask(
        tasks,
        where.spec,
        scheduler=where.scheduler,
        client=where.client,
        on_done=done,
        on_connect=where.on_connect,
    )
    return got, failed


def pictures(
    got: dict[int, list[np.ndarray]], count: int, n: int = 1
) -> list[np.ndarray | None]:
    """The pictures of ``count`` channels in order, ``n`` each; None (a grey
    cell on the sheet) for each picture of a channel that failed."""
    out: list[np.ndarray | None] = []
    for i in range(count):
        pics = got.get(i)
        out += [None] * n if pics is None else pics
    return out


def through_cache(
    net: Any,
    weights_sha1: str,
    layer: str,
    channels: Sequence[int],
    base: DreamConfig,
    size: int,
    start: np.ndarray,
    *,
    root: Path | None,
    make_config: ac.ConfigMaker = ac.channel_config,
    extra: dict[str, Any] | None = None,
    tile: Callable[[DreamConfig], int | None] | None = None,
    where: Any = None,
    pm: Any = None,
    observers: Iterable[Any] = (),
) -> ac.Rendered:
    """The renders of :func:`~inceptionism.engine.atlas_channels.render` and
    its variants (``make_config``, ``extra``: as its ``_path``; ``start``
    (S, S, 3), or (N, S, S, 3) for N pictures per channel): each channel
    read from the cache, or dreamed (here or on Dask, ``where``) and cached;
    ``tile(config)``: its tile size. ``layer``: a resolved name."""
    n = 1 if start.ndim == 3 else start.shape[0]
    got: dict[int, list[np.ndarray]] = {}
    pending = []
    for i, k in enumerate(channels):
        path = ac._path(
            net, weights_sha1, layer, k, base, size, root, make_config, extra
        )
        cached = read(path, size, n)
        if cached is not None:
            got[i] = cached
            continue
        config = make_config(base, layer, k)
        meta = ac.render_recipe(net, weights_sha1, layer, k, config, size, extra)
        t = None if tile is None else tile(config)
        pending.append(Pending(i, k, start, config, path, meta, t))
    done, failed = render_all(net, pending, where or HERE, pm=pm, observers=observers)
    out = ac.Rendered([], len(done), len(got), failed)
    out.images = pictures({**got, **done}, len(channels), n)
    return out
