"""Short synthetic clips for the video tests, made with PyAV.

A smooth random texture (so optical flow has something to follow) moving by
a known whole number of pixels per frame, optionally with a hard cut to a
different texture, an AAC sine tone, a rotation or a pixel aspect ratio.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth RGB texture (float 0..255): luminance blobs of about 6
    pixels under a gentle colour tint (yuv420p keeps half the chroma
    resolution, so strong fine colour would not survive the encode)."""
    from PIL import Image

    rng = np.random.default_rng(seed)

    def blobs(cell: int, channels: int) -> np.ndarray:
        small = rng.integers(0, 256, size=(h // cell + 2, w // cell + 2, channels))
        img = Image.fromarray(small.astype(np.uint8).squeeze())
        big = img.resize((w + 2 * cell, h + 2 * cell), Image.Resampling.BICUBIC)
        a = np.asarray(big, np.float32)[cell : cell + h, cell : cell + w]
        return a.reshape(h, w, -1)

    luma, tint = blobs(6, 1), blobs(24, 3)
    return np.clip(0.8 * luma + 0.2 * tint, 0, 255)


def moving_frames(
    n: int,
    h: int = 48,
    w: int = 64,
    dx: int = 2,
    dy: int = 2,
    cut_at: int | None = None,
    seed: int = 0,
) -> list[np.ndarray]:
    """``n`` frames of a texture moving by (dx, dy) pixels per frame (the
    texture is larger than the frame, so no wrap-around); from ``cut_at`` on
    another texture."""
    pad = 2 * n * max(abs(dx), abs(dy)) + 4
    big = [texture(h + pad, w + pad, seed), texture(h + pad, w + pad, seed + 99)]
    out = []
    for t in range(n):
        tex = big[1 if cut_at is not None and t >= cut_at else 0]
        y0, x0 = pad // 2 - t * dy, pad // 2 - t * dx
        out.append(tex[y0 : y0 + h, x0 : x0 + w].copy())
    return out


def write_clip(
    path: Path,
    frames: list[np.ndarray],
    fps: int = 10,
    audio: bool = True,
    rotation: int = 0,
    sar: Fraction | None = None,
    pts: list[int] | None = None,
) -> Path:
    """Encode ``frames`` as H.264 (crf 12) with an AAC tone when ``audio``;
    ``pts`` (in 1/fps/100 ticks) makes a variable frame rate."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps, options={"crf": "12"})
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        if pts is not None:
            v.codec_context.time_base = Fraction(1, fps * 100)
        if rotation:
            v.set_display_rotation(rotation)
        if sar:
            v.codec_context.sample_aspect_ratio = sar
        a = c.add_stream("aac", rate=16000, layout="mono") if audio else None
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(
                np.clip(np.rint(f), 0, 255).astype(np.uint8), format="rgb24"
            )
            frame.pts = i if pts is None else pts[i]
            if pts is not None:
                frame.time_base = Fraction(1, fps * 100)
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
        if a is not None:
            seconds = len(frames) / fps
            t = np.arange(int(16000 * seconds)) / 16000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for i in range(0, len(tone), 1024):
                chunk = tone[i : i + 1024][None, :]
                af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                af.sample_rate, af.pts = 16000, i
                c.mux(a.encode(af))
            c.mux(a.encode(None))
    return path


def read_frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [
            f.to_ndarray(format="rgb24").astype(np.float32)
            for f in c.decode(c.streams.video[0])
        ]


def audio_packets(path: Path) -> list[bytes]:
    import av

    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]
