"""Scale-out: a video split into segments dreamed in parallel on Dask
(``video --segments N --scheduler ...``; the optional extra ``dask``).

The video is cut at its scene cuts (found with the same flow test as the
frame loop) and each scene into segments of about N frames. A segment that
begins at a cut (or at frame 0) starts afresh, exactly as the sequential
run does there, so its frames are the sequential run's, bit for bit. A
segment that begins inside a scene cannot wait for the previous one's last
frame: it starts :data:`OVERLAP` frames earlier, from the plain frame, and
dreams that warm-up into ``FRAMES/overlap/``; at the encode the warm-up is
cross-faded with the previous segment's frames (weights rising linearly to
the new segment), so the joint is a short dissolve, not a jump.

The trade-off: inside a scene, the detail at a joint is not the detail the
sequential run would have carried (a segment's dream grows from its own
start), so a long shot dreamed in segments drifts between two dreams over
the overlap; segment at cuts only (N larger than the scenes) to avoid it.
One task is one segment (:func:`segment_task`); a worker loads the net once
(:func:`inceptionism.engine.batch.loaded_net`), skips frames already written
and writes each atomically, so a rerun or a retried task resumes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.engine.video.recipe import FRAME_NAME

#: Frames of warm-up (and cross-fade) before a segment that starts inside a scene.
OVERLAP = 4
OVERLAP_DIR = "overlap"


@dataclass(frozen=True)
class Segment:
    """Frames ``start .. stop-1`` are this segment's; it dreams from
    ``first`` (== ``start`` at a cut; earlier by the overlap otherwise)."""

    first: int
    start: int
    stop: int


def plan(n: int, cuts: list[int], length: int, overlap: int = OVERLAP) -> list[Segment]:
    """Segments of ``n`` frames: a boundary at each cut and every ``length``
    frames within a scene; inside a scene a segment starts ``overlap``
    frames early (not before its scene)."""
    scenes = sorted({0, *[c for c in cuts if 0 < c < n]}) + [n]
    out = []
    for a, b in zip(scenes, scenes[1:]):
        for start in range(a, b, length):
            first = start if start == a else max(a, start - overlap)
            out.append(Segment(first, start, min(b, start + length)))
    return out


def find_cuts(src: Any, recipe: Any) -> list[int]:
    """Frames where the frame loop would restart for a cut."""
    from inceptionism.engine.video import flow as fl
    from inceptionism.engine.video import io
    from inceptionism.engine.video.recipe import settings_of

    settings = settings_of(recipe)
    if settings.flow == "off":
        return []
    cuts, prev = [], None
    for k, cur in enumerate(io.frames(src, recipe.size, recipe.max_size)):
        if prev is not None:
            if fl.motion(prev, cur, settings.flow, settings.cut_threshold).cut:
                cuts.append(k)
        prev = cur
    return cuts


def _path(folder: Path, seg: Segment, k: int) -> Path:
    sub = folder / OVERLAP_DIR if k < seg.start else folder
    return sub / FRAME_NAME.format(k)


def segment_task(
    inp: str, fps: str, recipe: dict[str, Any], folder: str, seg: Segment
) -> int:
    """Dream one segment (on any worker): the frames it lacks. Returns the
    number of frames it made."""
    from inceptionism.engine import remake
    from inceptionism.engine.batch import Spec, loaded_net
    from inceptionism.engine.recipe import Recipe
    from inceptionism.engine.video import io
    from inceptionism.engine.video.runner import make_frames
    from inceptionism.plugins import get_plugin_manager

    r = Recipe.from_dict(recipe)
    src = io.probe(inp, float(Fraction(fps)))
    where = Path(folder)
    (where / OVERLAP_DIR).mkdir(exist_ok=True)
    start = seg.first
    while start < seg.stop and _path(where, seg, start).is_file():
        start += 1
    if start == seg.stop:
        return 0
    pm = get_plugin_manager()
    spec = Spec(config=r.config, weights=r.model.weights, mean=r.mean, device=r.device)
    net = loaded_net(spec, pm)[0]
    make_frames(
        net, src, r, where, start, stop=seg.stop, pm=pm, first=seg.first,
        where=lambda k: _path(where, seg, k), tiling=remake.recorded_tiling(r),
    )  # fmt: skip
    return seg.stop - start


def blended(folder: Path, segments: list[Segment], n: int) -> Iterator[np.ndarray]:
    """The final frames: each segment's own, with the warm-up of the next
    cross-faded over the end of the previous one."""
    from inceptionism.engine.video.io import read_frame

    weight: dict[int, float] = {}
    for seg in segments:
        span = seg.start - seg.first
        for i, k in enumerate(range(seg.first, seg.start)):
            weight[k] = (i + 1) / (span + 1)
    for k in range(n):
        a = read_frame(folder / FRAME_NAME.format(k))
        if k in weight:
            b = read_frame(folder / OVERLAP_DIR / FRAME_NAME.format(k))
            a = (1.0 - weight[k]) * a + weight[k] * b
        yield a


def run_segments(
    job: Any,
    length: int,
    *,
    scheduler: str | None = None,
    client: Any = None,
    overwrite: bool = False,
    progress: Any = None,
) -> Path:
    """Dream ``job`` (a :class:`~inceptionism.engine.video.make.VideoJob`
    whose recipe records ``segments``) in segments of about ``length``
    frames, on Dask when ``scheduler``/``client`` is given (else here, one
    after another), then encode the cross-faded frames."""
    from inceptionism.engine.video import io
    from inceptionism.engine.video.runner import prepare_folder

    if not job.encodes:
        raise ValueError("--segments cross-fades at the encode; give a video -o")
    prepare_folder(job.folder, job.recipe, overwrite)
    n = job.src.frames
    segments = plan(n, find_cuts(job.src, job.recipe), length)
    args = (str(job.src.path), str(job.src.fps), job.recipe.to_dict(), str(job.folder))
    if progress is not None:
        progress.total = n
        progress.start(0)
    if scheduler is None and client is None:
        for seg in segments:
            segment_task(*args, seg)
            _count(progress, seg)
    else:
        _on_dask(args, segments, scheduler, client, progress)
    return io.encode(
        job.out, blended(job.folder, segments, n), job.src, fps=job.src.fps,
        size=job.recipe.size, codec=job.codec, crf=job.crf, audio=job.audio,
        recipe=job.container_recipe(),
    )  # fmt: skip


def _count(progress: Any, seg: Segment) -> None:
    for _ in range(seg.stop - seg.start):
        if progress is not None:
            progress.frame()


def _on_dask(args: tuple, segments: list[Segment], scheduler: Any, client: Any,
             progress: Any) -> None:  # fmt: skip
    from inceptionism.engine.batch_dask import RETRIES, _distributed, connect

    distributed = _distributed()
    cluster = None
    if client is None:
        client, cluster = connect(str(scheduler))
    try:
        futures = [
            client.submit(segment_task, *args, seg, pure=False, retries=RETRIES)
            for seg in segments
        ]
        index = {f.key: seg for f, seg in zip(futures, segments)}
        try:
            for future in distributed.as_completed(futures):
                future.result()
                _count(progress, index[future.key])
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        if cluster is not None:
            client.close()
            cluster.close()
