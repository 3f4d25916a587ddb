"""``inceptionism video IN -o OUT``: a temporally coherent dreamed video.

All of ``dream``'s options (objective, octaves, steps, priors, tiling,
``--device``; :mod:`inceptionism.engine.cli.dream_args`), plus the flow,
the blend, the steps after the first frame, the encoder and the audio. The
work is :mod:`inceptionism.engine.video`; this module turns options into a
job, prints notices and progress, and ``--replay`` re-makes one frame.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inceptionism.engine.cli.argtypes import positive_int
from inceptionism.engine.cli.dream_args import add_common

DESCRIPTION = """\
Dream a video frame by frame with dream's options, carrying each frame's
dreamed detail into the next along the optical flow between the input
frames (faded where the flow disagrees, restarted at scene cuts), so the
dream moves with the picture instead of flickering. IN is a video file
(PyAV: MP4, MKV, MOV, WebM...) or a folder of PNG/JPEG frames; OUT a video
(H.264 yuv420p by default, the input's frame rate, aspect and rotation, its
audio copied unchanged) or a folder of PNG frames. Frames are written as
they are made into OUT.frames/ (each with its recipe), so the same command
run again continues an interrupted run; the video is encoded once all
frames exist. Needs pip install "inceptionism[video]"."""

EXAMPLES = """\
examples:
  inceptionism video clip.mp4 -o dreamed.mp4 --max-size 640
  inceptionism video clip.mp4 -o dreamed.mp4 --steps 10 --steps-after 4 --blend 0.9
  inceptionism video clip.mp4 -o independent.mp4 --flow off   # no coherence
  inceptionism video frames/ -o out/ --fps 24                 # folders of PNGs
  inceptionism video --replay dreamed.mp4.frames/000012.png -o f12.png
  inceptionism video --replay dreamed.mp4 -o again.mp4       # the whole video"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "video",
        help="dream a video, frame by frame, coherent along the optical flow",
        description=DESCRIPTION,
        epilog=EXAMPLES,
    )
    add_common(p)
    p.set_defaults(func=run_video)
    p.add_argument(
        "-o", "--output", metavar="OUT",
        help="output video (.mp4 .mkv .mov .webm) or folder of PNG frames "
        "(required; no default)",
    )  # fmt: skip
    v = p.add_argument_group("video")
    v.add_argument(
        "--flow", choices=("dis", "farneback", "off"), default="dis",
        help="optical flow (OpenCV DIS or Farneback); off: independent frames",
    )  # fmt: skip
    v.add_argument(
        "--blend", type=float, default=0.8, metavar="F",
        help="share of the previous frame's dreamed detail carried (0..1)",
    )  # fmt: skip
    v.add_argument(
        "--steps-after", type=int, metavar="N",
        help="steps per octave after the first frame and cuts (default: "
        "half of --steps, at least 1)",
    )  # fmt: skip
    v.add_argument(
        "--cut-threshold", type=float, default=None, metavar="F",
        help="mean flow-compensated difference (0..1) that makes a scene cut "
        "(default: 0.12)",
    )  # fmt: skip
    v.add_argument(
        "--fps", type=float, metavar="F",
        help="frame rate of a folder of frames (default: 25)",
    )  # fmt: skip
    v.add_argument(
        "--codec", metavar="NAME",
        help="video codec (default: libx264; libvpx-vp9 for .webm)",
    )  # fmt: skip
    v.add_argument(
        "--crf", type=int, default=18, metavar="N",
        help="constant-rate quality (lower: better and larger)",
    )  # fmt: skip
    v.add_argument("--no-audio", action="store_true", help="leave the audio out")
    v.add_argument(
        "--replay", metavar="FRAME",
        help="re-make a frame PNG, or a whole video, from its recipe (IN: the "
        "input video, if it moved) (default: a new video)",
    )  # fmt: skip
    v.add_argument(
        "--segments", type=positive_int, metavar="N",
        help="split into segments of about N frames (and at scene cuts) "
        "dreamed in parallel on Dask (--scheduler); less coherent at joins "
        "(default: one sequence)",
    )  # fmt: skip
    v.add_argument(
        "--scheduler", metavar="ADDR",
        help="Dask scheduler for --segments: local, local:N or tcp://HOST:PORT "
        "(default: the segments one after another here)",
    )  # fmt: skip


def _settings(args: argparse.Namespace):
    from inceptionism.engine.video.flow import CUT_THRESHOLD
    from inceptionism.engine.video.recipe import Settings

    threshold = CUT_THRESHOLD if args.cut_threshold is None else args.cut_threshold
    return Settings(flow=args.flow, blend=args.blend, steps_after=args.steps_after,
                    cut_threshold=threshold)  # fmt: skip


def _replay(args: argparse.Namespace) -> int:
    from inceptionism.engine.cli.dream_cmd import _dream_quietly
    from inceptionism.engine.preflight import check_output
    from inceptionism.engine.video.io import CONTAINERS
    from inceptionism.engine.video.recipe import replay_frame
    from inceptionism.plugins import get_plugin_manager

    out = Path(args.output)
    if Path(args.replay).suffix.lower() in CONTAINERS:  # the whole video
        from inceptionism.engine.video.make import replay_video
        from inceptionism.engine.video.runner import FrameProgress

        enabled = True if args.progress else False if args.quiet else None
        _dream_quietly(lambda: replay_video(
            args.replay, out, inp=args.input, weights=args.weights,
            device=args.device, overwrite=args.overwrite, pm=get_plugin_manager(),
            progress=FrameProgress(0, sys.stderr, enabled),
        ))  # fmt: skip
        print(out)
        return 0
    check_output(out, overwrite=args.overwrite, protect=[Path(args.replay)])
    _dream_quietly(
        lambda: replay_frame(
            args.replay, out, inp=args.input, weights=args.weights,
            device=args.device, pm=get_plugin_manager(),
        )
    )  # fmt: skip
    print(out)
    return 0


def run_video(args: argparse.Namespace) -> int:
    from inceptionism.engine.cli.dream_cmd import (
        _dream_quietly,
        dream_config,
        tiling_settings,
    )
    from inceptionism.engine.video import make
    from inceptionism.engine.video.io import CONTAINERS as VIDEO_SUFFIXES
    from inceptionism.engine.video.runner import FrameProgress
    from inceptionism.plugins import get_plugin_manager

    if not args.output:
        raise ValueError("give -o OUT: a video file (out.mp4) or a folder of frames")
    if args.replay:
        return _replay(args)
    if args.sample:
        raise ValueError("--sample is a picture; give a video as IN")
    if not args.input:
        raise ValueError("no input video: give IN (a video file or a folder)")
    if args.input == "-" or args.output == "-":
        raise ValueError("video reads and writes files; - is for pictures")
    if args.bits != 8:
        raise ValueError("--bits 16: video frames are 8-bit")
    if args.scheduler and not args.segments:
        raise ValueError("--scheduler dreams segments in parallel; add --segments N")
    if args.segments and Path(args.output).suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError("--segments cross-fades at the encode; give a video -o")
    pm = get_plugin_manager()
    settings = _settings(args)
    job = _dream_quietly(
        lambda: make.build(
            args.input, args.output, dream_config(args), weights=args.weights,
            model=args.model, settings=settings, mean=args.mean,
            max_size=args.max_size, device=args.device or "cpu", fps=args.fps,
            codec=args.codec, crf=args.crf, audio=not args.no_audio,
            tiling=tiling_settings(args), overwrite=args.overwrite,
            seed_given=args.seed is not None, segments=args.segments, pm=pm,
        )
    )  # fmt: skip
    for notice in job.notices:
        print(f"inceptionism: notice: {notice}", file=sys.stderr)
    enabled = True if args.progress else False if args.quiet else None
    progress = FrameProgress(job.src.frames, sys.stderr, enabled)
    if args.segments:
        from inceptionism.engine.video.segments import run_segments

        _dream_quietly(lambda: run_segments(
            job, args.segments, scheduler=args.scheduler, overwrite=args.overwrite,
            progress=progress,
        ))  # fmt: skip
    else:
        _dream_quietly(
            lambda: make.run_job(job, overwrite=args.overwrite, pm=pm,
                                 progress=progress),
            job.recipe.size,
        )  # fmt: skip
    print(job.out)
    return 0
