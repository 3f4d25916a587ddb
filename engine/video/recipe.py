"""The video part of a recipe, and ``video --replay`` of one frame.

A video's recipe is an ordinary :class:`~inceptionism.engine.recipe.Recipe`
(config with the seed, model and weight SHA-1, mean, ``max_size``, device,
tiling) whose ``input`` is the video (the SHA-1 of the file, or of its
frames' SHA-1s for a folder) and whose ``video`` field holds the
:class:`Settings` (flow, blend, steps after the first frame, cut threshold,
frame rate and count). It is stored in the container's ``comment``
metadata and in ``index.json`` of the frames folder; each frame's PNG holds
it too, with the frame's index, whether the detail restarted there (first
frame, cut, ``--flow off``), the SHA-1 of the previous frame's PNG whose
detail it carries, and the motion measured.

A frame depends only on the input frames t-1 and t and on the previous
frame *as written* (8-bit PNG), so :func:`replay_frame` re-makes frame t
exactly from the input video and the frame before it, and a resumed run
equals an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.engine.recipe import FileRef, Recipe, ReplayError
from inceptionism.engine.video.flow import CUT_THRESHOLD, FLOW_MODES, FlowMode

FRAME_NAME = "{:06d}.png"


@dataclass(frozen=True)
class Settings:
    """What ``inceptionism video`` adds to a dream (defaults = the CLI's).

    flow : ``dis`` (OpenCV DIS, medium preset), ``farneback``, or ``off``
        (independent frames). blend : share of the previous frame's dreamed
        detail carried into the next (0..1). steps_after : steps per octave
        after the first frame and after cuts (None: half of ``steps``, at
        least 1). cut_threshold : see :mod:`inceptionism.engine.video.flow`.
    """

    flow: FlowMode = "dis"
    blend: float = 0.8
    steps_after: int | None = None
    cut_threshold: float = CUT_THRESHOLD

    def __post_init__(self) -> None:
        if self.flow not in FLOW_MODES:
            raise ValueError(f"--flow must be one of {', '.join(FLOW_MODES)}")
        if not 0.0 <= self.blend <= 1.0:
            raise ValueError(f"--blend must be in 0..1, got {self.blend}")
        if self.steps_after is not None and self.steps_after < 0:
            raise ValueError(f"--steps-after must be >= 0, got {self.steps_after}")
        if not 0.0 < self.cut_threshold <= 1.0:
            raise ValueError(
                f"--cut-threshold must be in (0, 1], got {self.cut_threshold}"
            )

    def steps(self, steps: int, restart: bool) -> int:
        """Steps per octave for a frame (``restart``: first frame or cut)."""
        if restart:
            return steps
        return max(1, steps // 2) if self.steps_after is None else self.steps_after


def video_dict(settings: Settings, frames: int, fps: Fraction) -> dict[str, Any]:
    """The recipe's ``video`` field for the whole video."""
    return {**dataclasses.asdict(settings), "frames": frames, "fps": str(fps)}


def check_video(v: Any, where: str) -> None:
    """ReplayError naming a field of a recipe's ``video`` part that is
    missing or of the wrong JSON type (the replays read them unchecked)."""
    from inceptionism.engine.recipe_check import check, kind

    try:
        if not isinstance(v, dict):
            raise ValueError(f"video must be an object, not {kind(v)}")
        names = {f.name for f in dataclasses.fields(Settings)}
        check({k: v[k] for k in names if k in v}, Settings, "video")
        fps = v.get("fps")
        try:
            ok = isinstance(fps, str) and Fraction(fps) > 0
        except (ValueError, ZeroDivisionError):
            ok = False
        if not ok:
            raise ValueError(
                f"video.fps must be a rate like '25' or '30000/1001', not {kind(fps)}"
            )
        for key in ("frames", "frame", "segments"):
            n = v.get(key)
            if n is not None and (isinstance(n, bool) or not isinstance(n, int)):
                raise ValueError(f"video.{key} must be an integer, not {kind(n)}")
    except ValueError as exc:
        raise ReplayError(f"{where}: incomplete or damaged recipe ({exc})") from None


def settings_of(recipe: Recipe) -> Settings:
    v = recipe.video or {}
    names = {f.name for f in dataclasses.fields(Settings)}
    return Settings(**{k: v[k] for k in names if k in v})


def frame_recipe(
    run: Recipe,
    k: int,
    restart: bool,
    previous: str | None,
    motion: dict[str, Any],
) -> Recipe:
    """Frame ``k``'s recipe: the run's, with where the frame stands."""
    video = {**(run.video or {}), "frame": k, "restart": restart,
             "previous": previous, "motion": motion}  # fmt: skip
    return dataclasses.replace(run, video=video)


def source_ref(src: Any) -> FileRef:
    return FileRef(str(Path(src.path).resolve()), src.sha1())


def replay_frame(
    path: str | Path,
    out: str | Path | None = None,
    *,
    inp: str | Path | None = None,
    weights: str | Path | None = None,
    device: str | None = None,
    pm: Any = None,
) -> np.ndarray:
    """Re-make the frame PNG at ``path`` from its recipe, the input video and
    the frame before it (beside ``path``); write it to ``out`` when given.
    :class:`ReplayError` (one sentence) when it cannot be re-made exactly."""
    from inceptionism.engine import remake
    from inceptionism.engine.image import save_image
    from inceptionism.engine.models import load_named_model
    from inceptionism.engine.net import Net
    from inceptionism.engine.video import io
    from inceptionism.engine.video.runner import dream_frame, read_frame
    from inceptionism.weights.files import sha1_file

    path = Path(path)
    recipe = Recipe.read(path)
    v = recipe.video
    if v is None or v.get("frame") is None:
        raise ReplayError(
            f"{path} is not a frame of `inceptionism video`; re-make pictures "
            "with inceptionism dream --replay"
        )
    check_video(v, str(path))
    if recipe.config.seed is None:
        raise ReplayError(f"{path} records no seed, so it cannot be re-made")
    k = int(v["frame"])
    src = io.probe(inp or recipe.input.path, fps=float(Fraction(v["fps"])))
    if src.sha1() != recipe.input.sha1:
        raise ReplayError(
            f"{src.path} is not the video {path} was made from (its SHA-1 "
            "differs); give the right one as IN"
        )
    prev_out = None
    if not v["restart"]:
        name = FRAME_NAME.format(k - 1)
        # a segment's first frames live in overlap/ (video.segments)
        candidates = [path.with_name(name), path.parent / "overlap" / name]
        if path.parent.name == "overlap":
            candidates.append(path.parent.parent / name)
        present = [p for p in candidates if p.is_file()]
        if not present:
            raise ReplayError(
                f"{path} carries the detail of {name}, which is missing; put it "
                "back beside it"
            )
        matching = [p for p in present if sha1_file(p) == v["previous"]]
        if not matching:
            raise ReplayError(
                f"{present[0]} is not the frame {path} was made after (its SHA-1 "
                "differs)"
            )
        prev_path = matching[0]
        prev_out = read_frame(prev_path)
    rec = recipe.model
    model, _ = load_named_model(weights or rec.weights, rec.name, pm)
    if model.name != rec.name or model.source != rec.source:
        raise ReplayError(
            f"the weights hold {model.name}, but {path} was made with {rec.name}; "
            "pass the right --weights"
        )
    net = Net(remake.with_mean(model, recipe.mean), device=device or recipe.device)
    size = recipe.size
    prev_in = cur = None
    for i, frame in enumerate(io.frames(src, size, recipe.max_size)):
        prev_in, cur = cur, frame
        if i == k:
            break
    if cur is None or i != k:
        raise ReplayError(f"{src.path} has fewer than {k + 1} frames")
    result, _, _ = dream_frame(
        net, cur, prev_in, prev_out, settings_of(recipe), recipe.config, k,
        force_restart=bool(v["restart"]), pm=pm,
        tiling=remake.recorded_tiling(recipe),
    )  # fmt: skip
    if out is not None:
        save_image(out, result, recipe=recipe.to_dict(), protect=[path, src.path])
    return result
