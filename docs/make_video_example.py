"""Re-make the README's video example (docs/video-first.png, video-last.png).

A 24-frame pan over the shipped sample picture, written with PyAV, dreamed
by ``inceptionism video`` on seeded synthetic weights; the first and last
frames of the dreamed video are saved as small PNGs::

    python docs/make_video_example.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import av
import numpy as np
from PIL import Image

from inceptionism.engine.cli import main
from inceptionism.engine.image import load_image, sample_image_path
from inceptionism.weights import save_model
from inceptionism.weights.synthetic import synthetic_model

DOCS = Path(__file__).parent
W, H, FRAMES, STEP = 192, 144, 24, 4


def pan(path: Path) -> None:
    rgb = load_image(sample_image_path())
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=12, options={"crf": "12"})
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        for i in range(FRAMES):
            crop = rgb[100 : 100 + H, 40 + STEP * i : 40 + STEP * i + W]
            f = av.VideoFrame.from_ndarray(crop.astype(np.uint8), format="rgb24")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))


def frame(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as c:
        frames = list(c.decode(c.streams.video[0]))
    return frames[index].to_ndarray(format="rgb24")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        save_model(synthetic_model("bvlc_googlenet", seed=0), tmp / "synth.h5")
        pan(tmp / "pan.mp4")
        out = tmp / "dreamed.mp4"
        rc = main(["video", str(tmp / "pan.mp4"), "-o", str(out), "--weights",
                   str(tmp / "synth.h5"), "--layer", "inception_3b/output",
                   "--octaves", "3", "--steps", "10", "--seed", "1"])  # fmt: skip
        if rc:
            sys.exit(rc)
        Image.fromarray(frame(out, 0)).save(DOCS / "video-first.png", optimize=True)
        Image.fromarray(frame(out, -1)).save(DOCS / "video-last.png", optimize=True)
