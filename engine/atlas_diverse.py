"""Diverse channel sheets (issue 15): N different visualisations of each
channel, dreamed together, as lucid does with ``objectives.diversity``.

Channel K of LAYER is one batched dream of N seeded noise pictures with the
objective ``channel:LAYER:K+W*diversity:LAYER`` (``diversity`` is minus
lucid's Gram cross-similarity, so ``+W*`` here is lucid's
``- W * diversity``). The N starts are dream.ipynb's noise drawn together,
``default_rng(seed).uniform(size=(N, S, S, 3)) + 100``, so the first is the
single render's start. The N pictures are cached as one PNG strip
(S x N*S) per (model, weights SHA-1, layer, channel, config, size, mean,
N, W) in the channel cache (:mod:`inceptionism.engine.atlas_channels`); the
sheet has one row per channel with N cells.

``W = 0`` is the same batch without the diversity term (the comparison the
tests make). :data:`DEFAULT_WEIGHT` is lucid's ``1e2`` (its ``channel`` and
``diversity`` are the same quantities as ours, both means/normalised), so
settings carry over from lucid. Measured on the synthetic GoogLeNet
(``benchmarks/diversity_weight.py``, 64 px, 2 octaves x 10 steps, N = 3):
at W = 100 the channel keeps 96-99 % of its activation and the Gram
similarity of the pictures drops from 0.999 to 0.86-0.98; W = 300 drops it
to 0.56-0.94 at about half the activation
(``benchmarks/results/diversity-weight.txt``). Diversity must break the
symmetry of near-identical starts, so it grows with the number of steps.

A diverse render is N pictures dreamed together, not one dream, so
``dream --replay`` refuses its recipe and says to run the atlas again
(which reads the cache or re-dreams it exactly, seeded).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.engine import atlas_channels as ac
from inceptionism.engine.dream import DreamConfig

#: lucid's ``channel - 1e2 * diversity`` (see the module docstring).
DEFAULT_WEIGHT = 100.0


def check(n: int, weight: float) -> None:
    """ValueError (one sentence, the way out) for a bad N or W."""
    if int(n) != n or n < 2:
        raise ValueError(
            f"--diverse {n}: diversity compares the pictures of a channel; "
            "give 2 or more"
        )
    if not np.isfinite(weight) or weight < 0:
        raise ValueError(
            f"--diversity-weight {weight:g}: give a number >= 0 "
            f"(0: no diversity term; default {DEFAULT_WEIGHT:g})"
        )


def diverse_config(
    base: DreamConfig, layer: str, channel: int, weight: float
) -> DreamConfig:
    objective = f"channel:{layer}:{channel}"
    if weight:
        objective += f"+{weight:.17g}*diversity:{layer}"
    return dataclasses.replace(base, objective=objective)


def noises(size: int, seed: int | None, n: int) -> np.ndarray:
    """The N starts, (N, S, S, 3) float32 (see the module docstring)."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(size=(n, size, size, 3)) + 100.0).astype(np.float32)


def cache_variant(n: int, weight: float) -> tuple[ac.ConfigMaker, dict[str, Any]]:
    """The ``make_config`` and ``extra`` of N pictures at weight W for
    :mod:`~inceptionism.engine.atlas_channels`' cache paths (N and W are in
    the key)."""
    extra = {"diverse": int(n), "diversity_weight": float(weight)}
    return functools.partial(diverse_config, weight=weight), extra


def cached_count(
    net: Any,
    weights_sha1: str,
    layer: str,
    channels: Sequence[int],
    base: DreamConfig,
    size: int,
    n: int,
    weight: float,
    root: Path | None = None,
) -> int:
    """How many of the channels :func:`render` would read from the cache."""
    make, extra = cache_variant(n, weight)
    return ac.cached_count(
        net, weights_sha1, layer, channels, base, size, root, make, extra
    )


def render(
    net: Any,
    weights_sha1: str,
    layer: str,
    channels: Sequence[int],
    base: DreamConfig,
    size: int,
    n: int,
    weight: float = DEFAULT_WEIGHT,
    *,
    observers: Iterable[Any] = (),
    root: Path | None = None,
    where: Any = None,
) -> ac.Rendered:
    """N pictures of each channel (``images``: N consecutive per channel,
    channel by channel) through the cache; one batched dream per channel,
    here or as a Dask task (``where``: see
    :func:`~inceptionism.engine.atlas_channels.render`)."""
    check(n, weight)
    make, extra = cache_variant(n, weight)
    from inceptionism.engine.atlas_tasks import through_cache

    return through_cache(
        net, weights_sha1, net.resolve(layer), channels, base, size,
        noises(size, base.seed, n), root=root, make_config=make, extra=extra,
        where=where, observers=observers,
    )  # fmt: skip
