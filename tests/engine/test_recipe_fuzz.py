"""Damaged recipes: ``dream --replay`` refuses each in one line that names the
field, never in Python's words, and writes nothing.

One real dream makes the recipe; every case changes one thing in its JSON
(drops a field, gives a value of another JSON type, empties a nested part)
and replays it. The cases fail while reading the recipe, before any weights
are loaded, so they take milliseconds each.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest

from inceptionism.engine import fvis
from inceptionism.engine.cli import main
from inceptionism.engine.dream import DreamConfig
from inceptionism.engine.image import load_image, read_recipe, save_image
from inceptionism.engine.recipe import _OPTIONAL, Recipe

FAST = ["--layer", "conv2/3x3", "--octaves", "1", "--steps", "1", "--seed", "4"]
PYTHON_WORDS = (
    "__init__",
    "positional argument",
    "TypeError",
    "KeyError",
    "object has no attribute",
    "not supported between",
    "NoneType",
    "subscriptable",
    "iterable",
)
REQUIRED = [f.name for f in dataclasses.fields(Recipe)]
REQUIRED = [f for f in REQUIRED if f not in (*_OPTIONAL, "version")]
CONFIG = [f.name for f in dataclasses.fields(DreamConfig) if f.name not in fvis.FIELDS]
#: One value of each JSON type.
VALUES = {"str": "7", "num": 7, "list": [7], "dict": {"a": 7}, "bool": True}
#: The JSON type of each field (a new field must be added here).
KINDS = {
    "config": "dict", "model": "dict", "input": "dict", "size": "list",
    "preprocess": "dict", "mean": "str", "max_size": "num", "device": "str",
    "bits": "num", "config.objective": "str", "config.octaves": "num",
    "config.octave_scale": "num", "config.steps": "num", "config.step_size": "num",
    "config.jitter": "num", "config.clip": "bool", "config.seed": "num",
    "config.regularizers": "list", "config.priors": "list", "zoom": "dict",
    "stop": "dict", "guides": "list", "files": "list",
}  # fmt: skip
#: Fields of the recipe whose null is a valid value (a replay would run).
NULLABLE = {"max_size", "zoom", "stop"}
NESTED = {  # optional parts, as a dream would record them
    "zoom": {"frame": 0, "frames": 1, "scale": 0.05, "duration_ms": None},
    "stop": {"octave": 0, "step": 0},
    "guides": [{"path": "/g.png", "sha1": "c" * 40}],
    "files": [{"path": "/m.png", "sha1": "d" * 40}],
}


def _kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "num"
    return {str: "str", list: "list", dict: "dict"}[type(v)]


def _set(d, path, value):
    *parents, last = path
    for key in parents:
        d = d[key]
    if value is _DROP:
        del d[last]
    else:
        d[last] = value


_DROP = object()


def _cases():
    """(id, path, value, what the error must name)."""
    cases = [(f"drop-{k}", (k,), _DROP, k) for k in REQUIRED]
    cases += [(f"drop-config.{k}", ("config", k), _DROP, f"config.{k}") for k in CONFIG]
    for part, value in NESTED.items():
        item = value[0] if isinstance(value, list) else value
        at = (part, 0) if isinstance(value, list) else (part,)
        name = f"{part}[0]" if isinstance(value, list) else part
        for key in item:
            if key != "duration_ms":  # has a default
                cases.append((f"drop-{name}.{key}", (*at, key), _DROP, key))
    for model_key in ("name", "source", "weights", "weights_sha1"):
        cases.append((f"drop-model.{model_key}", ("model", model_key), _DROP, "model"))
    cases += [
        (f"drop-input.{k}", ("input", k), _DROP, "input") for k in ("path", "sha1")
    ]
    for name in [*REQUIRED, *(f"config.{k}" for k in CONFIG), *NESTED]:
        path = tuple(name.split("."))
        for kind, value in [*VALUES.items(), ("null", None)]:
            if kind == KINDS[name] or (kind == "null" and name in NULLABLE):
                continue
            cases.append((f"{name}={kind}", path, value, path[-1]))
    cases += [
        ("size-short", ("size",), [40], "size"),
        ("size-text", ("size",), ["40", 56], "size[0]"),
        ("priors-number", ("config", "priors"), [7], "config.priors[0]"),
        ("guides-number", ("guides",), [7], "guides[0]"),
        ("zoom-empty", ("zoom",), {}, "zoom"),
        ("zoom-frames-huge", ("zoom", "frames"), 10**12, "zoom frames"),
        ("zoom-frame-past-end", ("zoom", "frame"), 1, "zoom frame"),
        ("stop-negative", ("stop", "step"), -1, "stop"),
        ("config-empty", ("config",), {}, "config"),
        ("tiling-empty", ("tiling",), {}, "tiling"),
        ("tiling-text-tile", ("tiling",), {"tile": "x", "halo": "exact"}, "tiling"),
        ("batch-empty", ("batch",), {"x": 1}, "batch"),
        ("video-empty", ("video",), {"x": 1}, "video"),
        ("blas-list", ("blas",), [1], "blas"),
        ("whole-list", (), [1], "no inceptionism recipe"),
    ]
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def made(googlenet_h5, tmp_path_factory):
    """A real dream's picture and recipe."""
    import numpy as np
    from PIL import Image

    folder = tmp_path_factory.mktemp("made")
    photo, out = folder / "in.png", folder / "out.png"
    a = np.random.default_rng(2).integers(0, 256, size=(40, 56, 3)).astype(np.uint8)
    Image.fromarray(a).save(photo)
    argv = ["dream", photo, "-o", out, *FAST, "--max-size", "64"]
    assert main([str(x) for x in [*argv, "--weights", googlenet_h5]]) == 0
    return load_image(out), read_recipe(out)


@pytest.mark.parametrize(
    "path, value, names", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_damaged_recipe_is_one_line_naming_the_field(
    made, tmp_path, capsys, path, value, names
):
    pixels, recipe = made
    d = copy.deepcopy(recipe)
    if path and path[0] in NESTED and path[0] not in d:
        d[path[0]] = copy.deepcopy(NESTED[path[0]])
        if path[0] == "zoom":  # a zoom frame has no stop
            d.pop("stop", None)
    if path == ("stop",) or path[:1] == ("stop",):
        d.pop("zoom", None)
    if path:
        _set(d, path, value)
    else:
        d = value
    bad, out = tmp_path / "bad.png", tmp_path / "again.png"
    save_image(bad, pixels, recipe=d)
    capsys.readouterr()
    rc = main(["dream", "--replay", str(bad), "-o", str(out)])
    err = capsys.readouterr().err
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inceptionism: error: "), err
    assert not any(w in err for w in PYTHON_WORDS), err
    assert names in lines[0], lines[0]
    assert not out.exists()


def test_zoom_frames_has_an_upper_bound(googlenet_h5, picture, tmp_path, capsys):
    """``zoom --frames 1000000000000`` used to start dreaming them."""
    folder = tmp_path / "frames"
    argv = ["zoom", picture, "-o", folder, "--frames", "1000000000000"]
    assert main([str(a) for a in [*argv, "--weights", googlenet_h5]]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--frames must be an integer >= 1 and <= " in err
    assert not folder.exists()


VIDEO = {"flow": "off", "blend": 0.8, "steps_after": None, "cut_threshold": 0.3,
         "frames": 2, "fps": "25", "frame": 1, "restart": False,
         "previous": None, "motion": {}}  # fmt: skip


@pytest.mark.parametrize(
    "key, value, names",
    [
        ("blend", "x", "video.blend"),
        ("flow", 7, "video.flow"),
        ("steps_after", [1], "video.steps_after"),
        ("fps", _DROP, "video.fps"),
        ("fps", [25], "video.fps"),
        ("fps", "25/0", "video.fps"),
        ("frames", "2", "video.frames"),
        ("frame", 1.5, "video.frame"),
    ],
)
def test_damaged_video_frame_recipe_is_one_line(
    made, tmp_path, capsys, key, value, names
):
    """``video --replay`` read these fields unchecked ("'<=' not supported
    between instances of 'float' and 'str'")."""
    pytest.importorskip("av")
    pixels, recipe = made
    video = dict(VIDEO)
    _set(video, (key,), value)
    bad, out = tmp_path / "000001.png", tmp_path / "again.png"
    save_image(bad, pixels, recipe={**recipe, "video": video})
    capsys.readouterr()
    rc = main(["video", "--replay", str(bad), "-o", str(out)])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc != 0 and len(lines) == 1, err
    assert not any(w in err for w in PYTHON_WORDS), err
    assert "damaged recipe" in lines[0] and names in lines[0], lines[0]
    assert not out.exists()
