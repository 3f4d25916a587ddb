"""Parameterisations: the Fourier image inverts, and its backward is the
vector-Jacobian product of its forward (float64 finite differences)."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.plugins.params import FFT, Pixel, rfft2d_freqs, step
from inceptionism.plugins.spec import build
from tests.gradcheck import numerical_grad

MEAN = np.array([104.0, 117.0, 123.0])


def _fft(decay=1.0) -> FFT:
    f = FFT(decay)
    f.bind(MEAN, 255.0, "BGR")
    return f


def _image(rng, shape):
    """A valid preprocessed image away from 0 and 255 (the sigmoid's ends)."""
    return rng.uniform(20, 235, shape) - MEAN.reshape(-1, 1, 1)


@pytest.mark.parametrize(
    "hw", [(5, 6), (5, 7), (6, 5)], ids=["even-w", "odd-w", "odd-h"]
)
def test_fft_round_trip(rng, hw):
    f = _fft()
    x = _image(rng, (2, 3, *hw))
    p = f.from_image(x)
    assert p.shape == (2, 2, 3, hw[0], hw[1] // 2 + 1)
    np.testing.assert_allclose(f.to_image(p), x, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("decay", [1.0, 0.5])
@pytest.mark.parametrize("hw", [(5, 6), (4, 7)], ids=["even-w", "odd-w"])
def test_fft_backward_matches_finite_differences(rng, hw, decay):
    f = _fft(decay)
    p = f.from_image(_image(rng, (1, 3, *hw)))
    g = rng.standard_normal((1, 3, *hw))
    num = numerical_grad(f.to_image, p, g, 1e-3, order=4)
    np.testing.assert_allclose(f.backward(p, g), num, rtol=1e-7, atol=1e-7)


def test_fft_image_is_always_valid(rng):
    f = _fft()
    p = 50 * rng.standard_normal((2, 1, 3, 8, 5))
    x = f.to_image(p) + MEAN.reshape(-1, 1, 1)
    assert x.min() >= 0 and x.max() <= 255


def test_spectrum_scale_is_one_over_f():
    freqs = rfft2d_freqs(4, 6)
    assert freqs.shape == (4, 4) and freqs[0, 0] == 0
    np.testing.assert_allclose(freqs[1, 0], 0.25)
    np.testing.assert_allclose(freqs[0, 3], 0.5)


def test_pixel_step_is_the_notebooks(rng):
    x = rng.standard_normal((1, 3, 4, 5)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    want = x + (np.float32(1.5) / np.abs(g).mean()).astype(np.float32) * g
    np.testing.assert_array_equal(step(Pixel(), x, g, 1.5), want)
    np.testing.assert_array_equal(step(Pixel(), x, 0 * g, 1.5), x)  # g == 0


def test_fft_step_ascends(rng):
    """A small step along the pulled-back gradient raises <g, x>."""
    f = _fft()
    x = _image(rng, (1, 3, 8, 8))
    g = rng.standard_normal(x.shape)
    x2 = step(f, x, g, 0.05)
    assert np.sum(g * (x2 - x)) > 0


def test_params_are_plugins(pm):
    assert repr(build("params", "fft", pm)) == "fft"
    assert repr(build("params", "fft:0.5", pm)) == "fft:0.5"
    assert isinstance(build("params", "pixel", pm), Pixel)
    with pytest.raises(ValueError, match="did you mean 'fft'"):
        build("params", "fftt", pm)
    with pytest.raises(ValueError, match="decay must be in"):
        build("params", "fft:9", pm)
