"""engine/blas.py: the BLAS thread count and kernels are recorded with each
CPU dream, and a replay runs with the recorded thread count."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from inceptionism.engine import blas, remake
from inceptionism.engine.image import load_image
from inceptionism.engine.recipe import Recipe, ReplayWarning
from inceptionism.plugins import hookimpl
from tests.engine.test_cli_dream import FAST
from tests.engine.test_recipe import _tamper

pytestmark = pytest.mark.skipif(
    blas.threads() is None, reason="NumPy's BLAS is not OpenBLAS here"
)


class _Threads:
    """Observer: the BLAS thread count at each step."""

    def __init__(self):
        self.seen = []

    @hookimpl
    def inceptionism_step_end(self, net, state, x, value):
        self.seen.append(blas.threads())


def test_pinned_sets_and_restores_the_thread_count():
    before = blas.threads()
    other = 1 if before != 1 else 2
    with blas.pinned(other):
        assert blas.threads() == other
    assert blas.threads() == before
    with blas.pinned(None):
        assert blas.threads() == before
    assert blas.describe() == {"threads": before, "core": blas.core()}
    assert isinstance(blas.core(), str) and blas.core()


def test_replay_runs_with_the_recorded_thread_count(
    run, picture, googlenet_h5, tmp_path
):
    out = tmp_path / "o.png"
    assert run("dream", picture, "-o", out, *FAST)[0] == 0
    made = Recipe.read(out).blas
    assert made == blas.describe()
    before = blas.threads()
    other = 1 if before != 1 else 2
    # made elsewhere with another thread count: the replay pins it
    fake = _tamper(out, tmp_path / "t.png", blas={**made, "threads": other})
    job = remake.prepare(Recipe.read(fake), str(fake), weights=googlenet_h5)
    spy = _Threads()
    again = remake.render(job, observers=[spy])
    assert spy.seen and set(spy.seen) == {other}
    assert blas.threads() == before  # restored
    # the same pixels: seed and thread count make the picture
    np.testing.assert_array_equal(
        np.rint(np.clip(again, 0, 255)).astype(np.uint8), load_image(out)
    )


def test_replay_on_other_kernels_warns_with_the_way_out(
    run, picture, googlenet_h5, tmp_path
):
    out = tmp_path / "o.png"
    assert run("dream", picture, "-o", out, *FAST)[0] == 0
    made = Recipe.read(out).blas
    fake = _tamper(out, tmp_path / "t.png", blas={**made, "core": "Nehalem"})
    with pytest.warns(ReplayWarning, match="OPENBLAS_CORETYPE=Nehalem"):
        remake.prepare(Recipe.read(fake), str(fake), weights=googlenet_h5)
    # a recipe from before this was recorded replays as it did
    old = dataclasses.replace(Recipe.read(out), blas=None)
    spy = _Threads()
    remake.render(remake.prepare(old, "old", weights=googlenet_h5), observers=[spy])
    assert set(spy.seen) == {blas.threads()}
