"""Layer atlases (issue 15): one picture dreamed at many layers, to choose a
layer by looking, optionally for several models side by side.

:func:`plan` makes one :class:`Cell` per (model, layer): the base
:class:`~inceptionism.engine.dream.DreamConfig` with a DeepDream objective
at that layer (every other option — octaves, steps, seed, priors, and what
later versions add — is the base's, so new dream options reach the atlas by
themselves). :func:`run` dreams the cells as batch tasks
(:func:`inceptionism.engine.batch.dream_task`, each cell with its own spec;
in this process or on Dask), each single image written with its recipe
into a folder; a rerun skips singles already there after checking that
their recipes are the cells' (:func:`check_existing`). :func:`sheet` lays
them out with :func:`inceptionism.engine.sheet.contact_sheet`: a row per
model, each picture labelled with its layer, channel count and whether it
is the convolution's pre-ReLU value, the dream's parameters as the title;
:func:`sheet_recipe` is what the sheet embeds.

:data:`DEFAULT_LAYERS`: a representative layer per GoogLeNet stage, conv2
to inception_5b; where the ReLU changes what is dreamed (the 1x1 reductions
and conv2, which the notebook's ``inception_3b/5x5_reduce`` made famous)
both the pre-ReLU convolution and its ``relu_`` blob are shown; an
inception module's ``output`` is a concat of ReLU outputs, so it has one.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from inceptionism.engine import batch, sweep
from inceptionism.engine.dream import DreamConfig

DEFAULT_LAYERS = (
    "conv2/3x3_reduce",
    "conv2/3x3",
    "conv2/relu_3x3",
    "inception_3a/output",
    "inception_3b/5x5_reduce",
    "inception_3b/relu_5x5_reduce",
    "inception_3b/output",
    "inception_4a/output",
    "inception_4b/output",
    "inception_4c/output",
    "inception_4d/output",
    "inception_4e/output",
    "inception_5a/output",
    "inception_5b/output",
)


@dataclass(frozen=True)
class Source:
    """One model of the atlas: a weight file, or a registry model's cached
    file. ``name`` labels its row and its singles' file names."""

    weights: str | None = None
    model: str | None = None
    name: str = ""

    def spec(self, base: batch.Spec) -> batch.Spec:
        return dataclasses.replace(base, weights=self.weights, model=self.model)


@dataclass(frozen=True)
class Cell:
    """One dream of the atlas: ``source`` (index) at ``layer``, into ``out``."""

    source: int
    layer: str
    config: DreamConfig
    out: Path


def name_sources(sources: Sequence[Source]) -> list[Source]:
    """Sources with distinct names: the model's, or the weight file's stem;
    ``-2``, ``-3`` appended to repeats."""
    named: list[Source] = []
    for s in sources:
        base = s.name or s.model or Path(str(s.weights)).stem
        name, n = base, 1
        while name in {x.name for x in named}:
            n += 1
            name = f"{base}-{n}"
        named.append(dataclasses.replace(s, name=name))
    return named


def all_layers(net: Any, hw: tuple[int, int]) -> list[str]:
    """Every blob with channels and a spatial size at this input size (the
    ``--all`` atlas), input excluded, in network order."""
    shapes = net.shapes(hw)
    return [n for n in net.blob_names[1:] if len(shapes.get(n, ())) == 4]


def flat_layer(
    net: Any, names: Sequence[str], hw: tuple[int, int]
) -> tuple[str, tuple] | None:
    """The first of ``names`` (resolved) without channel maps, with its
    shape: a classifier, flat at any size. From the topology's shapes, as
    :meth:`Net.shapes` leaves a classifier out at a size its weights do not
    take."""
    kinds = net.graph.shapes((1, 3, *hw))
    flat = [(x, kinds[x]) for x in names if x in kinds and len(kinds[x]) != 4]
    return flat[0] if flat else None


def describe(net: Any, layer: str, hw: tuple[int, int]) -> str:
    """``"192 ch, pre-ReLU"``: channels at this size, and whether the blob is
    a convolution's value before its in-place ReLU."""
    shape = net.shapes(hw).get(layer)
    text = f"{shape[1]} ch" if shape and len(shape) > 1 else "empty at this size"
    node = net.graph.nodes.get(layer)
    if node is not None and node.type == "Convolution":
        relu = [
            n
            for n in net.graph.nodes.values()
            if n.type == "ReLU" and n.inputs == (layer,)
        ]
        if relu:
            text += ", pre-ReLU"
    return text


def plan(
    inp: Path,
    folder: Path,
    sources: Sequence[Source],
    layers: Sequence[str],
    base: DreamConfig,
) -> list[Cell]:
    """The cells, model by model (rows), layer by layer (columns)."""
    cells = []
    for i, source in enumerate(sources):
        for label, config in sweep.grid(base, {"layer": list(layers)}):
            if len(sources) > 1:
                label = f"model={source.name} {label}"
            out = folder / sweep.file_name(inp.stem, label)
            layer = config.objective.split(":", 1)[1]
            cells.append(Cell(i, layer, config, out))
    return cells


def check_existing(
    cells: Sequence[Cell], inp_sha1: str, weights_sha1: Sequence[str], spec: Any
) -> list[Cell]:
    """The cells whose single image is already there, made by the same
    recipe (so a rerun resumes); ``ValueError`` for one made otherwise."""
    from inceptionism.engine.recipe import FileRef, Recipe, ReplayError, data_paths

    done = []
    for cell in cells:
        if not cell.out.exists():
            continue
        try:
            r = Recipe.read(cell.out)
            files = {FileRef.of(p) for p in data_paths(cell.config)}  # masks
            same = (
                r.config == cell.config
                and set(r.files) == files
                and r.input.sha1 == inp_sha1
                and r.model.weights_sha1 == weights_sha1[cell.source]
                and (r.max_size, r.mean, r.bits)
                == (spec.max_size, spec.mean, spec.bits)
            )
        except (ReplayError, OSError, ValueError):
            same = False
        if not same:
            raise ValueError(
                f"{cell.out} is there but was not made with these settings; "
                "--overwrite replaces it, or choose another -o"
            )
        done.append(cell)
    return done


def run(
    inp: Path,
    cells: Sequence[Cell],
    sources: Sequence[Source],
    spec: batch.Spec,
    *,
    scheduler: str | None = None,
    on_done: Callable[[batch.Outcome, int, int], None] | None = None,
    on_connect: Callable[[Any], None] | None = None,
    client: Any = None,
) -> list[batch.Outcome]:
    """Dream every cell (its own spec: its model and config) as batch tasks,
    here or on Dask (``scheduler``, or a connected ``client``)."""
    tasks = [
        (inp, c.out, dataclasses.replace(sources[c.source].spec(spec), config=c.config))
        for c in cells
    ]
    if scheduler is None and client is None:
        return batch.run_here(tasks, spec, on_done)
    from inceptionism.engine.batch_dask import run_on_dask

    return run_on_dask(tasks, spec, scheduler=scheduler, client=client,
                       on_done=on_done, on_connect=on_connect)  # fmt: skip


def caption(config: DreamConfig, extra: str = "") -> str:
    """The dream's parameters, one ``key=value`` per field but the
    objective (each cell's layer): every field, so new ones show too."""
    d = config.to_dict()
    d.pop("objective", None)
    parts = [
        f"{k}={','.join(v) if isinstance(v, list) else v}"
        for k, v in d.items()
        if v not in ([], None)
    ]
    return " ".join(parts) + (f"  {extra}" if extra else "")


def sheet(
    cells: Sequence[Cell],
    images: Sequence[np.ndarray | None],
    sources: Sequence[Source],
    nets: Sequence[Any],
    hw: tuple[int, int],
    title: str,
    *,
    cell: int | None = 256,
    columns: int | None = None,
    boxes: list[tuple[int, int, int, int]] | None = None,
) -> np.ndarray:
    """The contact sheet: one row per model (several models), or rows of
    ``columns`` (one model; default up to 5). ``boxes`` gets each cell's
    place on the sheet (see :func:`~inceptionism.engine.sheet.contact_sheet`)."""
    from inceptionism.engine.sheet import contact_sheet

    labels = [f"{c.layer}\n{describe(nets[c.source], c.layer, hw)}" for c in cells]
    per_model = len(cells) // len(sources)
    many = len(sources) > 1
    return contact_sheet(
        images,
        labels,
        per_model if many else min(columns or 5, per_model),
        title=title,
        row_labels=[s.name for s in sources] if many else None,
        cell=cell,
        fit_labels=True,
        boxes=boxes,
    )


def sheet_recipe(
    inp: Any,
    models: Sequence[Any],
    cells: Sequence[Cell],
    base: DreamConfig,
    spec: batch.Spec,
    folder: Path,
    boxes: Sequence[tuple[int, int, int, int]] = (),
) -> dict:
    """What the sheet embeds: the input, the models, the base config, the
    layers, where each cell's single image (with its full recipe) is and
    its ``box`` (x, y, width, height) on the sheet."""
    from inceptionism.engine.recipe import version

    return {
        "inceptionism": version(),
        "atlas": {
            "kind": "layers",
            "input": dataclasses.asdict(inp),
            "models": [dataclasses.asdict(m) for m in models],
            "config": base.to_dict(),
            "max_size": spec.max_size,
            "mean": spec.mean,
            "device": spec.device,
            "cells": [
                {
                    "model": c.source,
                    "layer": c.layer,
                    "file": str(c.out.relative_to(folder.parent)),
                    **({"box": list(box)} if box else {}),
                }
                for c, box in itertools.zip_longest(cells, boxes)
            ],
        },
    }


# -- the whole atlas (what the CLI and the Python API run) -----------------------


@dataclass
class Prepared:
    """An atlas checked and planned: its nets loaded (``loaded``: ``(net,
    weights path, SHA-1)`` per source), the picture's dreamed size ``hw``."""

    inp: Path
    out: Path
    sources: list[Source]
    loaded: list[tuple[Any, Path, str]]
    hw: tuple[int, int]
    layers: list[str]
    cells: list[Cell]


def prepare(
    inp: Path,
    out: Path,
    sources: Sequence[Source],
    spec: batch.Spec,
    layers: Sequence[str] | None = None,
    every: bool = False,
) -> Prepared:
    """Load the models, choose and check the layers (every model must have
    them, non-empty at the picture's size), plan the cells into the folder
    beside ``out`` (created) and check the singles already there. Errors
    are ``ValueError`` sentences, raised before any dream."""
    from inceptionism.engine.image import downsize, load_image
    from inceptionism.engine.recipe import FileRef

    if not inp.is_file():
        raise ValueError(f"{inp}: no such file")
    loaded = [batch.loaded_net(s.spec(spec)) for s in sources]
    nets = [n for n, _, _ in loaded]
    sources = name_sources(  # rows and file names: the models' names
        [dataclasses.replace(s, name=n.model.name) for s, n in zip(sources, nets)]
    )
    rgb = np.asarray(load_image(inp))
    if spec.max_size:
        rgb = downsize(rgb, spec.max_size)[0]
    hw = (int(rgb.shape[0]), int(rgb.shape[1]))
    names = list(DEFAULT_LAYERS if layers is None else layers)
    if every:
        names = all_layers(nets[0], hw)
    elif not names:
        raise ValueError(
            "--layers names no layer; give some, e.g. --layers "
            "conv2/3x3,inception_4c/output (`inceptionism layers` lists them)"
        )
    for net in nets:
        names = [net.resolve(x) for x in names]
        twice = sorted({x for x in names if names.count(x) > 1})
        if twice:
            raise ValueError(f"--layers gives {', '.join(twice)} twice; name each once")
        shapes = net.shapes(hw)
        flat = flat_layer(net, names, hw)
        if flat:
            raise ValueError(
                f"{flat[0]} is {flat[1]}: no channel maps to dream on; "
                "give convolution or inception layers (--layers)"
            )
        empty = [x for x in names if x not in shapes]
        if empty:
            raise ValueError(
                f"{', '.join(empty)} would be empty for a {hw[1]}x{hw[0]} picture; "
                "give a larger picture (or --max-size) or leave them out (--layers)"
            )
    folder = out.with_suffix("")
    if folder.exists() and not folder.is_dir():
        raise ValueError(
            f"{folder} is a file; the atlas puts its single images "
            "in a folder of that name: choose another -o"
        )
    cells = plan(inp, folder, sources, names, spec.config)
    folder.mkdir(exist_ok=True)
    if not spec.overwrite:
        check_existing(cells, FileRef.of(inp).sha1, [h for _, _, h in loaded], spec)
    return Prepared(inp, out, sources, loaded, hw, names, cells)


def finish(
    p: Prepared,
    outcomes: Sequence[batch.Outcome],
    spec: batch.Spec,
    *,
    cell: int | None = 256,
    columns: int | None = None,
) -> Path | None:
    """Write the sheet of the cells dreamed (grey where one failed) with
    its recipe; None if none was."""
    from inceptionism.engine.image import load_image, save_image
    from inceptionism.engine.recipe import FileRef, ModelRef

    images = [
        np.asarray(load_image(o.output))
        if o.output and o.output.is_file() and o.status != "failed"
        else None
        for o in outcomes
    ]
    if all(i is None for i in images):
        return None
    models = [
        ModelRef(n.model.name, n.model.source, str(w.resolve()), sha)
        for n, w, sha in p.loaded
    ]
    boxes: list[tuple[int, int, int, int]] = []
    h, w = p.hw
    nets = [n for n, _, _ in p.loaded]
    title = caption(spec.config, f"{p.inp.name} at {w}x{h} px")
    image = sheet(
        p.cells,
        images,
        p.sources,
        nets,
        p.hw,
        title,
        cell=cell,
        columns=columns,
        boxes=boxes,
    )
    recipe = sheet_recipe(
        FileRef.of(p.inp),
        models,
        p.cells,
        spec.config,
        spec,
        p.out.with_suffix(""),
        boxes,
    )
    return save_image(p.out, image.astype(np.float32), recipe=recipe, protect=[p.inp])


def layer_atlas(
    photo: str | Path,
    out: str | Path,
    *,
    models: Sequence[str | Path] = ("bvlc_googlenet",),
    layers: Sequence[str] | Literal["all"] | None = None,
    config: DreamConfig = DreamConfig(seed=0),  # noqa: B008 - frozen
    scheduler: str | None = None,
    cell: int | None = 256,
    **spec: Any,
) -> Path | None:
    """Dream ``photo`` at ``layers`` (default :data:`DEFAULT_LAYERS`;
    ``"all"``: every layer with channels, as ``--all``) with
    each of ``models`` (registry names, or .h5 paths) and write the contact
    sheet ``out`` and its singles (folder beside it); returns the sheet's
    path. ``spec``: :class:`~inceptionism.engine.batch.Spec` fields
    (``max_size``, ``device``, ``mean``, ``tiling``, ``overwrite`` ...)."""
    sources = [
        Source(weights=str(m)) if str(m).endswith(".h5") else Source(model=str(m))
        for m in models
    ]
    base = batch.Spec(config=config, **spec)
    every = layers == "all"
    if isinstance(layers, str):  # "all", or one layer's name (not its letters)
        layers = None if every else [layers]
    p = prepare(Path(photo), Path(out), sources, base, layers, every)
    outcomes = run(p.inp, p.cells, p.sources, base, scheduler=scheduler)
    return finish(p, outcomes, base, cell=cell)
