"""Making a recipe's output: :func:`create` (a new job from a config),
:func:`prepare` (a job that re-makes a recorded recipe, after checking every
file it names), :func:`render` (run it) and :func:`write` (save it with its
recipe). :func:`inceptionism.engine.recipe.replay` is the three in a row.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.engine import blas
from inceptionism.engine.dream import DreamConfig, run, zoom_frames
from inceptionism.engine.image import downsize, load_image, save_animation, save_image
from inceptionism.engine.recipe import (
    FileRef,
    Mean,
    ModelRef,
    Recipe,
    ReplayError,
    ReplayWarning,
    Stop,
    data_paths,
    guide_paths,
    version,
)
from inceptionism.plugins import hookimpl
from inceptionism.weights.files import sha1_file
from inceptionism.weights.model import Model

#: The mean ``dream.ipynb`` hard-codes (BGR), for ``mean="notebook"``.
NOTEBOOK_MEAN = (104.0, 116.0, 122.0)


@dataclass
class Job:
    """A recipe made ready to run: the net on its device, the input pixels."""

    recipe: Recipe
    net: Any
    rgb: np.ndarray
    alpha: np.ndarray | None
    input_path: Path


def with_mean(model: Model, mean: str) -> Model:
    """``model`` with ``mean="notebook"``'s pixel mean, or as it is.
    ValueError for a model whose pixels are not BGR in 0..255: the notebook's
    104/116/122 is a BGR mean in those units (the net subtracts its mean after
    scaling to 0..scale, in its channel order), so there it would be wrong."""
    if mean == "notebook":
        scale = float(model.preprocess.get("scale", 255.0))
        order = str(model.preprocess.get("channel_order", "BGR")).upper()
        if scale != 255.0 or order != "BGR":
            raise ValueError(
                f"--mean notebook is dream.ipynb's BGR mean 104/116/122 in 0..255 "
                f"pixel units, but {model.name} takes {order} pixels in "
                f"0..{scale:g}; use --mean file (the model's own mean)"
            )
        pre = {**model.preprocess, "mean": list(NOTEBOOK_MEAN)}
        return dataclasses.replace(model, preprocess=pre)
    return model


def _load(
    model: Model, inp: Path, mean: str, max_size: int | None, device: str
) -> tuple[Any, np.ndarray, np.ndarray | None]:
    from inceptionism.engine.net import Net

    rgb, alpha = _pixels(inp, max_size)
    return Net(with_mean(model, mean), device=device), rgb, alpha


def _pixels(inp: Path, max_size: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    rgb, alpha = load_image(inp, with_alpha=True)
    if max_size:
        rgb, alpha = downsize(rgb, max_size, alpha)
    return rgb, alpha


def create(
    config: DreamConfig,
    inp: Path,
    model: Model,
    weights: Path,
    *,
    mean: Mean = "file",
    max_size: int | None = None,
    device: str = "cpu",
    bits: int = 8,
    pm: Any = None,
    net: Any = None,
    weights_sha1: str | None = None,
) -> Job:
    """A new job and its recipe (``dream IN`` / ``zoom IN``). A batch passes
    the ``net`` it built once (of ``with_mean(model, mean)`` on ``device``)
    and the weights' SHA-1 it computed once."""
    guides = []
    for path in guide_paths(config.objective, pm):
        if not path.is_file():
            raise ValueError(f"{path}: no such guide image")
        guides.append(FileRef.of(path))
    files = []
    for path in data_paths(config, pm):
        if not path.is_file():
            raise ValueError(f"{path}: no such file (a mask or direction vector)")
        files.append(FileRef.of(path))
    if net is None:
        net, rgb, alpha = _load(model, inp, mean, max_size, device)
    else:
        rgb, alpha = _pixels(inp, max_size)
    recipe = Recipe(
        config=config,
        model=ModelRef(
            model.name,
            model.source,
            str(weights.resolve()),
            weights_sha1 or sha1_file(weights),
        ),
        input=FileRef.of(inp),
        size=(int(rgb.shape[0]), int(rgb.shape[1])),
        preprocess=net.model.preprocess,
        mean=mean,
        max_size=max_size,
        device=device,
        bits=bits,
        guides=tuple(guides),
        files=tuple(files),
        blas=blas.describe() if device == "cpu" else None,
    )
    return Job(recipe, net, rgb, alpha, inp)


def _check_file(ref: FileRef, path: Path, what: str, source: str) -> FileRef:
    """``what`` is "image" (the input) or "guide image"."""
    if not path.is_file():
        way_out = "give the input as IN" if what == "image" else "put it back"
        raise ReplayError(
            f"{source} was made from the {what} {path}, which is missing; {way_out}"
        )
    if sha1_file(path) != ref.sha1:
        raise ReplayError(
            f"{path} is not the {what} {source} was made from (its SHA-1 "
            "differs), so a replay would make a different picture"
        )
    return FileRef.of(path)


def prepare(
    recipe: Recipe,
    source: str = "recipe",
    *,
    inp: str | Path | None = None,
    weights: str | Path | None = None,
    device: str | None = None,
    pm: Any = None,
) -> Job:
    """A job that re-makes ``recipe`` exactly, after checking that it can.

    ``inp``, ``weights`` and ``device`` override the recorded ones (the
    files must still have the recorded SHA-1 / model identity).
    """
    from inceptionism.engine.models import load_named_model

    if recipe.config.seed is None:
        raise ReplayError(f"{source} records no seed, so it cannot be re-made")
    if recipe.zoom is not None and recipe.stop is not None:
        raise ReplayError(f"{source} records both a zoom frame and a stop step")
    if recipe.batch is not None:
        raise ReplayError(
            f"{source} was made with batch, which inceptionism "
            f"{version()} cannot replay; use inceptionism {recipe.version}"
        )
    if recipe.video is not None:
        raise ReplayError(
            f"{source} is a frame of `inceptionism video`; re-make it with "
            f"inceptionism video --replay {source} -o OUT"
        )
    if recipe.tiling is not None:
        try:
            recorded_tiling(recipe)
        except (TypeError, ValueError, KeyError):
            raise ReplayError(
                f"{source} records tiling {recipe.tiling!r}, which inceptionism "
                f"{version()} cannot replay; use inceptionism {recipe.version}"
            ) from None
    path = Path(inp) if inp is not None else recipe.input.locate()
    input_ref = _check_file(recipe.input, path, "image", source)
    recorded = {Path(g.path): g for g in recipe.guides}
    for guide in guide_paths(recipe.config.objective, pm):
        if guide not in recorded:
            raise ReplayError(
                f"{source} does not record the SHA-1 of its guide image {guide}, "
                "so a replay could not be checked; dream it again instead"
            )
        _check_file(recorded[guide], guide, "guide image", source)
    recorded = {Path(f.path): f for f in recipe.files}
    for data in data_paths(recipe.config, pm):
        if data.resolve() not in recorded:
            raise ReplayError(
                f"{source} does not record the SHA-1 of {data}, so a replay "
                "could not be checked; dream it again instead"
            )
        _check_file(recorded[data.resolve()], data, "mask or vector file", source)
    rec = recipe.model
    if weights is None and Path(rec.weights).is_file():
        weights = rec.weights
    model, wpath = load_named_model(weights, rec.name, pm)
    if model.name != rec.name or model.source != rec.source:
        raise ReplayError(
            f"{wpath} holds {model.name} {model.source}, but {source} was made "
            f"with {rec.name} {rec.source}; pass the right --weights"
        )
    weights_sha1 = sha1_file(wpath)
    if weights_sha1 != rec.weights_sha1:
        warnings.warn(
            f"{wpath} holds {rec.name} {rec.source} but is not byte for byte the "
            f"weight file {source} was made with; pixels may differ",
            ReplayWarning,
            stacklevel=2,
        )
    if recipe.version != version():
        warnings.warn(
            f"{source} was made by inceptionism {recipe.version}, this is "
            f"{version()}; pixels may differ",
            ReplayWarning,
            stacklevel=2,
        )
    if device is not None and device != recipe.device:
        warnings.warn(
            f"{source} was made on {recipe.device}, replaying on {device}; "
            "pixels may differ in the last bits",
            ReplayWarning,
            stacklevel=2,
        )
    _check_blas(recipe, device, source)
    recipe = dataclasses.replace(
        recipe,
        input=input_ref,
        model=dataclasses.replace(
            rec, weights=str(Path(wpath).resolve()), weights_sha1=weights_sha1
        ),
        device=device or recipe.device,
        version=version(),
    )
    net, rgb, alpha = _load(model, path, recipe.mean, recipe.max_size, recipe.device)
    size = (int(rgb.shape[0]), int(rgb.shape[1]))
    if size != recipe.size:
        raise ReplayError(
            f"{source} was dreamed at {recipe.size[1]}x{recipe.size[0]} but its "
            f"input now loads at {size[1]}x{size[0]}; replaying would differ"
        )
    if net.model.preprocess != recipe.preprocess:
        raise ReplayError(
            f"{source} was made with preprocessing {recipe.preprocess}, the "
            f"weights now give {net.model.preprocess}; pass the right --weights"
        )
    return Job(recipe, net, rgb, alpha, path)


def _check_blas(recipe: Recipe, device: str | None, source: str) -> None:
    """Warn when this CPU's OpenBLAS kernels differ from the recorded ones
    (the thread count is pinned by :func:`render`; kernels cannot be)."""
    made, here = (recipe.blas or {}).get("core"), blas.core()
    if (device or recipe.device) != "cpu" or not made or not here or made == here:
        return
    warnings.warn(
        f"{source} was made with OpenBLAS's {made} kernels, this CPU uses "
        f"{here}; pixels may differ in the last bits (OPENBLAS_CORETYPE={made} "
        "selects the same ones)",
        ReplayWarning,
        stacklevel=3,
    )


# -- running and writing -------------------------------------------------------


class _Stopped(Exception):
    """Raised by :class:`_StopAt` to end a dream at an intermediate."""


class _StopAt:
    """Observer that keeps the image after one step and ends the dream."""

    def __init__(self, stop: Stop):
        self.stop, self.image = stop, None

    @hookimpl
    def inceptionism_step_end(self, net: Any, state: Any, x: Any, value: Any) -> None:
        if (state.octave, state.step) == (self.stop.octave, self.stop.step):
            self.image = net.deprocess(x)
            raise _Stopped


def with_tiling(job: Job, config: Any, pm: Any = None) -> Job:
    """``job`` with the tile size that ``config`` (a
    :class:`~inceptionism.engine.tiling_budget.Tiling`) gives its picture
    recorded in its recipe (none when it runs untiled)."""
    from inceptionism.engine.tiling_budget import choose_tile
    from inceptionism.plugins.spec import parse_objective

    objective = parse_objective(job.recipe.config.objective, pm)
    layers = [job.net.resolve(name) for name in objective.layers]
    hw = (int(job.rgb.shape[0]), int(job.rgb.shape[1]))
    tile = choose_tile(job.net, hw, layers, config, objective.pointwise)
    tiling = None if tile is None else {"tile": tile, "halo": config.halo}
    return dataclasses.replace(
        job, recipe=dataclasses.replace(job.recipe, tiling=tiling)
    )


def recorded_tiling(recipe: Recipe) -> Any:
    """The recorded tiling (``{"tile": PX, "halo": "exact"|"auto"|PX}``) as a
    :class:`~inceptionism.engine.tiling_budget.Tiling`, None when the output
    was dreamed untiled; ValueError for a tiling this version does not know."""
    from inceptionism.engine.tiling_budget import Tiling

    t = recipe.tiling
    if t is None:
        return None
    if set(t) != {"tile", "halo"}:
        raise ValueError(f"unknown tiling {t!r}")
    tile = t["tile"]
    if isinstance(tile, bool) or not isinstance(tile, int):
        raise ValueError(f"bad tile size {tile!r}")
    return Tiling(tile=tile, halo=t["halo"])


def render(job: Job, *, pm: Any = None, observers: Iterable[Any] = ()) -> Any:
    """Run ``job.recipe``: the image (float32 (H, W, 3) RGB), or for a zoom
    animation (``zoom.frame is None``) the list of frames."""
    from inceptionism.plugins import get_plugin_manager

    pm = pm or get_plugin_manager()
    threads = (
        (job.recipe.blas or {}).get("threads") if job.net.device == "cpu" else None
    )
    with blas.pinned(threads):  # the thread count the recipe was made with
        return _render(job, pm, list(observers))


def _render(job: Job, pm: Any, observers: list[Any]) -> Any:
    r = job.recipe
    if r.zoom is not None:
        count = r.zoom.frames if r.zoom.frame is None else r.zoom.frame + 1
        frames = list(
            zoom_frames(job.net, job.rgb, count, r.zoom.scale, r.config, pm=pm,
                        observers=observers, tiling=recorded_tiling(r))
        )  # fmt: skip
        return frames if r.zoom.frame is None else frames[-1]
    if r.stop is None:
        return run(
            job.net, job.rgb, r.config, pm=pm, observers=observers,
            tiling=recorded_tiling(r),
        )  # fmt: skip
    stopper = _StopAt(r.stop)
    try:
        run(job.net, job.rgb, r.config, pm=pm, observers=[*observers, stopper],
            tiling=recorded_tiling(r))  # fmt: skip
    except _Stopped:
        return stopper.image
    raise ReplayError(
        f"the dream never reached step {r.stop.step} of octave {r.stop.octave} "
        "that the recipe records"
    )


def write(job: Job, out: str | Path, result: Any, protect: Iterable[Any] = ()) -> Path:
    """Save ``render(job)``'s result to ``out`` with the job's recipe."""
    r = job.recipe
    protect = [job.input_path, *protect]
    if r.zoom is not None and r.zoom.frame is None:
        return save_animation(
            out,
            result,
            duration_ms=r.zoom.duration_ms or 80,
            recipe=r.to_dict(),
            protect=protect,
        )
    alpha = None if r.zoom is not None else job.alpha  # frames move under it
    return save_image(
        out, result, alpha=alpha, recipe=r.to_dict(), bits=r.bits, protect=protect
    )
