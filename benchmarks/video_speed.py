"""Seconds per video frame (issue 13) at 640x360 and 1280x720.

A clip of ``--frames`` frames of a moving texture (made with PyAV) is
dreamed with ``dream``'s defaults (4 octaves x 10 steps at
inception_4c/output, seeded synthetic GoogLeNet weights of the real shapes)
by :func:`inceptionism.engine.video.make.dream_video`: the first frame with
10 steps per octave, the later ones with ``--steps-after`` (default: half,
5) starting from the previous frame's detail carried along the DIS flow.
Reported: wall-clock and CPU seconds (``time.process_time``, all threads
of this process: steadier than wall time on a shared machine) for the
first frame and the mean of the later ones, the speed-up of fewer steps
(first / later, CPU), the optical flow's own share
(forward + backward flow and the occlusion test, timed apart), and the
encode. There is no PyTorch video pipeline to compare with; the dream step
itself is compared with PyTorch in ``benchmarks/`` (``benchmark.md``)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python -m benchmarks.video_speed --sizes 640x360,1280x720 --frames 3
    python -m benchmarks.video_speed --quick   # 160x90, 1 octave: a smoke run

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def _clip(path: Path, w: int, h: int, frames: int) -> list[np.ndarray]:
    from tests.engine.video_clips import moving_frames, write_clip

    rgb = moving_frames(frames, h=h, w=w, dx=4, dy=2)
    write_clip(path, rgb, fps=25)
    return rgb


def measure(size: str, frames: int, quick: bool, weights: Path, tmp: Path) -> dict:
    from inceptionism.engine.dream import DreamConfig
    from inceptionism.engine.video import flow as fl
    from inceptionism.engine.video.make import build, run_job

    w, h = (int(v) for v in size.split("x"))
    clip = tmp / f"clip-{size}.mp4"
    rgb = _clip(clip, w, h, frames)
    cfg = DreamConfig(seed=0)
    if quick:
        cfg = DreamConfig(objective="deepdream:conv2/3x3", octaves=1, seed=0)
    job = build(clip, tmp / f"out-{size}.mp4", cfg, weights=weights)
    times: list[float] = []
    cpu: list[float] = []
    t = [time.perf_counter(), time.process_time()]

    def on_frame(k: int) -> None:
        now = [time.perf_counter(), time.process_time()]
        times.append(now[0] - t[0])
        cpu.append(now[1] - t[1])
        t[:] = now

    run_job(job, on_frame=on_frame)
    t0 = time.perf_counter()
    fl.motion(rgb[0], rgb[1])
    flow_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    from inceptionism.engine.video.make import encode_frames

    job.out.unlink()
    encode_frames(job)
    encode_s = time.perf_counter() - t0
    later, later_cpu = float(np.mean(times[1:])), float(np.mean(cpu[1:]))
    return {"size": size, "first": times[0], "later": later,
            "first_cpu": cpu[0], "later_cpu": later_cpu,
            "speedup": cpu[0] / later_cpu, "flow": flow_s, "encode": encode_s,
            "steps": cfg.steps, "after": max(1, cfg.steps // 2)}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    from inceptionism.weights import save_model
    from inceptionism.weights.synthetic import synthetic_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="640x360,1280x720")
    p.add_argument("--frames", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    sizes = "160x90" if args.quick else args.sizes
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        weights = tmp / "synth.h5"
        save_model(synthetic_model("bvlc_googlenet", seed=0), weights)
        rows = [measure(s, args.frames, args.quick, weights, tmp)
                for s in sizes.split(",")]  # fmt: skip
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}\n")
    print("| size | first frame: wall s (CPU s) | later frames, mean: wall s "
          "(CPU s) | speed-up (CPU) | flow (s) | encode, all frames (s) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['size']} | {r['first']:.1f} ({r['first_cpu']:.1f}), "
              f"{r['steps']} steps | {r['later']:.1f} ({r['later_cpu']:.1f}), "
              f"{r['after']} steps | {r['speedup']:.2f}x | {r['flow']:.3f} | "
              f"{r['encode']:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
