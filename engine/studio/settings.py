"""What the page sends to start a dream, checked, and the way back from a
recipe to the page's settings.

The page's settings are JSON::

    {"input": "sample" | UPLOAD_ID, "model": MODEL_ID, "device": "cpu",
     "max_size": 512 | null, "mean": "file" | "notebook",
     "config": {DreamConfig fields: objective, octaves, octave_scale, steps,
                step_size, jitter, clip, seed, regularizers, priors}}

:func:`parse` turns them into the input path and a batch
:class:`~inceptionism.engine.batch.Spec`, refusing a bad value with one
sentence (the same ranges as the command line's options,
:func:`inceptionism.engine.cli.dream_args.check_numbers`, and the objective,
regularizers and priors parsed by the plugin manager) before anything is
queued. :func:`from_recipe` is its inverse for a result PNG dropped back on
the page. A missing seed is drawn and recorded, as on the command line.
"""

from __future__ import annotations

import argparse
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inceptionism.engine.batch import Spec
from inceptionism.engine.dream import DreamConfig, resolve
from inceptionism.engine.image import sample_image_path
from inceptionism.engine.recipe import SAMPLE, Mean, Recipe
from inceptionism.weights.files import sha1_file

#: Largest ``max_size`` the page may ask for (the upload limit bounds input).
MAX_SIZE = 16_384
_INTS = ("octaves", "steps", "jitter", "seed")
_FLOATS = ("octave_scale", "step_size")


@dataclass(frozen=True)
class Model:
    """A model the page can choose: a weight file or a cached registry name."""

    id: str
    label: str
    weights: str | None = None
    name: str | None = None
    available: bool = True


def _number(config: dict[str, Any], key: str, kind: type) -> Any:
    value = config[key]
    what = "a whole number" if kind is int else "a number"
    wrong = f"{key.replace('_', ' ')} must be {what}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(wrong)
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValueError(wrong) from None
    if kind is int and isinstance(value, float) and number != value:
        raise ValueError(wrong)
    return number


def _specs(config: dict[str, Any], key: str) -> tuple[str, ...]:
    value = config.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of specs such as tv:0.01")
    return tuple(v.strip() for v in value if v.strip())


def dream_config(config: Any, pm: Any) -> DreamConfig:
    """The :class:`DreamConfig` of the page's ``config`` object, checked."""
    if not isinstance(config, dict):
        raise ValueError("the settings hold no dream parameters")
    config = dict(config)
    if config.get("seed") in (None, ""):
        config["seed"] = secrets.randbits(32)
    for key in _INTS:
        if key in config:
            config[key] = _number(config, key, int)
    for key in _FLOATS:
        if key in config:
            config[key] = _number(config, key, float)
    for key in ("regularizers", "priors"):
        config[key] = _specs(config, key)
    objective = config.get("objective")
    if objective is not None and (not isinstance(objective, str) or not objective):
        raise ValueError("the objective is empty; choose one")
    if "clip" in config:
        config["clip"] = bool(config["clip"])
    # the command line's ranges; its messages name flags, the page's fields
    from inceptionism.engine.cli.dream_args import check_numbers

    d = DreamConfig()
    args = argparse.Namespace(
        **{k: config.get(k, getattr(d, k)) for k in (*_INTS, *_FLOATS)},
        objective=None,
        layer=None,
    )
    try:
        check_numbers(args)
    except ValueError as exc:
        flag, rest = str(exc).split(" ", 1)
        raise ValueError(f"{flag.lstrip('-').replace('-', ' ')} {rest}") from None
    made = DreamConfig.from_dict(config)
    resolve(made, pm)  # unknown objective, regularizer or prior: one sentence
    return made


def parse(
    data: Any,
    *,
    models: dict[str, Model],
    find_upload: Callable[[str], Path | None],
    devices: tuple[str, ...],
    pm: Any,
) -> tuple[Path, Spec]:
    """``(input path, Spec)`` of the page's settings; ``ValueError`` (one
    sentence) for anything missing, unknown or out of range."""
    if not isinstance(data, dict):
        raise ValueError("the request holds no settings")
    inp = data.get("input")
    if inp == SAMPLE:
        path = sample_image_path()
    else:
        found = find_upload(inp) if isinstance(inp, str) else None
        if found is None:
            raise ValueError("no picture chosen: drop a photo or pick the sample")
        path = found
    model = models.get(str(data.get("model")))
    if model is None:
        raise ValueError(f"unknown model {data.get('model')!r}; choose one listed")
    if not model.available:
        raise ValueError(
            f"model {model.name} is not downloaded: run `inceptionism weights "
            f"fetch {model.name}` and restart the studio"
        )
    device = data.get("device") or devices[0]
    if device not in devices:
        raise ValueError(
            f"device {device!r} is not available here; use {' or '.join(devices)}"
        )
    max_size = data.get("max_size")
    if max_size in (None, "", 0):
        max_size = None
    else:
        max_size = _number({"max size": max_size}, "max size", int)
        if not 1 <= max_size <= MAX_SIZE:
            raise ValueError(f"max size must be 1 to {MAX_SIZE} pixels, got {max_size}")
    given = data.get("mean") or "file"
    if given not in ("file", "notebook"):
        raise ValueError(f"mean must be 'file' or 'notebook', got {given!r}")
    mean: Mean = "notebook" if given == "notebook" else "file"
    config = dream_config(data.get("config"), pm)
    spec = Spec(
        config=config,
        weights=model.weights,
        model=model.name,
        mean=mean,
        max_size=max_size,
        device=device,
    )
    return path, spec


def from_recipe(
    recipe: dict[str, Any], *, models: dict[str, Model], uploads: Path
) -> dict[str, Any]:
    """The page's settings that re-make a recipe's output: every dream
    parameter, the model (matched by weight file, then by name; None when
    the studio has neither), and the input when it is the sample or an
    upload still in the work folder with the recorded SHA-1 (else None)."""
    r = Recipe.from_dict(recipe, "the dropped picture's recipe")
    model = next((m.id for m in models.values() if m.weights == r.model.weights), None)
    if model is None:
        model = next((m.id for m in models.values() if m.name == r.model.name), None)
    inp = None
    if r.input.path == SAMPLE:
        inp = SAMPLE
    else:
        path = Path(r.input.path)
        if path.parent == uploads.resolve() and path.is_file():
            if sha1_file(path) == r.input.sha1:
                inp = path.name
    config = r.config.to_dict()
    for key, value in config.items():  # JSON has no inf/nan; DreamConfig refuses them
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"the recipe's {key} is {value}")
    return {
        "input": inp,
        "model": model,
        "device": r.device,
        "max_size": r.max_size,
        "mean": r.mean,
        "config": config,
    }
