"""engine/resample.py against scipy.ndimage (the notebook's own calls)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as nd

from inceptionism.engine.resample import resize, zoom, zoom_in, zoom_size
from tests.tolerances import tol

# mode="nearest": inside the image it is the same order-1 interpolation as
# scipy's default "constant", but scipy computes the last align-corners
# coordinate as e.g. 15 * (31 / 15) = 31.000000000000004, which "constant"
# treats as outside and fills with 0 (a float artefact, not the notebook's
# intent); "nearest" clamps it like we do.
NEAREST = {"order": 1, "mode": "nearest"}

SHAPES = [(3, 17, 23), (3, 32, 32), (3, 9, 2), (1, 5, 40)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("factor", [1 / 1.4, 1.4, 0.5, 2.0, 1 / 3], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_zoom_matches_scipy(shape, factor, dtype, rng):
    x = rng.normal(size=shape).astype(dtype)
    want = nd.zoom(x, (1, factor, factor), **NEAREST)
    got = zoom(x, factor)
    assert got.dtype == x.dtype
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, **tol(dtype))


@pytest.mark.parametrize("src", [(13, 19), (14, 14), (3, 50)], ids=str)
@pytest.mark.parametrize("dst", [(18, 27), (10, 10), (1, 7), (2, 2)], ids=str)
def test_resize_matches_scipy_detail_zoom(src, dst, rng):
    # the notebook's detail carry-over: nd.zoom(detail, (1, h/h1, w/w1))
    x = rng.normal(size=(1, 3, *src)).astype(np.float64)
    want = nd.zoom(x, (1, 1, dst[0] / src[0], dst[1] / src[1]), **NEAREST)
    assert want.shape[-2:] == dst
    np.testing.assert_allclose(resize(x, dst), want, **tol(np.float64))


def test_resize_channels_last_axes(rng):
    x = rng.normal(size=(11, 7, 3))
    want = nd.zoom(x, (15 / 11, 4 / 7, 1), **NEAREST)
    np.testing.assert_allclose(resize(x, (15, 4), axes=(0, 1)), want, **tol(x.dtype))


def test_zoom_size_rounds_like_scipy():
    for n in range(1, 300):
        f = 1.0 / 1.4
        assert zoom_size(n, f) == nd.zoom(np.zeros((n, 1)), (f, 1), order=1).shape[0]


@pytest.mark.parametrize("shape", [(24, 31, 3), (2, 2, 3), (57, 40, 3)], ids=str)
@pytest.mark.parametrize("s", [0.05, 0.3], ids=str)
def test_zoom_in_matches_affine_transform(shape, s, rng):
    x = rng.uniform(0, 255, size=shape).astype(np.float32)
    h, w = shape[:2]
    want = nd.affine_transform(
        x, [1 - s, 1 - s, 1], [h * s / 2, w * s / 2, 0], **NEAREST
    )
    got = zoom_in(x, s, axes=(0, 1))
    assert got.shape == x.shape
    np.testing.assert_allclose(got, want, **tol(np.float32), err_msg=f"s={s}")


def test_bad_sizes_are_errors(rng):
    with pytest.raises(ValueError, match="empty size"):
        resize(np.zeros((3, 4, 4)), (0, 3))
    with pytest.raises(ValueError, match="must be in"):
        zoom_in(np.zeros((4, 4, 3)), 1.0, axes=(0, 1))


@pytest.mark.gpu
def test_runs_on_device(rng):
    import cupy as cp

    x = rng.normal(size=(1, 3, 21, 30)).astype(np.float32)
    got = zoom(cp.asarray(x), 1 / 1.4)
    assert isinstance(got, cp.ndarray)
    np.testing.assert_allclose(got.get(), zoom(x, 1 / 1.4), **tol(np.float32))
