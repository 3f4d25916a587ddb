"""The recipe: everything that re-makes an output, and :func:`replay`.

Every image the tool writes carries its :class:`Recipe` (as JSON, see
:mod:`inceptionism.engine.image` for where): the dream's
:class:`~inceptionism.engine.dream.DreamConfig` (seed included), the model's
name, source and weight file SHA-1, the input's SHA-1, every guide image's
SHA-1, the mean, ``max_size``, device and bit depth, and what part of a run
the file holds — a ``--save-every`` intermediate records the octave and step
it was saved after (:class:`Stop`), a ``zoom`` frame its index and the zoom
parameters (:class:`Zoom`; ``frame=None`` is the whole run, as in the GIF or
WebP animation).

:func:`replay` (``dream --replay``) rebuilds the output from its recipe,
pixel for pixel on the same device: a zoom frame N by re-running frames 0..N,
an intermediate by stopping the dream at its step. Whatever it cannot
reproduce exactly it refuses with one sentence (:class:`ReplayError`): an
input or guide whose SHA-1 changed, other weights, an image size that no
longer matches, or settings this version does not know. ``tiling`` and
``batch`` are reserved for the capabilities that will record them.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from inceptionism.engine.dream import DreamConfig, run, zoom_frames
from inceptionism.engine.image import (
    downsize,
    load_image,
    read_recipe,
    sample_image_path,
    save_animation,
    save_image,
)
from inceptionism.plugins import hookimpl
from inceptionism.weights.files import sha1_file
from inceptionism.weights.model import Model

#: ``FileRef.path`` of the shipped sample picture (wherever it is installed).
SAMPLE = "sample"
#: The mean ``dream.ipynb`` hard-codes (BGR), for ``mean="notebook"``.
NOTEBOOK_MEAN = (104.0, 116.0, 122.0)
Mean = Literal["file", "notebook"]


class ReplayError(ValueError):
    """A recipe that cannot be replayed exactly; the message says why."""


class ReplayWarning(UserWarning):
    """A replay that may differ in the last bits (other version or device)."""


def version() -> str:
    try:
        return metadata.version("inceptionism")
    except metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return "unknown"


@dataclass(frozen=True)
class FileRef:
    """A file an output was made from: absolute path (or ``"sample"``), SHA-1."""

    path: str
    sha1: str

    @classmethod
    def of(cls, path: Path) -> FileRef:
        sample = path.resolve() == sample_image_path().resolve()
        return cls(SAMPLE if sample else str(path.resolve()), sha1_file(path))

    def locate(self) -> Path:
        return sample_image_path() if self.path == SAMPLE else Path(self.path)


@dataclass(frozen=True)
class ModelRef:
    """The weights: model name and source (as in the file), path, SHA-1."""

    name: str
    source: dict[str, Any]
    weights: str
    weights_sha1: str


@dataclass(frozen=True)
class Zoom:
    """Zoom feedback: ``frame`` of ``frames`` (None: all, an animation)."""

    frame: int | None
    frames: int
    scale: float
    duration_ms: int | None = None  # animations: time per frame


@dataclass(frozen=True)
class Stop:
    """An intermediate: the image right after ``step`` of ``octave`` (0-based,
    counting the octaves dreamed, smallest first)."""

    octave: int
    step: int


_PARTS: dict[str, Any] = {
    "model": ModelRef,
    "input": FileRef,
    "zoom": Zoom,
    "stop": Stop,
}
#: Fields written only when set.
_OPTIONAL = ("guides", "zoom", "stop", "tiling", "batch")


@dataclass(frozen=True)
class Recipe:
    """Everything that changes the pixels of one output (JSON: :meth:`to_dict`)."""

    config: DreamConfig
    model: ModelRef
    input: FileRef
    size: tuple[int, int]  # (H, W) dreamed, after max_size
    preprocess: dict[str, Any]
    mean: Mean = "file"
    max_size: int | None = None
    device: str = "cpu"
    bits: int = 8
    guides: tuple[FileRef, ...] = ()
    zoom: Zoom | None = None
    stop: Stop | None = None
    tiling: dict[str, Any] | None = None  # reserved (bounded-memory tiling)
    batch: dict[str, Any] | None = None  # reserved (batch runs)
    version: str = field(default_factory=version)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; optional parts that are unset are left out."""
        d: dict[str, Any] = {"inceptionism": self.version}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "version" or (f.name in _OPTIONAL and not value):
                continue
            if f.name == "config":
                value = value.to_dict()
            elif f.name == "guides":
                value = [dataclasses.asdict(g) for g in value]
            elif dataclasses.is_dataclass(value):
                value = dataclasses.asdict(value)
            elif f.name == "size":
                value = list(value)
            d[f.name] = value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "recipe") -> Recipe:
        """Inverse of :meth:`to_dict`; :class:`ReplayError` names what is wrong."""
        d = dict(d)
        made_by = d.pop("inceptionism", "unknown")
        names = {f.name for f in dataclasses.fields(cls)} - {"version"}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ReplayError(
                f"{where} records {', '.join(unknown)}, which inceptionism "
                f"{version()} does not know; replay it with inceptionism {made_by}"
            )
        try:
            kw: dict[str, Any] = {"version": str(made_by)}
            for key, value in d.items():
                if key == "config":
                    value = DreamConfig.from_dict(value)
                elif key in _PARTS and value is not None:
                    value = _PARTS[key](**value)
                elif key == "guides":
                    value = tuple(FileRef(**g) for g in value)
                elif key == "size":
                    value = (int(value[0]), int(value[1]))
                kw[key] = value
            return cls(**kw)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ReplayError(
                f"{where}: incomplete or damaged recipe ({exc})"
            ) from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str = "recipe") -> Recipe:
        return cls.from_dict(json.loads(text), where)

    @classmethod
    def read(cls, path: str | Path) -> Recipe:
        """The recipe embedded in an output file."""
        d = read_recipe(path)
        if d is None:
            raise ReplayError(f"{path}: no inceptionism recipe in this file")
        return cls.from_dict(d, str(path))


# -- making a job --------------------------------------------------------------


@dataclass
class Job:
    """A recipe made ready to run: the net on its device, the input pixels."""

    recipe: Recipe
    net: Any
    rgb: np.ndarray
    alpha: np.ndarray | None
    input_path: Path


def with_mean(model: Model, mean: str) -> Model:
    """``model`` with ``mean="notebook"``'s pixel mean, or as it is."""
    if mean == "notebook":
        pre = {**model.preprocess, "mean": list(NOTEBOOK_MEAN)}
        return dataclasses.replace(model, preprocess=pre)
    return model


def guide_paths(spec: str, pm: Any = None) -> list[Path]:
    """Image files read by the ``guide`` terms of an objective spec."""
    from inceptionism.plugins import get_plugin_manager, registry
    from inceptionism.plugins.spec import split_terms

    names = registry(pm or get_plugin_manager(), "objectives")
    paths = []
    for _, body in split_terms(spec, names):
        name, *args = (part.strip() for part in body.split(":"))
        if name == "guide" and len(args) >= 2:
            paths.append(Path(":".join(args[1:])))
    return paths


def _load(
    model: Model, inp: Path, mean: str, max_size: int | None, device: str
) -> tuple[Any, np.ndarray, np.ndarray | None]:
    from inceptionism.engine.net import Net

    rgb, alpha = load_image(inp, with_alpha=True)
    if max_size:
        rgb, alpha = downsize(rgb, max_size, alpha)
    return Net(with_mean(model, mean), device=device), rgb, alpha


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
) -> Job:
    """A new job and its recipe (``dream IN`` / ``zoom IN``)."""
    guides = []
    for path in guide_paths(config.objective, pm):
        if not path.is_file():
            raise ValueError(f"{path}: no such guide image")
        guides.append(FileRef.of(path))
    net, rgb, alpha = _load(model, inp, mean, max_size, device)
    recipe = Recipe(
        config=config,
        model=ModelRef(
            model.name, model.source, str(weights.resolve()), sha1_file(weights)
        ),
        input=FileRef.of(inp),
        size=(int(rgb.shape[0]), int(rgb.shape[1])),
        preprocess=net.model.preprocess,
        mean=mean,
        max_size=max_size,
        device=device,
        bits=bits,
        guides=tuple(guides),
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
    for reserved in ("tiling", "batch"):
        if getattr(recipe, reserved) is not None:
            raise ReplayError(
                f"{source} was made with {reserved}, which inceptionism "
                f"{version()} cannot replay; use inceptionism {recipe.version}"
            )
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
    rec = recipe.model
    if weights is None and Path(rec.weights).is_file():
        weights = rec.weights
    model, wpath = load_named_model(weights, rec.name, pm)
    if model.name != rec.name or model.source != rec.source:
        raise ReplayError(
            f"{wpath} holds {model.name} {model.source}, but {source} was made "
            f"with {rec.name} {rec.source}; pass the right --weights"
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
    recipe = dataclasses.replace(
        recipe,
        input=input_ref,
        model=dataclasses.replace(rec, weights=str(Path(wpath).resolve())),
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


def render(job: Job, *, pm: Any = None, observers: Iterable[Any] = ()) -> Any:
    """Run ``job.recipe``: the image (float32 (H, W, 3) RGB), or for a zoom
    animation (``zoom.frame is None``) the list of frames."""
    from inceptionism.plugins import get_plugin_manager

    pm = pm or get_plugin_manager()
    r, observers = job.recipe, list(observers)
    if r.zoom is not None:
        count = r.zoom.frames if r.zoom.frame is None else r.zoom.frame + 1
        frames = list(
            zoom_frames(job.net, job.rgb, count, r.zoom.scale, r.config, pm=pm,
                        observers=observers)
        )  # fmt: skip
        return frames if r.zoom.frame is None else frames[-1]
    if r.stop is None:
        return run(job.net, job.rgb, r.config, pm=pm, observers=observers)
    stopper = _StopAt(r.stop)
    try:
        run(job.net, job.rgb, r.config, pm=pm, observers=[*observers, stopper])
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


def replay(
    path: str | Path,
    out: str | Path | None = None,
    *,
    inp: str | Path | None = None,
    weights: str | Path | None = None,
    device: str | None = None,
    pm: Any = None,
    observers: Iterable[Any] = (),
) -> np.ndarray:
    """Re-make the output at ``path`` from its embedded recipe.

    Returns the image (float32 (H, W, 3) RGB 0..255; for a zoom animation,
    the frames stacked (F, H, W, 3)) and writes it to ``out`` when given,
    with the same recipe. Raises :class:`ReplayError` (one sentence) when
    the output cannot be re-made exactly. ``inp``, ``weights``, ``device``:
    see :func:`prepare`.
    """
    job = prepare(
        Recipe.read(path), str(path), inp=inp, weights=weights, device=device, pm=pm
    )
    result = render(job, pm=pm, observers=observers)
    if out is not None:
        write(job, out, result, protect=[path])
    return cast(np.ndarray, np.asarray(result))
