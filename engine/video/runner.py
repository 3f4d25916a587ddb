"""The frame loop of ``inceptionism video``.

Each frame t is dreamed by the one dream loop
(:func:`inceptionism.engine.dream.run`), started from::

    frame_t + blend * weight_t * warp(dreamed_{t-1} - frame_{t-1}, B_t)

where ``B_t`` is the backward optical flow between the *input* frames and
``weight_t`` the occlusion weight (:mod:`inceptionism.engine.video.flow`);
the first frame, frames after a scene cut and every frame with ``--flow
off`` start from the plain frame with the full ``steps``, the others with
``steps_after``. Frame t's generator is seeded with ``(seed, t)``, so any
frame can be re-made alone (:func:`inceptionism.engine.video.recipe.replay_frame`).

Frames are written, each atomically with its recipe, into the frames folder
(``OUT.frames/`` beside a video output, or ``-o FOLDER`` itself) with an
``index.json`` holding the run's recipe. The same command run again
continues after the last frame written; a different command refuses the
folder unless ``overwrite``. The video is encoded (with the input's audio)
only once every frame exists, to a temporary name renamed at the end.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.engine.dream import DreamConfig, run
from inceptionism.engine.recipe import Recipe
from inceptionism.engine.video import flow as fl
from inceptionism.engine.video.io import read_frame
from inceptionism.engine.video.recipe import FRAME_NAME, Settings, frame_recipe
from inceptionism.weights.files import sha1_file, write_bytes

INDEX = "index.json"


def frame_rng(seed: int | None, k: int) -> np.random.Generator:
    """Frame ``k``'s generator: its own stream of the run's seed."""
    return np.random.default_rng([int(seed or 0), k])


def dream_frame(
    net: Any,
    cur: np.ndarray,
    prev_in: np.ndarray | None,
    prev_out: np.ndarray | None,
    settings: Settings,
    config: DreamConfig,
    k: int,
    *,
    force_restart: bool = False,
    pm: Any = None,
    observers: Iterable[Any] = (),
    tiling: Any = None,
) -> tuple[np.ndarray, fl.Motion | None, bool]:
    """Dream input frame ``cur`` (frame ``k``) carrying ``prev_out``'s detail
    over ``prev_in``; returns ``(image, motion or None, restarted)``."""
    m = None
    restart = force_restart or prev_in is None or prev_out is None
    restart = restart or settings.flow == "off"
    start = cur
    if not restart:
        assert prev_in is not None and prev_out is not None
        m = fl.motion(prev_in, cur, settings.flow, settings.cut_threshold)
        restart = m.cut
        if not restart:
            carried = fl.carry(prev_out - prev_in, m, settings.blend)
            start = np.clip(cur + carried, 0.0, 255.0)
    steps = settings.steps(config.steps, restart)
    cfg = dataclasses.replace(config, steps=steps)
    rng = frame_rng(config.seed, k)
    out = run(net, start, cfg, pm=pm, observers=observers, rng=rng, tiling=tiling)
    return out, m, restart


class FrameProgress:
    """Frames done / total, frames per second and ETA: a bar redrawn per
    frame on a terminal; elsewhere a line per 10% or every ``interval``
    seconds (from the start when ``enabled`` is True); nothing when False."""

    def __init__(
        self,
        total: int,
        stream: Any = None,
        enabled: bool | None = None,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled, self.total, self.interval = enabled, total, interval
        self.clock = clock
        self.t0 = self.last = clock()
        self.first = 0  # frames that were there before this run
        self.done = 0
        self.lines: list[str] = []

    def start(self, done: int, folder: Path | None = None) -> None:
        """Count from ``done`` frames already made (said, when there are)."""
        self.first = self.done = done
        self.t0 = self.last = self.clock()
        if done and self.enabled is not False:
            where = f" in {folder}" if folder is not None else ""
            self.stream.write(
                f"video: continuing after {done} of {self.total} frames{where}\n"
            )
            self.stream.flush()

    def line(self, now: float) -> str:
        made, secs = self.done - self.first, now - self.t0
        pct = 100 * self.done // max(self.total, 1)
        text = f"video: {pct:3d}%  {self.done}/{self.total} frames"
        if made and secs > 0:
            fps = made / secs
            eta = (self.total - self.done) / fps
            m, s = divmod(int(eta + 0.5), 60)
            text += f"  {fps:.2f} frames/s ({secs / made:.1f} s/frame)  ETA {m}:{s:02d}"
        return text

    def frame(self) -> None:
        self.done += 1
        if self.enabled is False:
            return
        now = self.clock()
        text = self.line(now)
        self.lines.append(text)
        if self.tty:
            end = "\n" if self.done >= self.total else ""
            self.stream.write(f"\r{text}\x1b[K{end}")
        elif (
            self.enabled
            or now - self.last >= self.interval
            or 10 * self.done // self.total > 10 * (self.done - 1) // self.total
            and now - self.t0 >= self.interval
        ):
            self.stream.write(text + "\n")
            self.last = now
        self.stream.flush()


# -- the frames folder -------------------------------------------------------


def _identity(recipe: Recipe) -> dict[str, Any]:
    d = recipe.to_dict()
    d.pop("inceptionism", None)
    return d


def recorded_run(folder: Path) -> Recipe | None:
    """The run recipe in ``folder/index.json``, None if there is none."""
    index = folder / INDEX
    if not index.is_file():
        return None
    return Recipe.from_dict(json.loads(index.read_text())["recipe"], str(index))


def frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("[0-9]" * 6 + ".png") if p.stem.isdigit())


def check_folder(folder: Path, recipe: Recipe, overwrite: bool) -> bool:
    """True if ``folder`` holds frames of this same run (to continue);
    ``ValueError`` if it holds another run's frames and not ``overwrite``;
    False otherwise. Changes nothing."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file; give a folder or a video to -o")
    old = recorded_run(folder) if folder.is_dir() else None
    frames = frame_files(folder) if folder.is_dir() else []
    same = old is not None and _identity(old) == _identity(recipe)
    if (frames or old is not None) and not same and not overwrite:
        what = "another command's frames" if old else "frames"
        raise ValueError(
            f"{folder} holds {what}; pass --overwrite to replace them, or "
            "choose another -o"
        )
    return same


def prepare_folder(folder: Path, recipe: Recipe, overwrite: bool) -> int:
    """Make ``folder`` ready for ``recipe``'s frames; the number of frames
    already made there by the same run (0 for a new one). Another run's
    frames are refused, or removed with ``overwrite``."""
    if not check_folder(folder, recipe, overwrite):
        for sub in (folder, folder / "overlap"):  # overlap: video.segments
            for p in frame_files(sub) if sub.is_dir() else []:
                p.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"recipe": recipe.to_dict()}, sort_keys=True, indent=1)
        write_bytes(folder / INDEX, text.encode())
    done = 0
    while (folder / FRAME_NAME.format(done)).is_file():
        done += 1
    return done


def make_frames(
    net: Any,
    src: Any,
    recipe: Recipe,
    folder: Path,
    start: int,
    *,
    stop: int | None = None,
    pm: Any = None,
    progress: FrameProgress | None = None,
    on_frame: Callable[[int], None] | None = None,
    tiling: Any = None,
    first: int = 0,
    where: Callable[[int], Path] | None = None,
) -> int:
    """Dream frames ``start`` .. ``stop - 1`` (default: to the end) of
    ``src`` into ``folder``; frame ``start - 1`` must be there already when
    ``start > first``. Frame ``first`` starts afresh (a segment's first
    frame); ``where(k)`` overrides frame k's path. Returns the number of
    frames the source decoded to (or ``stop``)."""
    from inceptionism.engine.image import save_image
    from inceptionism.engine.video import io
    from inceptionism.engine.video.recipe import settings_of

    settings = settings_of(recipe)
    prev_in: np.ndarray | None = None
    prev_out: np.ndarray | None = None
    previous: str | None = None
    k = -1
    for k, cur in enumerate(io.frames(src, recipe.size, recipe.max_size)):
        if stop is not None and k >= stop:
            break
        path = folder / FRAME_NAME.format(k) if where is None else where(k)
        if k < start:
            if k == start - 1 and k >= first:
                prev_out, previous = read_frame(path), sha1_file(path)
            prev_in = cur
            continue
        out, m, restart = dream_frame(
            net, cur, prev_in, prev_out, settings, recipe.config, k, pm=pm,
            tiling=tiling, force_restart=k == first,
        )  # fmt: skip
        r = frame_recipe(recipe, k, restart, None if restart else previous,
                         fl.describe(m))  # fmt: skip
        save_image(path, out, recipe=r.to_dict(), protect=[src.path])
        # what the next frame carries is the frame as written (8-bit), so a
        # resumed run and a replay see exactly what this run saw
        prev_out, previous, prev_in = read_frame(path), sha1_file(path), cur
        if progress is not None:
            progress.frame()
        if on_frame is not None:
            on_frame(k)
    return k + 1 if stop is None else min(k + 1, stop)
