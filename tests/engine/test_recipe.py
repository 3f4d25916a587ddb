"""engine/recipe.py and engine/remake.py: every output replays pixel for pixel,
or the replay is refused in one sentence with a non-zero exit status.

Synthetic GoogLeNet weights, 56x40 pictures, a shallow layer, few steps.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image

from inceptionism.engine.cli import main
from inceptionism.engine.dream import DreamConfig
from inceptionism.engine.image import load_image, read_recipe, save_image
from inceptionism.engine.recipe import (
    FileRef,
    ModelRef,
    Recipe,
    ReplayError,
    Stop,
    Zoom,
    replay,
)
from inceptionism.plugins import hookimpl
from tests.engine.test_image import decode_png16

FAST = ["--layer", "conv2/3x3", "--octaves", "1", "--steps", "2", "--seed", "4"]


@pytest.fixture
def cli(capsys):
    def call(*argv):
        rc = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return rc, out, err

    return call


@pytest.fixture
def make(cli, googlenet_h5):
    """Run a command with the synthetic weights; it must succeed."""

    def call(*argv):
        rc, out, err = cli(*argv, "--weights", googlenet_h5)
        assert rc == 0, err
        return out

    return call


def refused(cli, *argv, match):
    """The command fails with one ``inceptionism: error:`` line."""
    rc, _, err = cli(*argv)
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inceptionism: error: "), err
    assert match in lines[0], lines[0]


def png16_pixels(path) -> np.ndarray:
    """The raw 16-bit RGB values of a PNG that engine/image.py wrote."""
    pixels = decode_png16(path.read_bytes())
    assert pixels.shape[2] == 3, "not a 16-bit RGB PNG"
    return pixels


def same_pixels(a, b):
    np.testing.assert_array_equal(load_image(a), load_image(b))


# -- the dataclass -----------------------------------------------------------


def _recipe(**changes) -> Recipe:
    r = Recipe(
        config=DreamConfig(objective="deepdream:conv2/3x3", seed=3, priors=("x",)),
        model=ModelRef("m", {"seed": 0}, "/w.h5", "a" * 40),
        input=FileRef("/in.png", "b" * 40),
        size=(40, 56),
        preprocess={"mean": [1.0, 2.0, 3.0]},
        guides=(FileRef("/g.png", "c" * 40),),
        zoom=Zoom(2, 5, 0.05),
        stop=Stop(1, 3),
        version="1.2.3",
    )
    return dataclasses.replace(r, **changes)


def test_round_trip_through_json():
    r = _recipe()
    back = Recipe.from_json(r.to_json())
    assert back == r
    d = json.loads(r.to_json())
    assert d["inceptionism"] == "1.2.3" and d["zoom"]["frame"] == 2
    assert d["guides"] == [{"path": "/g.png", "sha1": "c" * 40}]
    plain = _recipe(guides=(), zoom=None, stop=None)
    assert {"guides", "zoom", "stop", "tiling", "batch"}.isdisjoint(plain.to_dict())
    assert Recipe.from_dict(plain.to_dict()) == plain


def test_unknown_or_damaged_recipes_are_refused():
    d = _recipe().to_dict()
    with pytest.raises(ReplayError, match="records warp, which inceptionism"):
        Recipe.from_dict({**d, "warp": 1})
    del d["config"]
    with pytest.raises(ReplayError, match="incomplete or damaged recipe"):
        Recipe.from_dict(d)


# -- replays that reproduce ----------------------------------------------------


def test_dream_replays_from_python(make, picture, tmp_path):
    first, again = tmp_path / "first.png", tmp_path / "again.png"
    make("dream", picture, "-o", first, *FAST, "--prior", "smooth:0.5")
    rgb = replay(first, again)
    same_pixels(first, again)
    assert np.array_equal(np.rint(rgb).astype(np.uint8), np.asarray(Image.open(first)))
    assert read_recipe(again) == read_recipe(first)


class _Steps:
    """Counts the steps a replay dreams."""

    def __init__(self):
        self.steps = 0

    @hookimpl
    def inceptionism_step_end(self, net, state, x, value):
        self.steps += 1


def test_python_replay_checks_its_output_before_dreaming(make, picture, tmp_path):
    first, again = tmp_path / "first.png", tmp_path / "again.png"
    make("dream", picture, "-o", first, *FAST)
    seen = _Steps()
    (tmp_path / "d.png").mkdir()
    for bad, match in [
        (tmp_path / "again.txt", "write .png"),
        (first, "refusing to overwrite the input"),
        (picture, "refusing to overwrite the input"),
        (tmp_path / "d.png", "is a folder"),
    ]:
        with pytest.raises(ValueError, match=match):
            replay(first, bad, observers=[seen])
    assert seen.steps == 0 and not (tmp_path / "again.txt").exists()
    again.write_bytes(b"an older file")  # Python's writers replace a file
    replay(first, again, observers=[seen])
    assert seen.steps == 2
    same_pixels(first, again)


def test_zoom_frame_n_replays(cli, make, picture, tmp_path):
    folder = tmp_path / "z"
    make("zoom", picture, "-o", folder, "--frames", "3", "--scale", "0.1", *FAST)
    frame2 = folder / "frame-0002.png"
    r = Recipe.read(frame2)
    assert r.zoom == Zoom(frame=2, frames=3, scale=0.1)
    again = tmp_path / "again.png"
    rc, _, err = cli("dream", "--replay", frame2, "-o", again)
    assert rc == 0, err
    same_pixels(frame2, again)
    # frame 2 is not frame 0: what a replay that ignored the zoom would make
    assert not np.array_equal(load_image(folder / "frame-0000.png"), load_image(again))
    np.testing.assert_array_equal(
        np.rint(replay(folder / "frame-0001.png")),
        load_image(folder / "frame-0001.png"),
    )


def test_zoom_bits_16_writes_and_replays_16_bit_frames(cli, make, picture, tmp_path):
    folder = tmp_path / "z"
    make("zoom", picture, "-o", folder, "--frames", "2", "--bits", "16", *FAST)
    frame1 = folder / "frame-0001.png"
    pixels = png16_pixels(frame1)
    assert (pixels % 257).any()  # not 8-bit values scaled up
    again = tmp_path / "again.png"
    assert cli("dream", "--replay", frame1, "-o", again)[0] == 0
    np.testing.assert_array_equal(png16_pixels(again), pixels)
    assert Recipe.read(again).bits == 16


@pytest.mark.parametrize("ext", ["gif", "webp"])
def test_zoom_animation_carries_and_replays_its_recipe(
    cli, make, picture, tmp_path, ext
):
    folder = tmp_path / "z"
    make("zoom", picture, "-o", folder, "--frames", "2", f"--{ext}", *FAST)
    anim = folder / f"zoom.{ext}"
    assert Recipe.read(anim).zoom == Zoom(None, 2, 0.05, duration_ms=80)
    again = tmp_path / f"again.{ext}"
    assert cli("dream", "--replay", anim, "-o", again)[0] == 0
    with Image.open(anim) as a, Image.open(again) as b:
        assert a.n_frames == b.n_frames == 2
        for i in range(2):
            a.seek(i)
            b.seek(i)
            np.testing.assert_array_equal(
                np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))
            )


def test_guided_dream_replays_and_refuses_a_changed_guide(cli, make, picture, tmp_path):
    guide = tmp_path / "g.png"
    Image.new("RGB", (40, 40), (200, 30, 30)).save(guide)
    out, again = tmp_path / "g-out.png", tmp_path / "again.png"
    make("dream", picture, "-o", out, "--guide", guide, *FAST)
    assert Recipe.read(out).guides == (FileRef.of(guide),)
    assert cli("dream", "--replay", out, "-o", again)[0] == 0
    same_pixels(out, again)
    Image.new("RGB", (40, 40), (30, 30, 200)).save(guide)
    refused(
        cli, "dream", "--replay", out, "-o", tmp_path / "x.png",
        match=f"{guide} is not the guide image {out} was made from (its SHA-1 "
        "differs)",
    )  # fmt: skip
    guide.unlink()
    refused(cli, "dream", "--replay", out, match="guide image")
    with pytest.raises(ReplayError, match="which is missing"):
        replay(out)
    assert not (tmp_path / "x.png").exists()


def test_changed_input_is_refused(cli, make, picture, tmp_path):
    out = tmp_path / "o.png"
    make("dream", picture, "-o", out, *FAST)
    picture.write_bytes(picture.read_bytes() + b"\0")
    refused(
        cli, "dream", "--replay", out, "-o", tmp_path / "x.png",
        match=f"{picture} is not the image {out} was made from (its SHA-1 differs)",
    )  # fmt: skip
    picture.unlink()
    refused(cli, "dream", "--replay", out, match="which is missing; give the input")


def test_intermediates_carry_their_step_and_replay(cli, make, picture, tmp_path):
    out = tmp_path / "s.png"
    steps = ["--octaves", "2", "--octave-scale", "1.2", "--steps", "2"]
    make("dream", picture, "-o", out, *FAST[:2], *steps, "--save-every", "1")
    saved = sorted(tmp_path.glob("s-o*.png"))
    assert [p.name for p in saved] == [
        "s-o0-s000.png", "s-o0-s001.png", "s-o1-s000.png", "s-o1-s001.png",
    ]  # fmt: skip
    assert Recipe.read(saved[2]).stop == Stop(octave=1, step=0)
    images = [load_image(p) for p in saved]
    assert not np.array_equal(images[0], images[1])
    same_pixels(saved[3], out)  # the last step is the picture itself
    for path in saved[:3]:
        again = tmp_path / f"again-{path.name}"
        rc, _, err = cli("dream", "--replay", path, "-o", again)
        assert rc == 0, err
        same_pixels(path, again)


# -- recipes that cannot be replayed ---------------------------------------------


def _tamper(path, dest, **changes):
    """``dest``: the picture at ``path`` with its recipe changed."""
    r = dataclasses.replace(Recipe.read(path), **changes)
    save_image(dest, load_image(path), recipe=r.to_dict())
    return dest


def test_unreproducible_recipes_are_refused(cli, make, picture, tmp_path):
    out = tmp_path / "o.png"
    make("dream", picture, "-o", out, *FAST)
    r = Recipe.read(out)
    cases = {
        "seed": {"config": dataclasses.replace(r.config, seed=None)},
        "tiling": {"tiling": {"tile": 256, "halo": "seamless"}},
        "size": {"size": (20, 28)},
        "guide": {
            "config": dataclasses.replace(r.config, objective=f"guide:conv2/3x3:{out}")
        },
    }
    messages = {
        "seed": "records no seed",
        "tiling": "records tiling {'halo': 'seamless', 'tile': 256}, which",
        "size": "was dreamed at 28x20 but its input now loads at 56x40",
        "guide": "does not record the SHA-1 of its guide image",
    }
    for name, changes in cases.items():
        bad = _tamper(out, tmp_path / f"bad-{name}.png", **changes)
        refused(cli, "dream", "--replay", bad, "-o", tmp_path / "x.png",
                match=messages[name])  # fmt: skip
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("what", ["version", "weights"])
def test_other_version_or_weight_bytes_warn_in_one_line(
    cli, make, picture, tmp_path, what
):
    out = tmp_path / "o.png"
    make("dream", picture, "-o", out, *FAST)
    r = Recipe.read(out)
    if what == "version":
        old = _tamper(out, tmp_path / "old.png", version="0.0.1")
        want = f"{old} was made by inceptionism 0.0.1, this is {r.version}"
    else:
        model = dataclasses.replace(r.model, weights_sha1="0" * 40)
        old = _tamper(out, tmp_path / "old.png", model=model)
        want = f"is not byte for byte the weight file {old} was made with"
    again = tmp_path / "again.png"
    rc, _, err = cli("dream", "--replay", old, "-o", again)
    assert rc == 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inceptionism: warning: ")
    assert want in lines[0] and lines[0].endswith("; pixels may differ")
    same_pixels(out, again)
    assert read_recipe(again) == read_recipe(out)  # what the replay really used


def test_damaged_settings_are_refused():
    d = _recipe().to_dict()
    for key, value in [("mean", "notbook"), ("bits", 12), ("max_size", 0)]:
        with pytest.raises(ReplayError, match=f"damaged recipe.*{key}"):
            Recipe.from_dict({**d, key: value})


@pytest.mark.parametrize(
    "key, value",
    [("octaves", 10**9), ("steps", 10**7), ("jitter", 10**5), ("step_size", 1e7)],
)
def test_recipe_settings_beyond_the_command_line_ranges_are_refused(key, value):
    """A recipe with 10**9 octaves hung ``dream --replay`` (the command line
    refuses more than 10000, a recipe was not checked against that)."""
    d = _recipe().to_dict()
    with pytest.raises(ReplayError, match=rf"damaged recipe.*{key.replace('_', ' ')}"):
        Recipe.from_dict({**d, "config": {**d["config"], key: value}})
