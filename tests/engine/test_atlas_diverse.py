"""``atlas --channels LAYER --diverse N``: N different pictures of each
channel, dreamed together with ``channel + W * diversity`` (lucid's way),
one row per channel, cached per (..., N, W)."""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest

from inceptionism.engine import atlas_channels as ac
from inceptionism.engine import atlas_diverse as ad
from inceptionism.engine.dream import DreamConfig, run
from inceptionism.engine.image import load_image, read_recipe
from inceptionism.engine.net import Net
from inceptionism.plugins.fvis import Diversity
from inceptionism.weights.files import sha1_file
from tests.engine.test_cli_dream import cli, fails

LAYER = "conv2/3x3_reduce"
# diversity has to break the symmetry of near-identical starts: 5 steps
SLOW_ENOUGH = ["--octaves", "2", "--steps", "5", "--size", "40", "--cell", "40"]
CONFIG = DreamConfig(octaves=2, steps=5, seed=0)


@pytest.fixture
def home(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("INCEPTIONISM_HOME", str(path))
    return path


def spread(images) -> float:
    """Mean absolute pixel difference (0..255) over the pairs of pictures."""
    pairs = itertools.combinations([np.asarray(i, np.float64) for i in images], 2)
    return float(np.mean([np.abs(a - b).mean() for a, b in pairs]))


def similarity(net, images) -> float:
    """lucid's measure: mean cosine similarity of the pictures' Gram
    matrices at LAYER (1: the same style of features)."""
    x = np.concatenate([net.preprocess(np.float32(i)) for i in images])
    value, _ = Diversity(LAYER)(net.forward(x, end=LAYER))
    return -float(value) / (len(images) - 1)


def where(sheet: np.ndarray, image: np.ndarray) -> tuple[int, int]:
    """The (y, x) of the one place ``image`` sits unscaled in ``sheet``."""
    h, w = image.shape[:2]
    rows = np.lib.stride_tricks.sliding_window_view(sheet, (h, w, 3))[..., 0, :, :, :]
    hits = np.argwhere((rows == image).all(axis=(2, 3, 4)))
    assert len(hits) == 1, f"found {len(hits)} times"
    return int(hits[0][0]), int(hits[0][1])


def test_diverse_rows_differ_and_come_from_the_cache(
    capsys, monkeypatch, home, googlenet, googlenet_h5, tmp_path
):
    args = ["atlas", "--channels", LAYER, "--range", "1:3", "--weights", googlenet_h5]
    div = tmp_path / "div.png"
    rc, _, err = cli(
        capsys, *args, "-o", div, *SLOW_ENOUGH, "--diverse", "3",
        "--diversity-weight", "300",
    )  # fmt: skip
    assert rc == 0, err
    assert "3 diverse pictures each, 2 to render" in err
    assert "2 rendered, 0 from the cache" in err
    assert len(list((home / "channels").glob("*.png"))) == 2  # a strip a channel
    recipe = read_recipe(div)["atlas"]
    assert (recipe["diverse"], recipe["diversity_weight"]) == (3, 300.0)
    assert recipe["channels"] == [1, 2]

    # the same batches without the diversity term: another cache entry
    same = tmp_path / "w0.png"
    rc, _, err = cli(
        capsys, *args, "-o", same, *SLOW_ENOUGH, "--diverse", "3",
        "--diversity-weight", "0",
    )  # fmt: skip
    assert rc == 0 and "2 rendered, 0 from the cache" in err, err

    net, sha1 = Net(googlenet), sha1_file(googlenet_h5)
    with_d = ad.render(net, sha1, LAYER, [1, 2], CONFIG, 40, 3, 300.0)
    without = ad.render(net, sha1, LAYER, [1, 2], CONFIG, 40, 3, 0.0)
    assert (with_d.cached, without.cached) == (2, 2)  # the CLI's renders
    for c in range(2):
        d, z = with_d.images[3 * c : 3 * c + 3], without.images[3 * c : 3 * c + 3]
        assert similarity(net, d) < similarity(net, z) - 0.1
        assert spread(d) > 1.2 * spread(z)

    # one row per channel, N cells in it, in order
    sheet = np.asarray(load_image(div))
    spots = [where(sheet, im.astype(np.uint8)) for im in with_d.images]
    assert [y for y, _ in spots[:3]] == [spots[0][0]] * 3
    assert [y for y, _ in spots[3:]] == [spots[3][0]] * 3
    assert spots[3][0] > spots[0][0]
    assert spots[0][1] < spots[1][1] < spots[2][1] and spots[3][1] == spots[0][1]

    def no_dreaming(*a, **k):
        raise AssertionError("the second run dreamed")

    monkeypatch.setattr(sys.modules["inceptionism.engine.dream"], "run", no_dreaming)
    again = tmp_path / "again.png"
    rc, _, err = cli(
        capsys, *args, "-o", again, *SLOW_ENOUGH, "--diverse", "3",
        "--diversity-weight", "300",
    )  # fmt: skip
    assert rc == 0 and "0 rendered, 2 from the cache" in err, err
    np.testing.assert_array_equal(load_image(again), sheet)
    py = ac.channel_sheet(  # the Python API: the same sheet, from the cache
        tmp_path / "py.png",
        LAYER,
        weights=googlenet_h5,
        channels=[1, 2],
        config=CONFIG,
        size=40,
        cell=40,
        diverse=3,
        diversity_weight=300,
    )
    np.testing.assert_array_equal(load_image(py), sheet)
    # a single render of the channel is not a diverse one
    rc, _, err = cli(capsys, *args, "-o", tmp_path / "one.png", *SLOW_ENOUGH)
    assert rc == 1 and "error: the second run dreamed" in err

    # replay: refused with the way out, for the sheet and a cached strip
    for made in (div, next((home / "channels").glob("*.png"))):
        fails(
            capsys, "dream", "--replay", made, "-o", tmp_path / "r.png",
            match="diverse pictures of conv2/3x3_reduce dreamed together",
        )  # fmt: skip


def test_a_diverse_render_is_one_batched_dream(googlenet, tmp_path):
    net = Net(googlenet)
    base = DreamConfig(octaves=1, steps=2, seed=3)
    got = ad.render(net, "w", LAYER, [4], base, 32, 2, 50.0, root=tmp_path)
    starts = ad.noises(32, 3, 2)
    np.testing.assert_array_equal(starts[0], ac.noise(32, 3))  # single's start
    config = ad.diverse_config(base, LAYER, 4, 50.0)
    assert config.objective == f"channel:{LAYER}:4+50*diversity:{LAYER}"
    want = run(net, starts, config)
    for a, b in zip(got.images, want):
        np.testing.assert_array_equal(a, np.clip(np.rint(b), 0, 255))


def test_shared_cache_paths_keep_the_old_keys(googlenet, tmp_path):
    """Plain and diverse renders share atlas_channels' path code; their keys
    are still exactly ``cache_key`` of the config and extras each used to
    pass, so renders cached before stay found."""
    net = Net(googlenet)
    base = DreamConfig(octaves=2, steps=5, seed=7)
    mean = [float(m) for m in googlenet.preprocess["mean"]]

    def old_path(config, extra=None):
        key = ac.cache_key(net.model.name, "sha", LAYER, 4, config, 40, mean, extra)
        return ac.cache_path(key, tmp_path)

    plain = old_path(ac.channel_config(base, LAYER, 4))
    diverse = old_path(
        ad.diverse_config(base, LAYER, 4, 12.5),
        {"diverse": 3, "diversity_weight": 12.5},
    )
    assert plain != diverse
    assert ac._path(net, "sha", LAYER, 4, base, 40, tmp_path) == plain
    variant = ad.cache_variant(3, 12.5)
    assert ac._path(net, "sha", LAYER, 4, base, 40, tmp_path, *variant) == diverse
    # the public counts look exactly there
    plain.parent.mkdir(parents=True)
    plain.write_bytes(b"")
    args = (net, "sha", LAYER, [4, 5], base, 40)
    assert ac.cached_count(*args, root=tmp_path) == 1
    assert ad.cached_count(*args, 3, 12.5, root=tmp_path) == 0
    diverse.write_bytes(b"")
    assert ad.cached_count(*args, 3, 12.5, root=tmp_path) == 1


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--diverse", "1"], "--diverse 1: diversity compares the pictures"),
        (["--diverse", "0"], "give 2 or more"),
        (["--diverse", "2", "--diversity-weight", "-1"], "give a number >= 0"),
        (["--diverse", "2", "--diversity-weight", "nan"], "give a number >= 0"),
        (["--diversity-weight", "5"], "give --diverse"),
        (["--diverse", "2", "--columns", "4"], "drop --columns"),
        (["--diverse", "2", "--tile", "64"], "drop --tile"),
    ],
    ids=["one", "zero", "negative", "nan", "weight-alone", "columns", "tile"],
)
def test_bad_diverse_refused_before_work(
    capsys, home, googlenet_h5, tmp_path, extra, match
):
    out = tmp_path / "s.png"
    argv = ["atlas", "--channels", LAYER, "-o", out, "--weights", googlenet_h5]
    fails(capsys, *argv, *SLOW_ENOUGH, *extra, match=match)
    assert not out.exists() and not home.exists()


def test_diverse_needs_channels(capsys, picture, tmp_path):
    fails(
        capsys, "atlas", picture, "-o", tmp_path / "a.png", "--diverse", "3",
        match="--diverse N renders channels; give --channels LAYER",
    )  # fmt: skip
    with pytest.raises(ValueError, match="give 2 or more"):
        ac.channel_sheet(tmp_path / "p.png", LAYER, diverse=1)
