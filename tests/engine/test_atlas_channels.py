"""``inceptionism atlas --channels LAYER``: a layer's channels from noise, a
labelled grid, cached per (model, weights, layer, channel, settings)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from inceptionism.engine import atlas_channels as ac
from inceptionism.engine.dream import DreamConfig, run
from inceptionism.engine.image import load_image, read_recipe
from inceptionism.engine.net import Net
from inceptionism.plugins import hookimpl
from inceptionism.weights.files import sha1_file
from tests.engine.test_cli_dream import cli, fails

LAYER = "conv2/3x3_reduce"
FAST = ["--octaves", "2", "--steps", "2", "--size", "40"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("INCEPTIONISM_HOME", str(path))
    return path


def test_second_sheet_dreams_nothing(capsys, monkeypatch, home, googlenet_h5, tmp_path):
    args = ["atlas", "--channels", LAYER, "--range", "2:5", "--weights", googlenet_h5]
    first = tmp_path / "one.png"
    rc, stdout, err = cli(capsys, *args, "-o", first, *FAST)
    assert rc == 0, err
    assert f"atlas: 3 channels of {LAYER} (" in err
    assert "3 rendered, 0 from the cache" in err
    assert len(list((home / "channels").glob("*.png"))) == 3
    recipe = read_recipe(first)["atlas"]
    assert recipe["kind"] == "channels" and recipe["channels"] == [2, 3, 4]
    assert recipe["weights_sha1"] == sha1_file(googlenet_h5)

    def no_dreaming(*a, **k):
        raise AssertionError("the second run dreamed")

    monkeypatch.setattr(sys.modules["inceptionism.engine.dream"], "run", no_dreaming)
    second = tmp_path / "two.png"
    rc, _, err = cli(capsys, *args, "-o", second, *FAST)
    assert rc == 0, err
    assert "0 rendered, 3 from the cache" in err
    np.testing.assert_array_equal(load_image(first), load_image(second))
    py = ac.channel_sheet(  # the Python API: the same sheet, from the cache too
        tmp_path / "py.png",
        LAYER,
        weights=googlenet_h5,
        channels=[2, 3, 4],
        config=DreamConfig(octaves=2, steps=2, seed=0),
        size=40,
    )
    np.testing.assert_array_equal(load_image(py), load_image(first))
    # other settings are other renders
    rc, _, err = cli(capsys, *args, "-o", tmp_path / "3.png", *FAST, "--seed", "1")
    assert rc == 1 and "3 to render, 0 cached" in err
    assert "error: the second run dreamed" in err


def test_a_cached_channel_is_the_seeded_dream_of_noise(googlenet, home):
    """The render of channel K is ``run`` on dream.ipynb's noise with the
    objective ``channel:LAYER:K``: the same alone and within a sheet."""
    net = Net(googlenet)
    base = DreamConfig(octaves=2, steps=2, seed=5)
    got = ac.render(net, "w", LAYER, [7, 1], base, 40)
    assert (got.rendered, got.cached) == (2, 0)
    start = np.random.default_rng(5).uniform(size=(40, 40, 3)) + 100.0
    want = run(net, start.astype(np.float32), ac.channel_config(base, LAYER, 1))
    np.testing.assert_array_equal(got.images[1], np.clip(np.rint(want), 0, 255))
    assert not np.array_equal(got.images[0], got.images[1])  # channels differ
    again = ac.render(net, "w", LAYER, [1], base, 40)
    assert (again.rendered, again.cached) == (0, 1)
    np.testing.assert_array_equal(again.images[0], got.images[1])
    other = ac.render(net, "other weights", LAYER, [1], base, 40)
    assert other.rendered == 1  # the weights' SHA-1 is in the key


def test_top_channels_by_mean_activation(
    capsys, home, googlenet, googlenet_h5, picture, tmp_path
):
    out = tmp_path / "top.png"
    rc, _, err = cli(
        capsys,
        "atlas",
        picture,
        "--channels",
        LAYER,
        "--top",
        "4",
        "-o",
        out,
        "--weights",
        googlenet_h5,
        *FAST,
    )
    assert rc == 0, err
    net = Net(googlenet)
    rgb = load_image(picture)
    a = net.forward(net.preprocess(rgb), end=LAYER)[LAYER][0]
    means = a.reshape(a.shape[0], -1).mean(axis=1)
    want = sorted(range(len(means)), key=lambda c: -means[c])[:4]
    assert read_recipe(out)["atlas"]["channels"] == want


class _Tiles:
    n = 0

    @hookimpl
    def inceptionism_tile_end(self, net, state):
        self.n += 1


def test_tiled_channel_render_matches_untiled(googlenet, tmp_path):
    from inceptionism.engine.tiling_budget import Tiling

    net = Net(googlenet)
    base = DreamConfig(octaves=1, steps=2, seed=0)
    plain = ac.render(net, "w", LAYER, [3], base, 64, root=tmp_path / "a")
    tiles = _Tiles()
    tiled = ac.render(
        net,
        "w",
        LAYER,
        [3],
        base,
        64,
        root=tmp_path / "b",
        tiling=Tiling(tile=32),
        observers=[tiles],
    )
    assert tiles.n > 2  # it did cut tiles
    diff = np.abs(tiled.images[0].astype(int) - plain.images[0].astype(int))
    assert diff.max() <= 1  # equal to float rounding (8-bit PNGs)


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--top", "3"], "--top K ranks channels by their activation"),
        (["--range", "9:3"], "--range 9:3 selects no channel of the 64"),
        (["--range", "x"], "--range x: write A:B"),
        (["--range", "60:70"], "--range 60:70 goes past the 64 channels"),
        (["--range", "0:65"], "--range 0:65 goes past the 64 channels"),
        (["--range=-65:"], "--range -65: goes past the 64 channels"),
        (["--sample", "--top", "65"], "--top 65: the layer has 64 channels"),
        (["--channels", "prob"], "prob has no channels"),
        (["--scheduler", "local:0"], "N must be a whole number >= 1"),
        # was numpy's "Unable to allocate 2.13 PiB" for the noise picture
        (["--size", "100000"], "give a smaller --size"),
        (["--bits", "16"], "--bits 16: channel renders are 8-bit"),
        (["--tile-halo", "auto"], "channel renders take the exact halo"),
        (["--sample", "--range", "0:2"], "a picture only ranks channels (--top K)"),
        (
            ["--channels", "loss3/classifier", "--size", "224"],
            "loss3/classifier is (1, 1000): no channel maps to render",
        ),
        (  # at a size its weights do not take, still flat, not "too small"
            ["--channels", "loss3/classifier", "--size", "300"],
            "loss3/classifier is (1, 1000): no channel maps to render",
        ),
    ],
    ids=[
        "top-without-picture",
        "empty-range",
        "bad-range",
        "range-past-the-end",
        "range-end-past-the-end",
        "range-start-before-the-start",
        "top-more-than-channels",
        "no-channels",
        "bad-scheduler",
        "huge-size",
        "bits",
        "halo",
        "picture-without-top",
        "classifier",
        "classifier-at-300",
    ],
)
def test_bad_channel_sheets_refused(capsys, home, googlenet_h5, tmp_path, extra, match):
    out = tmp_path / "s.png"
    fails(
        capsys,
        "atlas",
        "--channels",
        LAYER,
        "-o",
        out,
        "--weights",
        googlenet_h5,
        *FAST,
        *extra,
        match=match,
    )
    assert not out.exists() and not home.exists()


@pytest.mark.gpu
def test_channel_render_on_the_gpu_matches_the_cpu(googlenet, tmp_path):
    base = DreamConfig(octaves=2, steps=3, seed=0)
    cpu = ac.render(Net(googlenet), "w", LAYER, [0, 5], base, 48, root=tmp_path / "c")
    gpu = ac.render(
        Net(googlenet, device="cuda"), "w", LAYER, [0, 5], base, 48, root=tmp_path / "g"
    )
    for a, b in zip(cpu.images, gpu.images):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 2


def test_feature_visualisation_options_reach_every_channel(
    capsys, home, googlenet_h5, tmp_path
):
    """A new dream option (here --param fft --transforms standard) reaches
    the channel renders, their cache key and the sheet's caption unasked."""
    args = [
        "atlas",
        "--channels",
        LAYER,
        "--range",
        "0:2",
        "--weights",
        googlenet_h5,
        *FAST,
    ]
    rc, _, err = cli(capsys, *args, "-o", tmp_path / "p.png")
    assert rc == 0 and "2 rendered" in err, err
    out = tmp_path / "f.png"
    rc, _, err = cli(
        capsys, *args, "-o", out, "--param", "fft", "--transforms", "standard"
    )
    assert rc == 0 and "2 rendered, 0 from the cache" in err, err
    config = read_recipe(out)["atlas"]["config"]
    assert (config["param"], config["transforms"]) == ("fft", "standard")
    assert not np.array_equal(load_image(out), load_image(tmp_path / "p.png"))


def test_one_channel_is_counted_in_the_singular(capsys, home, googlenet_h5, tmp_path):
    args = ["atlas", "--channels", LAYER, "--range", "1:2", "--weights", googlenet_h5]
    rc, _, err = cli(capsys, *args, "-o", tmp_path / "1.png", *FAST)
    assert rc == 0, err
    assert f"atlas: 1 channel of {LAYER} (" in err


def test_more_columns_than_channels(capsys, home, googlenet_h5, tmp_path):
    """--columns above the channel count lays them out in one row (a huge
    --columns overflowed Pillow after the renders: "signed integer is
    greater than maximum")."""
    args = ["atlas", "--channels", LAYER, "--range", "1:3", "--weights", googlenet_h5]
    rc, _, err = cli(capsys, *args, "-o", tmp_path / "2.png", *FAST, "--columns", "2")
    assert rc == 0, err
    rc, _, err = cli(capsys, *args, "-o", tmp_path / "n.png", *FAST,
                     "--columns", str(10**8))  # fmt: skip
    assert rc == 0, err
    assert load_image(tmp_path / "n.png").shape == load_image(tmp_path / "2.png").shape


def test_unusable_cache_is_refused_before_rendering(
    capsys, home, googlenet_h5, tmp_path
):
    """INCEPTIONISM_HOME a file: was "[Errno 20] Not a directory" after the
    first channel was rendered."""
    home.write_bytes(b"not a folder")
    out = tmp_path / "s.png"
    fails(capsys, "atlas", "--channels", LAYER, "--range", "0:1", "-o", out,
          "--weights", googlenet_h5, *FAST, match="set INCEPTIONISM_HOME")  # fmt: skip
    assert not out.exists()


def test_cache_key_follows_the_mask_files_content(tmp_path):
    """A render's key holds the SHA-1 of its --mask (a path alone would serve
    the old render after the mask was redrawn in place); renders without
    files keep the key they had."""
    from PIL import Image

    mask = tmp_path / "m.png"
    a = np.zeros((8, 8), np.uint8)
    a[:, 4:] = 255
    Image.fromarray(a).save(mask)

    def key(config):
        return ac.cache_key("m", "w", LAYER, 3, config, 40, [1.0, 2.0, 3.0])

    plain = DreamConfig(seed=0)
    masked = DreamConfig(seed=0, mask=str(mask))
    first = key(masked)
    assert first == key(masked) and first != key(plain)
    Image.fromarray(255 - a).save(mask)  # redrawn, same path
    assert key(masked) != first
