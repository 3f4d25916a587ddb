"""Built-in image priors: jitter, clip, smooth, lapnorm, decorrelate."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.plugins.base import StepState
from inceptionism.plugins.priors import (
    Clip,
    Decorrelate,
    Jitter,
    LapNorm,
    Smooth,
    _down,
    _up,
    gaussian_kernel,
    lap_merge,
    lap_normalize,
    lap_split,
    lap_split_n,
    normalize_std,
)
from tests.tolerances import tol

MEAN = np.array([104.0, 116.0, 122.0])


def state(seed=0, mean=MEAN, scale=255.0):
    return StepState(
        octave=0,
        n_octaves=1,
        step=0,
        n_steps=1,
        rng=np.random.default_rng(seed),
        mean=mean,
        scale=scale,
    )


# -- jitter ------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 32])
def test_jitter_draws_like_the_notebook_and_undoes_itself(n, rng):
    x = rng.standard_normal((1, 3, 5, 7))
    s = state(seed=3)
    twin = np.random.default_rng(3)
    prior = Jitter(str(n))
    for _ in range(4):
        ox, oy = twin.integers(-n, n + 1, 2)  # np.random.randint(-j, j+1, 2)
        shifted = prior.before_step(x, s)
        np.testing.assert_array_equal(shifted, np.roll(np.roll(x, ox, -1), oy, -2))
        np.testing.assert_array_equal(prior.after_step(shifted, s), x)
    assert s.extras == {}  # nothing left behind between steps


def test_jitter_unrolls_the_update_made_in_shifted_coordinates(rng):
    x = rng.standard_normal((1, 3, 6, 6))
    s = state(seed=1)
    prior = Jitter(3)
    shifted = prior.before_step(x, s)
    update = rng.standard_normal(x.shape)
    out = prior.after_step(shifted + update, s)
    ox, oy = np.random.default_rng(1).integers(-3, 4, 2)
    unrolled = np.roll(np.roll(update, -ox, -1), -oy, -2)
    np.testing.assert_allclose(out, x + unrolled, **tol(np.float64))


def test_two_jitters_keep_separate_shifts(rng):
    x = rng.standard_normal((1, 3, 5, 5))
    s = state(seed=2)
    a, b = Jitter(2), Jitter(2)
    y = b.before_step(a.before_step(x, s), s)
    np.testing.assert_array_equal(a.after_step(b.after_step(y, s), s), x)


# -- clip --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_to_the_valid_pixel_range(dtype, rng):
    x = (rng.standard_normal((1, 3, 8, 8)) * 200).astype(dtype)
    out = Clip().after_step(x, state())
    assert out.dtype == dtype
    lo = (-MEAN).reshape(3, 1, 1)
    hi = (255.0 - MEAN).reshape(3, 1, 1)
    assert (out >= lo.astype(dtype)).all() and (out <= hi.astype(dtype)).all()
    inside = (x >= lo) & (x <= hi)
    np.testing.assert_array_equal(out[inside], x[inside])
    assert (out[~inside] != x[~inside]).all()  # each out-of-range value moved
    np.testing.assert_array_equal(
        out[0, 2], np.clip(x[0, 2], dtype(-122.0), dtype(133.0))
    )


def test_clip_uses_the_states_scale(rng):
    x = rng.standard_normal((1, 3, 4, 4)) * 5
    out = Clip().after_step(x, state(mean=np.zeros(3), scale=1.0))
    assert out.min() >= 0.0 and out.max() <= 1.0


# -- smooth ------------------------------------------------------------------
@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.5])
def test_smooth_matches_scipy_gaussian_filter(sigma, rng):
    ndimage = pytest.importorskip("scipy.ndimage")
    g = rng.standard_normal((1, 3, 9, 6))  # 6 < radius at sigma 2.5: reflections
    out = Smooth(str(sigma)).grad(g, state())
    ref = ndimage.gaussian_filter(g, sigma=(0, 0, sigma, sigma), mode="reflect")
    np.testing.assert_allclose(out, ref, **tol(np.float64))


def test_smooth_keeps_constants_and_reduces_noise(rng):
    const = np.full((1, 3, 7, 7), 2.5, dtype=np.float32)
    out = Smooth(1.5).grad(const, state())
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, const, **tol(np.float32))
    noise = rng.standard_normal((1, 3, 32, 32))
    assert Smooth(1.0).grad(noise, state()).std() < 0.5 * noise.std()
    assert Smooth(0).grad(noise, state()) is noise
    assert sum(gaussian_kernel(1.0)) == pytest.approx(1.0)


# -- lapnorm ------------------------------------------------------------------
K1 = np.array([1, 4, 6, 4, 1]) / 16
K5 = np.outer(K1, K1)


def tf_same_conv_stride2(img):
    """``tf.nn.conv2d(img, k5x5, [1, 2, 2, 1], 'SAME')``, loop by loop."""
    h, w = img.shape[-2:]
    oh, ow = -(-h // 2), -(-w // 2)
    ph, pw = max((oh - 1) * 2 + 5 - h, 0) // 2, max((ow - 1) * 2 + 5 - w, 0) // 2
    out = np.zeros(img.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            for di in range(5):
                for dj in range(5):
                    y, x = 2 * i + di - ph, 2 * j + dj - pw
                    if 0 <= y < h and 0 <= x < w:
                        out[..., i, j] += K5[di, dj] * img[..., y, x]
    return out


@pytest.mark.parametrize("hw", [(8, 8), (7, 6), (5, 9), (1, 3)], ids=str)
def test_lap_split_low_band_is_tf_same_conv(hw, rng):
    img = rng.standard_normal((1, 3, *hw))
    lo, hi = lap_split(img)
    np.testing.assert_allclose(lo, tf_same_conv_stride2(img), **tol(np.float64))
    assert hi.shape == img.shape


@pytest.mark.parametrize("n, axis", [(8, 2), (7, 3), (1, 2)], ids=str)
def test_upsampling_is_twice_the_transpose_of_downsampling(n, axis, rng):
    # conv2d_transpose(lo, 4 * k5x5) is the adjoint of conv2d(., k5x5), x4
    x = rng.standard_normal((1, 2, n, n))
    lo = _down(x, axis)
    y = rng.standard_normal(lo.shape)
    np.testing.assert_allclose(
        np.sum(lo * y), np.sum(x * _up(y, n, axis)) / 2, **tol(np.float64)
    )


@pytest.mark.parametrize("hw", [(16, 16), (13, 10)], ids=str)
def test_pyramid_merges_back_exactly(hw, rng):
    g = rng.standard_normal((1, 3, *hw))
    levels = lap_split_n(g, 3)
    assert [lv.shape[-2:] for lv in levels][-1] == hw
    np.testing.assert_allclose(lap_merge(levels), g, **tol(np.float64))


def test_lapnorm_is_scale_free_and_equalises_bands(rng):
    g = rng.standard_normal((1, 3, 24, 20))
    # a strong low-frequency ramp next to weak high-frequency noise
    g += np.linspace(0, 500, 20)
    out = LapNorm("3").grad(g, state())
    assert out.shape == g.shape
    assert LapNorm(3).grad(g.astype(np.float32), state()).dtype == np.float32
    np.testing.assert_allclose(lap_normalize(g * 1000, 3), out, **tol(np.float64))
    # each band was scaled to unit RMS before merging
    bands = [normalize_std(b) for b in lap_split_n(g, 3)]
    for b in bands:
        assert np.sqrt(np.mean(b**2)) == pytest.approx(1, rel=1e-12)
    np.testing.assert_allclose(lap_merge(bands), out, **tol(np.float64))
    # the noise is no longer drowned by the ramp: the high band dominates less
    hi_before = lap_split(g)[1]
    assert np.abs(lap_split(out)[1]).mean() / np.abs(out).mean() > (
        np.abs(hi_before).mean() / np.abs(g).mean()
    )


def test_normalize_std_guards_zero():
    z = np.zeros((1, 3, 4, 4))
    assert not normalize_std(z).any()
    assert not LapNorm(2).grad(z, state()).any()


# -- decorrelate ----------------------------------------------------------------
def lucid_matrix():
    c = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
    return c / np.max(np.linalg.norm(c, axis=0))


def test_decorrelate_applies_lucids_matrix_in_rgb(rng):
    g_bgr = rng.standard_normal((1, 3, 4, 5))
    out = Decorrelate().grad(g_bgr, state())
    c = lucid_matrix()
    rgb = g_bgr[:, ::-1]
    # per pixel: the step lucid's rgb = C y parameterisation takes, C C^T g
    expected = np.einsum("ij,kj,nkhw->nihw", c, c, rgb)[:, ::-1]
    assert out.shape == g_bgr.shape
    np.testing.assert_allclose(out, expected, **tol(np.float64))
    rgb_out = Decorrelate("rgb").grad(rgb, state())
    np.testing.assert_allclose(rgb_out, expected[:, ::-1], **tol(np.float64))


def test_decorrelate_is_linear_and_an_ascent_direction(rng):
    prior = Decorrelate()
    a, b = rng.standard_normal((2, 1, 3, 6, 6))
    out = prior.grad(2 * a - 3 * b, state())
    expected = 2 * prior.grad(a, state()) - 3 * prior.grad(b, state())
    np.testing.assert_allclose(out, expected, **tol(np.float64))
    assert prior.grad(a.astype(np.float32), state()).dtype == np.float32
    assert np.sum(a * prior.grad(a, state())) > 0


def test_decorrelate_errors(rng):
    with pytest.raises(ValueError, match="'bgr' or 'rgb'"):
        Decorrelate("hsv")
    with pytest.raises(ValueError, match="3 colour channels"):
        Decorrelate().grad(rng.standard_normal((1, 4, 2, 2)), state())


@pytest.mark.parametrize(
    "cls, bad, msg",
    [(Jitter, "x", "must be a number"), (Smooth, "-1", ">= 0"), (LapNorm, "0", ">= 1")],
    ids=["jitter", "smooth", "lapnorm"],
)
def test_bad_arguments(cls, bad, msg):
    with pytest.raises(ValueError, match=msg):
        cls(bad)
