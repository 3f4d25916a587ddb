"""``dream_video``: a video (or a folder of frames) in, a dreamed video (or
folder) out; the checks before the work, the frames, the encode.

Everything that can be wrong is found before the first frame: the output
(suffix, codec, folder, an existing file without ``overwrite``), the input
(:func:`inceptionism.engine.video.io.probe`), the weights, guide images and
memory (:func:`inceptionism.engine.preflight.check_job`), and the frames
folder of an earlier run (:func:`inceptionism.engine.video.runner.prepare_folder`).
Without a seed, a run continuing an earlier one's frames takes its seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.engine.dream import DreamConfig
from inceptionism.engine.recipe import FileRef, Mean, ModelRef, Recipe, guide_paths
from inceptionism.engine.video import io
from inceptionism.engine.video.recipe import (
    FRAME_NAME,
    Settings,
    source_ref,
    video_dict,
)
from inceptionism.engine.video.runner import (
    FrameProgress,
    check_folder,
    make_frames,
    prepare_folder,
    read_frame,
    recorded_run,
)


@dataclass
class VideoJob:
    """A checked video job: the run's recipe, the net, where frames go."""

    recipe: Recipe
    net: Any
    src: io.Source
    out: Path
    folder: Path
    codec: str | None = None
    crf: int = 18
    audio: bool = True
    tiling: Any = None
    notices: list[str] = field(default_factory=list)

    @property
    def encodes(self) -> bool:
        return self.out != self.folder

    def container_recipe(self) -> dict[str, Any]:
        """The run's recipe plus the encoder's settings (not part of the
        frames' identity: the same frames may be encoded again otherwise)."""
        d = self.recipe.to_dict()
        d["video"] = {**d["video"], "codec": self.codec, "crf": self.crf,
                      "audio": self.audio}  # fmt: skip
        return d


def frames_folder(out: Path) -> Path:
    """Where frames go: ``-o FOLDER`` itself, or ``OUT.frames`` beside a video."""
    if out.suffix.lower() in io.CONTAINERS:
        return out.with_name(out.name + ".frames")
    if out.suffix and not out.is_dir():
        raise ValueError(
            f"{out}: write a video ({', '.join(io.CONTAINERS)}) or a folder of "
            "PNG frames (a name without a suffix)"
        )
    return out


def _check_output(out: Path, inp: Path, codec: str | None, overwrite: bool) -> None:
    from inceptionism.engine.preflight import _writable

    if out.resolve() == inp.resolve():
        raise ValueError(f"{out}: refusing to overwrite the input; choose -o")
    if out.suffix.lower() not in io.CONTAINERS:
        return  # a folder of frames: prepare_folder checks it
    io.output_format(out, codec)
    _writable(out.parent, out)
    if out.exists() and not overwrite:
        raise ValueError(
            f"{out} already exists; pass --overwrite to replace it, or choose "
            "another -o"
        )


def build(
    inp: str | Path,
    out: str | Path,
    config: DreamConfig,
    *,
    weights: str | Path | None = None,
    model: str | None = None,
    settings: Settings = Settings(),  # noqa: B008 - frozen
    mean: Mean = "file",
    max_size: int | None = None,
    device: str = "cpu",
    fps: float | None = None,
    codec: str | None = None,
    crf: int = 18,
    audio: bool = True,
    tiling: Any = None,
    overwrite: bool = False,
    seed_given: bool = True,
    segments: int | None = None,
    pm: Any = None,
) -> VideoJob:
    """A :class:`VideoJob`, every check done (see the module docstring)."""
    from inceptionism.engine import preflight, remake
    from inceptionism.engine.models import load_named_model
    from inceptionism.engine.net import Net
    from inceptionism.weights.files import sha1_file

    inp, out = Path(inp), Path(out)
    folder = frames_folder(out)
    _check_output(out, inp, codec, overwrite)
    if not 0 <= crf <= 63:
        raise ValueError(f"--crf must be in 0..63, got {crf}")
    if fps is not None and not 0.01 <= fps <= 1000:  # NaN too
        raise ValueError(f"--fps must be a frame rate in 0.01..1000, got {fps}")
    src = io.probe(inp, fps)
    encodes = out != folder
    size = io.dream_size(src, max_size, encodes)
    notices = []
    odd = io.dream_size(src, max_size, False)
    if odd != size:
        notices.append(
            f"{odd[1]}x{odd[0]} has an odd side, which yuv420p cannot hold; "
            f"cropped to {size[1]}x{size[0]} (the last row/column)"
        )
    if audio and src.audio and encodes:
        io.check_audio(out, src)
    elif audio and src.audio:
        notices.append("frames out: the audio is not copied (encode to keep it)")
    m, wpath = load_named_model(None if weights is None else str(weights), model, pm)
    net = Net(remake.with_mean(m, mean), device=device)
    guides = tuple(FileRef.of(p) for p in guide_paths(config.objective, pm))
    video = video_dict(settings, src.frames, src.fps)
    if segments:  # frames differ from a sequential run's: part of the identity
        from inceptionism.engine.video.segments import OVERLAP

        video.update(segments=segments, overlap=OVERLAP)
    recipe = Recipe(
        config=config,
        model=ModelRef(m.name, m.source, str(wpath.resolve()), sha1_file(wpath)),
        input=source_ref(src), size=size, preprocess=net.model.preprocess,
        mean=mean, max_size=max_size, device=device, guides=guides,
        video=video,
    )  # fmt: skip
    if not seed_given and folder.is_dir():  # continue with the earlier seed
        old = recorded_run(folder)
        if old is not None and old.config.seed is not None:
            seeded = dataclasses.replace(config, seed=old.config.seed)
            recipe = dataclasses.replace(recipe, config=seeded)
    job = remake.Job(recipe, net, np.zeros((*size, 3), np.float32), None, inp)
    if tiling is not None:
        job = remake.with_tiling(job, tiling, pm)
    preflight.check_job(job, pm)
    check_folder(folder, job.recipe, overwrite)
    return VideoJob(job.recipe, net, src, out, folder, codec, crf, audio,
                    remake.recorded_tiling(job.recipe), notices)  # fmt: skip


def run_job(
    job: VideoJob,
    *,
    overwrite: bool = False,
    pm: Any = None,
    progress: FrameProgress | None = None,
    on_frame: Any = None,
) -> Path:
    """Make the job's missing frames, then encode the video (if any)."""
    start = prepare_folder(job.folder, job.recipe, overwrite)
    total = job.src.frames
    if progress is not None:
        progress.total = total
        progress.start(start, job.folder)
    if start < total:
        n = make_frames(
            job.net, job.src, job.recipe, job.folder, start, pm=pm,
            progress=progress, on_frame=on_frame, tiling=job.tiling,
        )  # fmt: skip
        if n != total:
            raise ValueError(
                f"{job.src.path} decoded to {n} frames, but its stream lists "
                f"{total}; the video may be damaged"
            )
    if job.encodes:
        encode_frames(job)
    return job.out


def encode_frames(job: VideoJob) -> Path:
    """Encode the frames folder into ``job.out`` (with the input's audio)."""
    paths = [job.folder / FRAME_NAME.format(k) for k in range(job.src.frames)]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise ValueError(f"{missing[0]} is missing; run the same command again")
    return io.encode(
        job.out, (read_frame(p) for p in paths), job.src,
        fps=Fraction(job.src.fps), size=job.recipe.size, codec=job.codec,
        crf=job.crf, audio=job.audio, recipe=job.container_recipe(),
    )  # fmt: skip


def replay_video(
    path: str | Path,
    out: str | Path,
    *,
    inp: str | Path | None = None,
    weights: str | Path | None = None,
    device: str | None = None,
    overwrite: bool = False,
    pm: Any = None,
    progress: FrameProgress | None = None,
) -> Path:
    """Re-make the whole video at ``path`` from the recipe in its metadata
    (frames into ``OUT.frames``, then the encode); ``ReplayError`` when the
    recipe is missing or the input is not the one it was made from."""
    from inceptionism.engine.recipe import ReplayError
    from inceptionism.engine.remake import recorded_tiling
    from inceptionism.engine.video.recipe import check_video, settings_of

    d = io.read_metadata_recipe(path)
    if d is None or "video" not in d:
        raise ReplayError(f"{path}: no inceptionism video recipe in its metadata")
    v = d["video"]
    check_video(v, str(path))
    encoder = {k: v.pop(k) for k in ("codec", "crf", "audio") if k in v}
    recipe = Recipe.from_dict(d, str(path))
    if recipe.config.seed is None:
        raise ReplayError(f"{path} records no seed, so it cannot be re-made")
    src = inp or recipe.input.path
    if io.probe(src, float(Fraction(v["fps"]))).sha1() != recipe.input.sha1:
        raise ReplayError(
            f"{src} is not the video {path} was made from (its SHA-1 differs); "
            "give the right one as IN"
        )
    job = build(
        src, out, recipe.config, weights=weights or recipe.model.weights,
        settings=settings_of(recipe), mean=recipe.mean, max_size=recipe.max_size,
        device=device or recipe.device, fps=float(Fraction(v["fps"])),
        codec=encoder.get("codec"), crf=encoder.get("crf", 18),
        audio=encoder.get("audio", True), tiling=recorded_tiling(recipe),
        overwrite=overwrite, segments=v.get("segments"), pm=pm,
    )  # fmt: skip
    if v.get("segments"):
        from inceptionism.engine.video.segments import run_segments

        return run_segments(job, int(v["segments"]), overwrite=overwrite,
                            progress=progress)  # fmt: skip
    return run_job(job, overwrite=overwrite, pm=pm, progress=progress)


def dream_video(
    inp: str | Path,
    out: str | Path,
    config: DreamConfig | None = None,
    *,
    overwrite: bool = False,
    pm: Any = None,
    progress: FrameProgress | None = None,
    on_frame: Any = None,
    **options: Any,
) -> Path:
    """Dream the video (or folder of frames) ``inp`` into ``out`` (a video
    file, or a folder of PNG frames); ``options`` are :func:`build`'s. The
    same call again continues an interrupted run. Returns ``out``."""
    config = config or DreamConfig(seed=0)
    job = build(inp, out, config, overwrite=overwrite, pm=pm, **options)
    return run_job(job, overwrite=overwrite, pm=pm, progress=progress,
                   on_frame=on_frame)  # fmt: skip
