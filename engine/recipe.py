"""The recipe: everything that re-makes an output, and :func:`replay`.

Every image the tool writes carries its :class:`Recipe` (as JSON, see
:mod:`inceptionism.engine.image` for where): the dream's
:class:`~inceptionism.engine.dream.DreamConfig` (seed included), the model's
name, source and weight file SHA-1, the input's SHA-1, every guide image's
SHA-1, the mean, ``max_size``, device and bit depth, and what part of a run
the file holds, and the SHA-1 of every mask and direction-vector file
(``files``; the parameterisation and transforms are in the config) — a
``--save-every`` intermediate records the octave and step it was saved
after (:class:`Stop`), a ``zoom`` frame its index and the zoom parameters
(:class:`Zoom`; ``frame=None`` is the whole run, as in the GIF or WebP
animation).

:func:`replay` (``dream --replay``) rebuilds the output from its recipe,
pixel for pixel on the same device (the work is done by
:mod:`inceptionism.engine.remake`): a zoom frame N by re-running frames
0..N, an intermediate by stopping the dream at its step. Whatever it cannot
reproduce exactly it refuses with one sentence (:class:`ReplayError`): an
input or guide whose SHA-1 changed, other weights, an image size that no
longer matches, a recipe without a seed, or settings this version does not
know. ``tiling`` records the tile size of a tiled dream (``{"tile": PX,
"halo": "exact"}``, see :mod:`inceptionism.engine.tiling_budget`) so the
replay cuts the same tiles; ``batch`` is reserved for the capability that
will record it. ``video`` marks a frame of ``inceptionism video`` (or the
whole video): the input is then the video, and ``video --replay`` re-makes
it (:mod:`inceptionism.engine.video.recipe`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np

from inceptionism.engine.dream import MAX_FRAMES, DreamConfig
from inceptionism.engine.image import read_recipe, sample_image_path
from inceptionism.engine.recipe_check import UnknownField, check
from inceptionism.weights.files import sha1_file

#: ``FileRef.path`` of the shipped sample picture (wherever it is installed).
SAMPLE = "sample"
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

    def __post_init__(self) -> None:
        if not 1 <= self.frames <= MAX_FRAMES:
            raise ValueError(f"zoom frames must be >= 1 and <= {MAX_FRAMES}")
        if self.frame is not None and not 0 <= self.frame < self.frames:
            raise ValueError(f"zoom frame must be >= 0 and < {self.frames}")
        if not 0 <= self.scale < 1:  # as zoom --scale
            raise ValueError("zoom scale must be >= 0 and < 1")
        if self.duration_ms is not None and self.duration_ms < 1:
            raise ValueError("zoom duration_ms must be >= 1")


@dataclass(frozen=True)
class Stop:
    """An intermediate: the image right after ``step`` of ``octave`` (0-based,
    counting the octaves dreamed, smallest first)."""

    octave: int
    step: int

    def __post_init__(self) -> None:
        if self.octave < 0 or self.step < 0:
            raise ValueError("stop octave and step must be >= 0")


_PARTS: dict[str, Any] = {
    "model": ModelRef,
    "input": FileRef,
    "zoom": Zoom,
    "stop": Stop,
}
#: Fields written only when set.
_OPTIONAL = ("guides", "files", "zoom", "stop", "tiling", "batch", "video", "blas")


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
    files: tuple[FileRef, ...] = ()  # masks, direction vectors (data_paths)
    zoom: Zoom | None = None
    stop: Stop | None = None
    tiling: dict[str, Any] | None = None  # {"tile": PX, "halo": "exact"}
    batch: dict[str, Any] | None = None  # reserved (batch runs)
    #: a video frame or a whole video (:mod:`inceptionism.engine.video.recipe`)
    video: dict[str, Any] | None = None
    blas: dict[str, Any] | None = None  # {"threads": N, "core": ...}: engine/blas.py
    version: str = field(default_factory=version)

    def __post_init__(self) -> None:
        if self.mean not in ("file", "notebook"):
            raise ValueError(f"mean must be 'file' or 'notebook', not {self.mean!r}")
        if self.bits not in (8, 16):
            raise ValueError(f"bits must be 8 or 16, not {self.bits!r}")
        if self.max_size is not None and self.max_size < 1:
            raise ValueError(f"max_size must be >= 1, not {self.max_size!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; optional parts that are unset are left out."""
        d: dict[str, Any] = {"inceptionism": self.version}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "version" or (f.name in _OPTIONAL and not value):
                continue
            if f.name == "config":
                value = value.to_dict()
            elif f.name in ("guides", "files"):
                value = [dataclasses.asdict(g) for g in value]
            elif dataclasses.is_dataclass(value) and not isinstance(value, type):
                value = dataclasses.asdict(value)
            elif f.name == "size":
                value = list(value)
            d[f.name] = value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "recipe") -> Recipe:
        """Inverse of :meth:`to_dict`; :class:`ReplayError` names what is wrong."""
        if not isinstance(d, dict):
            raise ReplayError(f"{where}: damaged recipe (not a JSON object)")
        d = dict(d)
        kind = d.get("atlas") or d.get("channel")
        if isinstance(kind, dict) and kind.get("diverse"):
            raise ReplayError(
                f"{where} holds {kind['diverse']} diverse pictures of "
                f"{kind.get('layer')} dreamed together, not one dream; run "
                "`inceptionism atlas --channels LAYER --diverse N` again (it "
                "reads the cache or re-dreams them exactly)"
            )
        if "atlas" in d or "channel" in d:  # engine/atlas*.py write these
            raise ReplayError(
                f"{where} is an atlas sheet or a cached channel render, not one "
                "dream; replay a single image from the atlas folder, or run "
                "`inceptionism atlas` again (it reuses what is there)"
            )
        made_by = d.pop("inceptionism", "unknown")
        names = {f.name for f in dataclasses.fields(cls)} - {"version"}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ReplayError(
                f"{where} records {', '.join(unknown)}, which inceptionism "
                f"{version()} does not know; replay it with inceptionism {made_by}"
            )
        try:
            _check_fields(d)
        except UnknownField as exc:
            raise ReplayError(
                f"{where} records {exc}, which inceptionism {version()} does "
                f"not know; replay it with inceptionism {made_by}"
            ) from None
        except ValueError as exc:
            raise ReplayError(
                f"{where}: incomplete or damaged recipe ({exc})"
            ) from None
        try:
            kw: dict[str, Any] = {"version": str(made_by)}
            for key, value in d.items():
                if key == "config":
                    value = DreamConfig.from_dict(value)
                elif key in _PARTS and value is not None:
                    value = _PARTS[key](**value)
                elif key in ("guides", "files"):
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


def _check_fields(d: dict[str, Any]) -> None:
    """ValueError naming a missing field or one of the wrong JSON type. Every
    field :meth:`Recipe.to_dict` always writes is required (a recipe without
    ``steps`` would replay with the default); fvis's settings are written
    only when set."""
    from inceptionism.engine import fvis

    fields = [f.name for f in dataclasses.fields(Recipe)]
    check(d, Recipe, "", [f for f in fields if f not in (*_OPTIONAL, "version")])
    config = [f.name for f in dataclasses.fields(DreamConfig)]
    check(d["config"], DreamConfig, "config", set(config) - set(fvis.FIELDS))


def guide_paths(spec: str, pm: Any = None) -> list[Path]:
    """Image files read by the ``guide`` terms of an objective spec."""
    from inceptionism.plugins import get_plugin_manager, registry
    from inceptionism.plugins.spec import iter_factors, split_args

    names = registry(pm or get_plugin_manager(), "objectives")
    paths = []
    for body, _ in iter_factors(spec, names):
        name, *args = split_args(body)
        if name == "guide" and len(args) >= 2:
            paths.append(Path(":".join(args[1:])))
    return paths


def data_paths(config: DreamConfig, pm: Any = None) -> list[Path]:
    """Other files a dream reads: its ``--mask``, every ``TERM@MASK`` mask and
    every ``direction`` vector file (``.npy``), in spec order."""
    from inceptionism.plugins import get_plugin_manager, registry
    from inceptionism.plugins.spec import iter_factors, split_args

    names = registry(pm or get_plugin_manager(), "objectives")
    paths = [Path(config.mask)] if config.mask else []
    for body, mask in iter_factors(config.objective, names):
        name, *args = split_args(body)
        if mask is not None:
            paths.append(Path(mask))
        if name == "direction" and args and args[-1].lower().endswith(".npy"):
            paths.append(Path(args[-1]))
    return list(dict.fromkeys(paths))


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
    with the same recipe (replacing a file there, as Python's writers do;
    never the recipe's own file or its input). Raises :class:`ReplayError`
    (one sentence) when the output cannot be re-made exactly, and
    ``ValueError`` when ``out`` cannot be written or the recipe's guides,
    masks or memory do not check out: both before any dreaming, as the
    CLI's ``--replay``. ``inp``, ``weights``, ``device``: see
    :func:`inceptionism.engine.remake.prepare`.
    """
    from inceptionism.engine import preflight
    from inceptionism.engine.remake import prepare, render, write

    job = prepare(
        Recipe.read(path), str(path), inp=inp, weights=weights, device=device, pm=pm
    )
    if out is not None:
        zoom = job.recipe.zoom
        preflight.check_output(
            Path(out),
            bits=job.recipe.bits,
            animation=zoom is not None and zoom.frame is None,
            overwrite=True,
            protect=[Path(path), job.input_path],
        )
    preflight.check_job(job, pm)
    result = render(job, pm=pm, observers=observers)
    if out is not None:
        write(job, out, result, protect=[path])
    return np.asarray(result)
