"""``inceptionism zoom``: the notebook's zoom feedback into a folder of
frames, and a run that resumes.

``zoom IN -o FOLDER`` dreams, zooms in by ``--scale`` about the centre and
repeats; frames ``frame-0000.png``... (16-bit with ``--bits 16``), each with
its recipe, and optionally ``zoom.gif`` / ``zoom.webp`` / ``zoom.mp4`` with
the run's.

Resume: each frame feeds the next in float32 and one random generator serves
the whole run, so the PNGs (rounded) are not enough to go on from. As each
frame is done, before its PNG, ``FOLDER/.zoom-state.npz`` (NumPy arrays
only, no pickle) is replaced by one holding the dreamed frame, the
generator's state and the run's recipe. The same
command run again after an interruption continues after the last frame
saved, and its frames and animation are byte for byte those of an
uninterrupted run; without ``--seed`` it takes the interrupted run's seed.
Anything else in a non-empty folder is refused unless ``--overwrite``. The
state is removed once the run is complete.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.engine import preflight, remake
from inceptionism.engine import recipe as rcp
from inceptionism.engine.cli.dream_cmd import (
    _dream_quietly,
    _named_stdin,
    _new_job,
    _progress,
    _with,
    tiling_settings,
)

STATE = ".zoom-state.npz"


def frame_path(folder: Path, i: int) -> Path:
    return folder / f"frame-{i:04d}.png"


@dataclass(frozen=True)
class Resume:
    """Where an interrupted run stopped: ``done`` frames written, the last
    one dreamed (float32) and the generator's state after it."""

    done: int
    frame: np.ndarray
    rng: dict[str, Any]


def _run_recipe(job: remake.Job, frames: int, scale: float) -> dict[str, Any]:
    """What makes two zoom runs the same run (the version aside)."""
    d = _with(job, zoom=rcp.Zoom(None, frames, scale)).recipe.to_dict()
    d.pop("inceptionism", None)
    return d


def read_state(folder: Path) -> tuple[dict[str, Any], Resume] | None:
    """The run recipe and resume point in ``folder``; None if there is no
    readable state."""
    path = folder / STATE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            run = json.loads(str(z["recipe"]))
            state = Resume(int(z["done"]), z["frame"], json.loads(str(z["rng"])))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None  # unreadable: the folder is then just not empty
    return run, state


def write_state(folder: Path, run: dict[str, Any], state: Resume) -> None:
    from inceptionism.weights.files import atomic_open

    with atomic_open(folder / STATE) as f:
        np.savez(
            f,
            recipe=np.array(json.dumps(run, sort_keys=True)),
            done=np.array(state.done),
            frame=state.frame,
            rng=np.array(json.dumps(state.rng)),
        )


def resume_point(
    folder: Path, job: remake.Job, args: argparse.Namespace
) -> tuple[remake.Job, Resume | None]:
    """Where to continue, if ``folder`` holds this run's interrupted frames:
    the job (with the earlier seed when ``--seed`` was not given) and the
    state; else ``job`` as it is and None."""
    found = read_state(folder) if folder.is_dir() else None
    if found is None:
        return job, None
    run, state = found
    resumed = job
    if args.seed is None:
        seed = run.get("config", {}).get("seed")
        config = dataclasses.replace(job.recipe.config, seed=seed)
        resumed = _with(job, config=config)
    # the last frame may be missing: its state is saved first
    if run != _run_recipe(resumed, args.frames, args.scale) or not all(
        frame_path(folder, i).is_file() for i in range(state.done - 1)
    ):
        return job, None
    return resumed, state


def run_zoom(args: argparse.Namespace) -> int:
    from inceptionism.engine.dream import zoom_frames
    from inceptionism.engine.image import load_image
    from inceptionism.engine.resample import zoom_in
    from inceptionism.plugins import get_plugin_manager

    if args.output == "-":
        raise ValueError("zoom writes a folder of frames; give -o FOLDER, not -")
    pm = get_plugin_manager()
    folder = Path(args.output)
    job, resume = resume_point(folder, _named_stdin(_new_job(args, pm), args), args)
    mp4 = getattr(args, "mp4", False)
    if mp4:  # the video extra is there, before any frame is dreamed
        from inceptionism.engine.video.io import output_format

        output_format(folder / "zoom.mp4", None)
    preflight.check_frames_folder(folder, overwrite=args.overwrite or bool(resume))
    _dream_quietly(lambda: preflight.check_job(job, pm))
    run = _run_recipe(job, args.frames, args.scale)
    done, start = 0, job.rgb
    rng = np.random.default_rng(job.recipe.config.seed)  # zoom_frames' own
    if resume is not None:
        done = resume.done
        rng.bit_generator.state = resume.rng
        if not frame_path(folder, done - 1).is_file():  # stopped before it
            _write_frame(job, folder, done - 1, resume.frame, args)
        if done < args.frames:
            start = zoom_in(resume.frame, args.scale, axes=(0, 1))
        if not args.quiet:
            print(f"inceptionism: {folder} holds {done} of this zoom's "
                  f"{args.frames} frames; continuing", file=sys.stderr)  # fmt: skip
    keep = args.gif or args.webp or mp4
    frames = [load_image(frame_path(folder, i)) for i in range(done)] if keep else []
    if done < args.frames:
        tile = (job.recipe.tiling or {}).get("tile")
        memory = tiling_settings(args).memory
        progress = _progress(args, args.frames - done, label="zoom")
        gen = zoom_frames(
            job.net, start, args.frames - done, args.scale, job.recipe.config,
            pm=pm, observers=[progress], rng=rng,
            tiling=remake.recorded_tiling(job.recipe),
        )  # fmt: skip
        try:
            for i in range(done, args.frames):
                frame = _dream_quietly(
                    lambda: next(gen), job.rgb.shape[:2], tile, memory
                )
                # rng is where the generator stopped: before frame i + 1
                write_state(
                    folder, run, Resume(i + 1, frame, dict(rng.bit_generator.state))
                )
                _write_frame(job, folder, i, frame, args)
                if keep:  # as a resumed run reads it back (--bits 16 too)
                    frames.append(load_image(frame_path(folder, i)))
        finally:
            progress.close()
    if mp4:
        print(_zoom_mp4(job, folder / "zoom.mp4", frames, args))
    elif frames:
        anim = folder / ("zoom.gif" if args.gif else "zoom.webp")
        zoom = rcp.Zoom(None, args.frames, args.scale, duration_ms=80)
        remake.write(_with(job, zoom=zoom), anim, frames)
        print(anim)
    with contextlib.suppress(FileNotFoundError):
        (folder / STATE).unlink()
    print(folder)
    return 0


def _write_frame(
    job: remake.Job, folder: Path, i: int, frame: np.ndarray, args: Any
) -> None:
    zoom = rcp.Zoom(frame=i, frames=args.frames, scale=args.scale)
    remake.write(_with(job, zoom=zoom), frame_path(folder, i), frame)


def _zoom_mp4(job: remake.Job, out: Path, frames: list, args: Any) -> Path:
    """``zoom --mp4``: the frames through the video encoder (H.264 yuv420p,
    12.5 frames/s as the GIF's 80 ms, sides cropped to even), with the
    run's recipe in the container's metadata."""
    from fractions import Fraction

    from inceptionism.engine.video import io

    h, w = frames[0].shape[:2]
    size = (h - h % 2, w - w % 2)
    if size != (h, w):
        print(f"inceptionism: notice: {w}x{h} has an odd side, which yuv420p "
              f"cannot hold; cropped to {size[1]}x{size[0]} (the last row/column)",
              file=sys.stderr)  # fmt: skip
    zoom = rcp.Zoom(None, args.frames, args.scale, duration_ms=80)
    return io.encode(
        out, (f[: size[0], : size[1]] for f in frames), None,
        fps=Fraction(25, 2), size=size,
        recipe=_with(job, zoom=zoom).recipe.to_dict(),
    )  # fmt: skip
