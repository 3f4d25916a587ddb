"""The dream loop's memory (issue 11): it holds only the picture-sized arrays
that :data:`~inceptionism.engine.tiling_budget.FULL_COPIES` counts, computes
the same bits as the plain formulas, and never writes into an array that a
caller, a plugin or an observer may still hold."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from inceptionism.engine.dream import dream
from inceptionism.engine.net import Net
from inceptionism.engine.resample import _align_corners, _interp_axis, zoom_in
from inceptionism.engine.tiling_budget import (
    FULL_COPIES,
    Tiling,
    choose_tile,
    parse_memory,
    step_bytes,
    tile_plans,
)
from inceptionism.plugins import hookimpl
from inceptionism.plugins.params import Pixel, step


@pytest.fixture(scope="module")
def net(googlenet):
    return Net(googlenet)


def test_8k_plans_tiles_in_3gb(net):
    """Issue 11: ``--memory 3GB`` at 7680x4320 cuts tiles instead of refusing,
    and the plan's estimate fits the budget."""
    budget = parse_memory("3GB")
    layers = [net.resolve("inception_4c/output")]
    tile = choose_tile(net, (4320, 7680), layers, Tiling(memory=budget), True)
    assert isinstance(tile, int) and 0 < tile < 4320
    assert step_bytes(net, (4320, 7680), layers, tile, True) <= budget
    base = np.empty((1, 3, 4320, 7680), np.float32)  # never touched: no pages
    (plan,) = tile_plans(net, [base], layers, Tiling(memory=budget), True)
    assert plan is not None and len(plan) > 1


def test_step_update_is_the_notebook_formula_bit_for_bit():
    """The update computed in ``|g|``'s buffer equals ``x + step / mean|g| *
    g`` exactly, and leaves ``x`` and ``g`` (the caller's) as they were."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 3, 37, 45)).astype(np.float32)
    g = rng.normal(size=x.shape).astype(np.float32)
    x_before, g_before = x.copy(), g.copy()
    got = step(Pixel(), x, g, 1.5)
    want = x + (1.5 / np.abs(g).mean()).astype(np.float32) * g
    assert got.tobytes() == want.tobytes()
    assert np.array_equal(x, x_before) and np.array_equal(g, g_before)
    assert got is not x and got is not g


def test_interpolation_is_the_plain_formula_bit_for_bit():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1, 3, 29, 41)).astype(np.float32)
    x_before = x.copy()
    coords = _align_corners(41, 57)
    i0 = np.minimum(np.floor(coords).astype(np.intp), 39)
    w1 = (coords - i0).astype(np.float32)
    a, b = x[..., i0], x[..., i0 + 1]
    assert _interp_axis(x, coords, 3).tobytes() == (a + (b - a) * w1).tobytes()
    assert np.array_equal(x, x_before)
    zoom_in(x, 0.05)
    assert np.array_equal(x, x_before)


def test_dream_never_writes_into_arrays_it_handed_out(net):
    """Observers keep every step's image; the lean loop's in-place updates
    must not reach them (nor the caller's picture)."""
    kept: list = []

    class Keep:
        @hookimpl
        def inceptionism_step_end(self, net, state, x, value):
            kept.append((x, x.copy()))

        @hookimpl
        def inceptionism_octave_end(self, net, state, x):
            kept.append((x, x.copy()))

    rgb = np.random.default_rng(5).uniform(0, 255, (60, 76, 3)).astype(np.float32)
    rgb_before = rgb.copy()
    dream(net, rgb, "deepdream:conv2/3x3", octaves=3, steps=2, seed=0,
          observers=[Keep()])  # fmt: skip
    assert len(kept) == 3 * 2 + 3
    assert all(np.array_equal(x, copy) for x, copy in kept)
    assert np.array_equal(rgb, rgb_before)


def _peak(net, hw, octaves):
    rgb = np.random.default_rng(0).uniform(0, 255, (*hw, 3)).astype(np.float32)
    tracemalloc.start()
    try:
        dream(net, rgb, "deepdream:conv1/7x7_s2", octaves=octaves, steps=1, seed=0,
              tiling=Tiling(tile=64))  # fmt: skip
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("octaves", [1, 4])
def test_the_loop_holds_what_the_budget_counts(net, octaves):
    """Peak traced bytes (NumPy reports its buffers to tracemalloc) over two
    picture sizes with the same small tiles: the growth per picture is the
    number of picture-sized arrays the dream holds at once. The caller's
    picture is made before tracing, so the loop's own share must stay under
    ``FULL_COPIES - 1`` (it was 7.6 with 1 octave before issue 11)."""
    small, large = (240, 320), (360, 480)
    pic = 3 * 4 * (large[0] * large[1] - small[0] * small[1])
    copies = (_peak(net, large, octaves) - _peak(net, small, octaves)) / pic
    assert 2 < copies <= FULL_COPIES - 1
