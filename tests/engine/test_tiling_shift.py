"""Approximate halos move their tiles every step (engine/tiling_budget.py
``Shifting``): seams average out, replay stays exact, the exact halo is
untouched."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.engine import tiling
from inceptionism.engine.dream import dream
from inceptionism.engine.net import Net
from inceptionism.engine.tiling_budget import Shifting, Tiling, tile_plans
from inceptionism.plugins import get_plugin_manager
from inceptionism.plugins.spec import parse_objective
from tests.engine.seams import normalised_error, seam
from tests.tolerances import tol

LAYER = "inception_3a/output"  # stride 8, reach 28 px: the auto halo is 14
SMALL = "conv2/norm2"  # stride 4, reach 8 px: cheap


@pytest.fixture(scope="module")
def net64(googlenet):
    return Net(googlenet, dtype=np.float64)


def _gradient(net, x, obj, tiles=None):
    if tiles is not None:
        return tiling.tiled_gradient(net, x, obj, tiles)[1]
    blobs = net.forward(x, end=list(obj.layers))
    return net.backward(obj(blobs)[1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shifted_tiles_share_the_blob_once(net64, seed):
    """Whatever the offsets, each position of the objective's blob belongs
    to exactly one tile, and tile edges stay on the stride."""
    hw = (157, 203)
    plan = Shifting(net64.graph, hw, [LAYER], 64, 14)
    blob = net64.shapes(hw)[LAYER][2:]
    rng = np.random.default_rng(seed)
    shifts = set()
    for _ in range(5):
        tiles = plan.draw(rng)
        cover = np.zeros(blob, int)
        for t in tiles:
            (y0, _), (x0, _) = t.interior
            assert y0 % 8 == 0 and x0 % 8 == 0
            (i0, i1), (j0, j1) = t.shares[LAYER]
            cover[i0:i1, j0:j1] += 1
        shifts.add(tuple(t.interior for t in tiles))
        assert (cover == 1).all()
    assert len(shifts) > 1  # they do move


def test_moving_tiles_hide_the_seams(googlenet):
    """Over eight jittered steps the worst row/column of the accumulated
    gradient error (tests/engine/seams.py) is lower when the tiles move
    each step than when they stay put. At conv2/norm2 (stride 4, reach 8,
    half-reach halo 4), 64-px tiles, jitter 2 px (as 32 px against 1024):
    measured in float64: fixed 0.19, moving 0.10 (one step: 0.42, 0.49)."""
    net = Net(googlenet)
    layer, hw, tile, halo, jitter = "conv2/norm2", (128, 160), 64, 4, 2
    obj = parse_objective(f"deepdream:{layer}", get_plugin_manager())
    obj.bind(net)
    x0 = np.random.default_rng(1).normal(0.0, 40.0, (1, 3, *hw)).astype(np.float32)
    fixed = tiling.plan(net.graph, hw, [layer], tile, halo)
    moving = Shifting(net.graph, hw, [layer], tile, halo)
    rng = np.random.default_rng(3)
    errors: dict = {"fixed": [], "moving": []}
    for _ in range(8):
        oy, ox = (int(v) for v in rng.integers(-jitter, jitter + 1, 2))
        x = np.roll(x0, (oy, ox), (-2, -1))
        g = _gradient(net, x, obj)
        for name, tiles in (("fixed", fixed), ("moving", moving.draw(rng))):
            e = normalised_error(_gradient(net, x, obj, tiles), g)
            errors[name].append(np.roll(e, (-oy, -ox), (-2, -1)))
    fixed_seam, moving_seam = seam(errors["fixed"]), seam(errors["moving"])
    assert moving_seam < 0.7 * fixed_seam, (fixed_seam, moving_seam)
    assert moving_seam > 0.01  # still approximate


def test_exact_halo_keeps_fixed_tiles(googlenet):
    """The exact halo never draws offsets: plans are plain tile lists, and a
    seeded dream equals the untiled one (the generator is not touched)."""
    net = Net(googlenet, dtype=np.float64)
    rgb = np.random.default_rng(4).uniform(0, 255, (60, 76, 3)).astype(np.float32)
    base = net.preprocess(rgb)
    plans = tile_plans(net, [base], [SMALL], Tiling(tile=24), True)
    assert isinstance(plans[0], list) and len(plans[0]) > 1
    shifting = tile_plans(net, [base], [SMALL], Tiling(tile=24, halo="auto"), True)
    assert isinstance(shifting[0], Shifting)
    kw = dict(objective=f"deepdream:{SMALL}", octaves=1, steps=3, seed=5, jitter=4)
    plain = dream(net, rgb, **kw)
    exact = dream(net, rgb, tiling=Tiling(tile=24), **kw)
    scale = np.abs(plain).max()
    np.testing.assert_allclose(exact / scale, plain / scale, **tol(np.float64))


def test_moving_tiles_replay_exactly(googlenet):
    """Offsets come from the dream's seeded generator: the same seed gives
    the same picture, another seed another one."""
    net = Net(googlenet)
    rgb = np.random.default_rng(4).uniform(0, 255, (60, 76, 3)).astype(np.float32)
    kw = dict(objective=f"deepdream:{SMALL}", octaves=1, steps=2, jitter=4)
    approx = Tiling(tile=24, halo="auto")
    a = dream(net, rgb, seed=5, tiling=approx, **kw)
    b = dream(net, rgb, seed=5, tiling=approx, **kw)
    c = dream(net, rgb, seed=6, tiling=approx, **kw)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
