"""Make ``sample.png``, the picture ``inceptionism dream --sample`` dreams on.

Procedural clouds over a blue sky, made by this project (no third-party
image, no licence question): fractal 1/f^2.9 noise from a seeded FFT
synthesis shapes the clouds, a vertical gradient the sky, and a second noise
field tints the clouds warm at the horizon. Deterministic: run
``python engine/data/make_sample.py`` to rebuild the same file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SEED = 2015  # the year of the DeepDream blog post
WIDTH, HEIGHT = 512, 384


def fractal_noise(h: int, w: int, beta: float, rng: np.random.Generator):
    """Noise with power spectrum ~ 1/f^beta, normalised to 0..1."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    spectrum = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** (
        beta / 2
    )
    spectrum[0, 0] = 0.0
    a = np.fft.irfft2(spectrum, s=(h, w))
    return (a - a.min()) / (a.max() - a.min())


def make(seed: int = SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clouds = fractal_noise(HEIGHT, WIDTH, 2.9, rng)
    tint = fractal_noise(HEIGHT, WIDTH, 3.0, rng)
    y = np.linspace(0.0, 1.0, HEIGHT)[:, None, None]
    sky = (1 - y) * np.array([40, 90, 170]) + y * np.array([150, 190, 230])
    cover = np.clip((clouds - 0.45) * 3.0, 0.0, 1.0)[..., None]
    light = np.array([250, 245, 240]) * (0.75 + 0.25 * clouds[..., None])
    warm = np.array([255, 190, 150]) * tint[..., None] * y
    cloud = np.clip(light * (1 - 0.4 * y) + 0.4 * warm, 0, 255)
    rgb = sky * (1 - cover) + cloud * cover
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


if __name__ == "__main__":
    out = Path(__file__).with_name("sample.png")
    Image.fromarray(make(), "RGB").save(out, optimize=True)
    print(f"wrote {out}")
