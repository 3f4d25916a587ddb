"""Sweeps (issue 12): one picture dreamed over a grid of parameters, the
way people choose a layer, into the individual images (each with its recipe)
and a contact sheet.

``grid({"layer": [...], "seed": [...]})`` gives one :class:`DreamConfig` per
combination (the product, first key slowest) with a label naming its
values; :func:`run_sweep` dreams each as a batch task
(:func:`inceptionism.engine.batch.dream_task`: the net loaded once, outputs
atomic, existing ones skipped), in this process or on Dask;
:func:`contact_sheet` lays the results out in a grid, one row per value of
the first key, labelled (it lives in :mod:`inceptionism.engine.sheet`,
shared with the atlas).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from inceptionism.engine.batch import Outcome, Spec, run_here
from inceptionism.engine.dream import DreamConfig
from inceptionism.engine.sheet import contact_sheet

__all__ = ["KEYS", "contact_sheet", "file_name", "grid", "parse", "run_sweep"]

#: Sweepable keys: the DreamConfig field each sets and how a value is read.
KEYS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "layer": ("objective", lambda v: f"deepdream:{v}"),
    "objective": ("objective", str),
    "seed": ("seed", int),
    "steps": ("steps", int),
    "octaves": ("octaves", int),
    "octave-scale": ("octave_scale", float),
    "step-size": ("step_size", float),
    "jitter": ("jitter", int),
}


def parse(text: str) -> tuple[str, list[str]]:
    """``"layer=a,b"`` -> ``("layer", ["a", "b"])`` (``ValueError`` naming
    the known keys)."""
    key, sep, values = text.partition("=")
    if not sep or key not in KEYS or not values.strip(","):
        raise ValueError(f"--sweep {text}: write KEY=V1,V2,... with KEY one of "
                         f"{', '.join(KEYS)}")  # fmt: skip
    return key, [v for v in values.split(",") if v]


def grid(
    base: DreamConfig, axes: Mapping[str, Sequence[str]]
) -> list[tuple[str, DreamConfig]]:
    """``(label, config)`` for every combination of ``axes``' values."""
    keys = list(axes)
    out = []
    for values in itertools.product(*(axes[k] for k in keys)):
        changes = {}
        for key, value in zip(keys, values):
            name, read = KEYS[key]
            try:
                changes[name] = read(value)
            except ValueError:
                raise ValueError(f"--sweep {key}: {value!r} is not valid") from None
        label = " ".join(f"{k}={v}" for k, v in zip(keys, values))
        out.append((label, dataclasses.replace(base, **changes)))
    return out


def file_name(stem: str, label: str) -> str:
    """``photo``, ``layer=conv2/3x3 seed=1``: ``photo-layer-conv2_3x3-seed-1.png``"""
    safe = label.replace("/", "_").replace(":", "_").replace("=", "-")
    return f"{stem}-{safe.replace(' ', '-')}.png"


def run_sweep(
    inp: Path,
    folder: Path,
    spec: Spec,
    cells: list[tuple[str, DreamConfig]],
    on_done: Callable[[Outcome, int, int], None] | None = None,
    *,
    scheduler: str | None = None,
    client: Any = None,
    on_connect: Callable[[Any], None] | None = None,
) -> list[Outcome]:
    """Dream ``inp`` with each cell's config into ``folder``: here, one cell
    after another, or with ``scheduler``/``client`` one Dask task per cell
    (:func:`inceptionism.engine.batch_dask.run_on_dask`, the batch's runner;
    workers must see ``inp`` and ``folder`` at the same paths). Outcomes in
    cell order."""
    tasks = [
        (inp, folder / file_name(inp.stem, label),
         dataclasses.replace(spec, config=config))
        for label, config in cells
    ]  # fmt: skip
    if scheduler is None and client is None:
        return run_here(tasks, spec, on_done)
    from inceptionism.engine.batch_dask import run_on_dask

    return run_on_dask(tasks, spec, scheduler=scheduler, client=client,
                       on_done=on_done, on_connect=on_connect)  # fmt: skip
