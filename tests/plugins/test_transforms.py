"""Transformation robustness: the warp's adjoint is its exact transpose and
its draws come from the dream's generator."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.plugins.spec import build
from inceptionism.plugins.transforms import Standard, Warp, make_transform
from tests.tolerances import tol

WARPS = {
    "identity": Warp((7, 9)),
    "shift": Warp((7, 9), (2, -3)),
    "scale-rotate": Warp((7, 9), (1, 0), 1.07, -8.0, (0, 2)),
    "shrink": Warp((7, 9), (0, 0), 0.9, 10.0),
}


@pytest.mark.parametrize("warp", list(WARPS.values()), ids=list(WARPS))
def test_adjoint_is_the_transpose(rng, warp):
    x = rng.standard_normal((2, 3, 7, 9))
    y = rng.standard_normal((2, 3, 7, 9))
    lhs = np.sum(warp.apply(x, 0.0) * y)
    rhs = np.sum(x * warp.adjoint(y))
    np.testing.assert_allclose(lhs, rhs, **tol(np.float64))


def test_identity_warp_is_exact(rng):
    x = rng.standard_normal((1, 3, 7, 9)).astype(np.float32)
    np.testing.assert_array_equal(WARPS["identity"].apply(x, 5.0), x)


def test_integer_shift_moves_content_and_fills_grey(rng):
    x = rng.standard_normal((1, 3, 7, 9))
    out = Warp((7, 9), (2, -3)).apply(x, fill=np.full((3, 1, 1), 7.0))
    np.testing.assert_allclose(out[..., 2:, :6], x[..., :5, 3:], **tol(np.float64))
    assert (out[..., :2, :] == 7.0).all() and (out[..., :, 6:] == 7.0).all()


@pytest.mark.parametrize("warp", list(WARPS.values()), ids=list(WARPS))
def test_constant_in_fill_out(warp):
    """The taps and the fill's share add up to one everywhere."""
    x = np.full((1, 3, 7, 9), 3.0)
    np.testing.assert_allclose(warp.apply(x, 3.0), x, **tol(np.float64))


def test_standard_draws_are_seeded_and_in_lucids_ranges():
    t = Standard()
    a = [t.draw(np.random.default_rng(4), (32, 32)) for _ in range(2)]
    assert a[0] == a[1]
    warps = [t.draw(np.random.default_rng(s), (32, 32)) for s in range(40)]
    assert all(0.9 <= w.scale <= 1.1 and abs(w.degrees) <= 10 for w in warps)
    assert all(max(map(abs, w.shift1)) <= 8 for w in warps)
    assert len({w.degrees for w in warps}) > 5  # it does draw


def test_transforms_are_plugins(pm):
    assert make_transform("", pm) is None and make_transform("none", pm) is None
    assert repr(make_transform("standard", pm)) == "standard"
    assert repr(build("transforms", "affine:4:0.05:3", pm)) == "affine:4:0.05:3"
    with pytest.raises(ValueError, match="degrees must be in"):
        build("transforms", "affine:4:0.05:500", pm)
