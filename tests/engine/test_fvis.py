"""Feature visualisation in the dream loop: masks, transforms, batches,
the Fourier parameterisation, tiling, and the recipe that replays them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inceptionism.engine import Net, dream
from inceptionism.engine.recipe import Recipe
from inceptionism.engine.tiling_budget import Tiling
from inceptionism.plugins import hookimpl
from tests.tolerances import tol

LAYER = "conv2/3x3"
FAST = dict(objective=f"deepdream:{LAYER}", octaves=1, steps=3, seed=5)


@pytest.fixture(scope="module")
def net(googlenet):
    return Net(googlenet)


@pytest.fixture
def rgb():
    return np.random.default_rng(3).uniform(0, 255, (40, 56, 3)).astype(np.float32)


def _mask(path, left=0, right=255, hw=(40, 56)):
    """Black left half, white right half (soft step when ``left`` is grey)."""
    m = np.full(hw, right, np.uint8)
    m[:, : hw[1] // 2] = left
    Image.fromarray(m).save(path)
    return str(path)


@pytest.mark.parametrize("param", ["pixel", "fft"])
def test_update_mask_freezes_black_pixels(net, rgb, tmp_path, param):
    mask = _mask(tmp_path / "m.png")
    start = dream(net, rgb, **{**FAST, "steps": 0})  # the same pipeline, no step
    out = dream(net, rgb, **FAST, param=param, mask=mask, mask_mode="update")
    np.testing.assert_array_equal(out[:, :28], start[:, :28])
    assert np.abs(out[:, 28:] - start[:, 28:]).mean() > 1.0
    # two octaves: the detail carried up is interpolated across the edge only
    two = dream(net, rgb, **{**FAST, "octaves": 2}, mask=mask, mask_mode="update")
    np.testing.assert_array_equal(two[:, :24], start[:, :24])


def test_grey_update_mask_moves_pixels_part_way(net, rgb, tmp_path):
    """A step moves a pixel by the mask's grey level of its full step."""
    full = dream(net, rgb, **{**FAST, "steps": 1})
    start = dream(net, rgb, **{**FAST, "steps": 0})
    mask = _mask(tmp_path / "m.png", left=51, right=255)  # 0.2 and 1
    half = dream(net, rgb, **{**FAST, "steps": 1}, mask=mask, mask_mode="update")
    want = 0.2 * (full[:, :28] - start[:, :28])
    np.testing.assert_allclose(half[:, :28] - start[:, :28], want, atol=1e-3)
    np.testing.assert_allclose(half[:, 28:], full[:, 28:], atol=1e-3)


def test_objective_mask_weights_the_gradient(net, rgb, tmp_path):
    start = dream(net, rgb, **{**FAST, "steps": 0})
    black = _mask(tmp_path / "b.png", left=0, right=0)
    out = dream(net, rgb, **FAST, mask=black)
    np.testing.assert_array_equal(out, start)  # mask 0: gradient 0, no step
    half = dream(net, rgb, **FAST, mask=_mask(tmp_path / "h.png"), jitter=0)
    moved = np.abs(half - start).mean(axis=(0, 2))
    assert moved[:20].mean() < 0.2 * moved[36:].mean()


def test_per_term_mask_in_the_spec(net, rgb, tmp_path):
    mask = _mask(tmp_path / "m.png")
    spec = dict(FAST, objective=f"deepdream:{LAYER}@{mask}")
    a = dream(net, rgb, **spec)
    b = dream(net, rgb, **FAST, mask=mask)
    np.testing.assert_array_equal(a, b)


def test_transforms_are_seeded(net, rgb):
    kw = dict(FAST, transforms="standard")
    a, b = dream(net, rgb, **kw), dream(net, rgb, **kw)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - dream(net, rgb, **FAST)).max() > 1.0
    assert np.abs(a - dream(net, rgb, **{**kw, "seed": 6})).max() > 1.0


def test_a_batch_of_one_is_the_single_dream(net, rgb):
    single = dream(net, rgb, **FAST)
    batch = dream(net, rgb[None], **FAST)
    assert batch.shape == (1, *rgb.shape)
    np.testing.assert_allclose(batch[0], single, **tol(np.float32))


def test_diversity_pulls_a_batch_apart(net, rgb):
    """Identical twins are a saddle of diversity (their gradients agree), so
    the two pictures start 2 grey levels apart."""
    noise = np.random.default_rng(1).normal(0, 2, rgb.shape)
    twins = np.stack([rgb, np.clip(rgb + noise, 0, 255)]).astype(np.float32)
    kw = dict(FAST, jitter=0, steps=4)
    gap = np.abs(twins[0] - twins[1]).mean()
    plain = dream(net, twins, **kw)
    apart = dream(net, twins, **{**kw, "objective": f"diversity:{LAYER}"})
    assert np.abs(apart[0] - apart[1]).mean() > 2 * np.abs(plain[0] - plain[1]).mean()
    assert np.abs(apart[0] - apart[1]).mean() > 2 * gap
    with pytest.raises(ValueError, match="diversity compares the pictures of a b"):
        dream(net, rgb, **{**kw, "objective": f"channel:{LAYER}:1-diversity:{LAYER}"})


class _Tiles:
    def __init__(self):
        self.n_tiles: list[int] = []

    @hookimpl
    def inceptionism_tile_end(self, net, state):
        self.n_tiles.append(state.n_tiles)


def test_masked_tiled_dream_equals_untiled(googlenet, rgb, tmp_path):
    net64 = Net(googlenet, dtype=np.float64)
    kw = dict(FAST, octaves=2, octave_scale=1.3, mask=_mask(tmp_path / "m.png", 40),
              transforms="standard", mask_mode="both")  # fmt: skip
    plain = dream(net64, rgb, **kw)
    seen = _Tiles()
    tiled = dream(net64, rgb, **kw, tiling=Tiling(tile=24), observers=[seen])
    assert min(seen.n_tiles) > 1
    np.testing.assert_allclose(tiled, plain, rtol=1e-7, atol=1e-7)


def test_cli_records_and_replays_param_transforms_and_mask(run, run_fails, picture,
                                                           tmp_path):  # fmt: skip
    mask = _mask(tmp_path / "m.png")
    out, again = tmp_path / "out.png", tmp_path / "again.png"
    rc, _, err = run("dream", picture, "-o", out, "--layer", LAYER, "--octaves",
                     "2", "--steps", "2", "--seed", "4", "--param", "fft",
                     "--transforms", "standard", "--mask", mask, "--mask-mode",
                     "both", "--mask-blur", "1.5")  # fmt: skip
    assert rc == 0, err
    r = Recipe.read(out)
    assert (r.config.param, r.config.transforms) == ("fft", "standard")
    assert (r.config.mask, r.config.mask_mode, r.config.mask_blur) == (
        mask, "both", 1.5)  # fmt: skip
    assert [f.path for f in r.files] == [mask] and len(r.files[0].sha1) == 40
    assert run("dream", "--replay", out, "-o", again)[0] == 0
    np.testing.assert_array_equal(np.asarray(Image.open(again)),
                                  np.asarray(Image.open(out)))  # fmt: skip
    _mask(tmp_path / "m.png", left=255, right=0)
    run_fails("dream", "--replay", out, "-o", tmp_path / "x.png",
              match="is not the mask or vector file")  # fmt: skip


def test_plain_recipes_do_not_mention_feature_visualisation(run, picture, tmp_path):
    out = tmp_path / "out.png"
    assert run("dream", picture, "-o", out, "--layer", LAYER, "--octaves", "1",
               "--steps", "1")[0] == 0  # fmt: skip
    d = Recipe.read(out).to_dict()
    assert {"param", "transforms", "mask", "mask_mode"}.isdisjoint(d["config"])
    assert "files" not in d


def test_bad_settings_fail_before_dreaming(run_fails, picture, tmp_path):
    o = tmp_path / "o.png"
    run_fails("dream", picture, "-o", o, "--param", "fourier",
              match="unknown parameterisation 'fourier'")  # fmt: skip
    run_fails("dream", picture, "-o", o, "--transforms", "wobble",
              match="unknown transform 'wobble'")  # fmt: skip
    run_fails("dream", picture, "-o", o, "--mask", tmp_path / "no.png",
              match="no such mask image")  # fmt: skip
    missing = f"deepdream:{LAYER}@{tmp_path / 'no.png'}"
    run_fails("dream", picture, "-o", o, "--objective", missing,
              match="no such file")  # fmt: skip
    run_fails("dream", picture, "-o", o, "--mask-blur", "-1",
              match="mask blur must be in")  # fmt: skip


def test_mask_settings_without_a_mask_are_refused(run_fails, picture, tmp_path):
    """--mask-mode and --mask-blur shape a mask: without one they would be
    ignored, so they are refused (a per-term mask takes --mask-blur, but
    weights only its term's objective, never the update)."""
    o = tmp_path / "o.png"
    run_fails("dream", picture, "-o", o, "--mask-mode", "update",
              match="--mask-mode update weights the --mask")  # fmt: skip
    run_fails("dream", picture, "-o", o, "--mask-blur", "2",
              match="--mask-blur softens a mask")  # fmt: skip
    mask = tmp_path / "m.png"
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(mask)
    term = f"deepdream:{LAYER}@{mask}"
    run_fails("dream", picture, "-o", o, "--objective", term, "--mask-mode", "both",
              match="--mask-mode both weights the --mask")  # fmt: skip
    assert not o.exists()
