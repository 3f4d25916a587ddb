"""Video in and out with PyAV (the optional extra ``video``), or a folder of
frames.

- :func:`probe` checks an input before any work: a file PyAV can open with
  a video stream whose codec decodes, at least one frame, a constant frame
  rate (every gap between frames the same, within 2% or one tick); it
  decodes the stream once to count its frames (cheap next to dreaming them) and
  returns a :class:`Source` with the frame rate, size, sample aspect ratio,
  rotation, frame count and whether there is audio. A folder of PNG/JPEG
  frames (sorted by name, all one size) is a source too, at ``--fps``.
- :func:`frames` decodes the frames as float32 RGB at the dream size
  (:func:`dream_size`: ``--max-size`` as for pictures, then, for yuv420p,
  the last row/column cropped to make both sides even).
- :func:`encode` writes frames with the source's frame rate, sample aspect
  ratio and rotation (the display matrix), H.264 yuv420p at ``--crf`` by
  default, and copies the audio stream's packets unchanged (no re-encode);
  the recipe goes into the container's ``comment`` metadata. The file is
  written to a temporary name and renamed when complete, so Ctrl-C or an
  error leaves nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.engine.video import require
from inceptionism.weights.files import atomic_path, sha1_bytes, sha1_file

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Container format and default codec for each output suffix.
CONTAINERS = {
    ".mp4": ("mp4", "libx264"),
    ".m4v": ("mp4", "libx264"),
    ".mov": ("mov", "libx264"),
    ".mkv": ("matroska", "libx264"),
    ".webm": ("webm", "libvpx-vp9"),
}
#: Codecs that take ``crf``.
_CRF = ("libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1")
METADATA_KEY = "comment"


@dataclass(frozen=True)
class Source:
    """A video to dream: a file (``kind="file"``) or a folder of frames."""

    path: Path
    kind: str
    width: int
    height: int
    fps: Fraction
    frames: int
    sar: Fraction | None = None
    rotation: int = 0
    audio: bool = False
    codec: str = ""
    files: tuple[Path, ...] = field(default=(), repr=False)

    def sha1(self) -> str:
        """SHA-1 of the file, or of the frames' SHA-1s in order (a folder)."""
        if self.kind == "file":
            return sha1_file(self.path)
        return sha1_bytes("\n".join(sha1_file(f) for f in self.files).encode())


def _av_error(av: Any) -> tuple[type[BaseException], ...]:
    return (av.FFmpegError, OSError, ValueError, StopIteration)


def _probe_folder(path: Path, fps: float | None) -> Source:
    from PIL import Image

    files = tuple(
        sorted(f for f in path.iterdir() if f.suffix.lower() in FRAME_SUFFIXES)
    )
    if not files:
        raise ValueError(f"{path}: no .png or .jpg frames in this folder")
    with Image.open(files[0]) as img:
        size = img.size
    for f in files[1:]:
        with Image.open(f) as img:
            if img.size != size:
                raise ValueError(
                    f"{f} is {img.size[0]}x{img.size[1]} but {files[0].name} is "
                    f"{size[0]}x{size[1]}; all frames must have one size"
                )
    rate = Fraction(fps if fps else 25).limit_denominator(1001)
    return Source(path, "folder", size[0], size[1], rate, len(files), files=files)


def probe(path: str | Path, fps: float | None = None) -> Source:
    """The :class:`Source` at ``path``, or a one-line ``ValueError`` saying
    what is wrong with it (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        return _probe_folder(path, fps)
    if not path.is_file():
        raise ValueError(f"{path}: no such file or folder")
    av = require("av")
    try:
        container = av.open(str(path))
    except _av_error(av) as exc:
        raise ValueError(
            f"{path}: not a video PyAV can read ({exc}); give a video file "
            "(.mp4, .mkv, .mov, .webm) or a folder of frames"
        ) from None
    with container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream in this file")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        pts = [p.pts for p in container.demux(stream) if p.pts is not None and p.size]
        if not pts:
            raise ValueError(f"{path}: the video stream has no frames")
        _check_constant_rate(path, sorted(pts), stream.time_base)
        container.seek(0)
        stream.thread_type = "AUTO"
        try:  # count what decodes (a packet is not always a frame)
            decoded = container.decode(stream)
            first = next(decoded)
            count = 1 + sum(1 for _ in decoded)
        except _av_error(av) as exc:
            raise ValueError(
                f"{path}: cannot decode its {codec} video ({exc}); convert it to "
                "H.264 first"
            ) from None
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise ValueError(f"{path}: the video stream has no frame rate")
        sar = stream.codec_context.sample_aspect_ratio
        return Source(
            path, "file", first.width, first.height, Fraction(rate), count,
            sar=Fraction(sar) if sar else None, rotation=int(first.rotation or 0),
            audio=bool(container.streams.audio), codec=codec,
        )  # fmt: skip


def _check_constant_rate(path: Path, pts: list[int], time_base: Any) -> None:
    if len(pts) < 3:
        return
    gaps = np.diff(np.asarray(pts, dtype=np.float64))
    med = float(np.median(gaps))
    if med <= 0 or np.all(np.abs(gaps - med) <= max(1.0, 0.02 * med)):
        return
    tb = float(time_base or 1)
    raise ValueError(
        f"{path} has a variable frame rate (gaps from {gaps.min() * tb:.4f} to "
        f"{gaps.max() * tb:.4f} s); convert it to a constant rate first, e.g. "
        "ffmpeg -i IN -fps_mode cfr -r 30 constant.mp4"
    )


def dream_size(src: Source, max_size: int | None, even: bool) -> tuple[int, int]:
    """``(H, W)`` the frames are dreamed at: ``--max-size`` (rounded as
    :func:`inceptionism.engine.image.downsize`), then even sides if ``even``."""
    h, w = src.height, src.width
    if max_size and max(h, w) > max_size:
        k = max_size / max(h, w)
        h, w = max(1, round(h * k)), max(1, round(w * k))
    if even:
        h, w = h - h % 2, w - w % 2
        if not (h and w):
            raise ValueError(f"{src.path}: too small for yuv420p ({src.width}x"
                             f"{src.height})")  # fmt: skip
    return h, w


def fit(rgb: np.ndarray, size: tuple[int, int], max_size: int | None) -> np.ndarray:
    """``rgb`` downsized by ``max_size`` and cropped to ``size`` (the last
    rows/columns go)."""
    from inceptionism.engine.image import downsize

    if max_size:
        rgb = downsize(rgb, max_size)[0]
    return np.ascontiguousarray(rgb[: size[0], : size[1]], dtype=np.float32)


def read_frame(path: Path) -> np.ndarray:
    """A frame file as float32 RGB (H, W, 3) 0..255."""
    from inceptionism.engine.image import load_image

    rgb = load_image(path)
    assert isinstance(rgb, np.ndarray)
    return rgb


def frames(
    src: Source, size: tuple[int, int], max_size: int | None = None
) -> Iterator[np.ndarray]:
    """The source's frames, float32 RGB (H, W, 3) 0..255 at ``size``."""
    if src.kind == "folder":
        for f in src.files:
            yield fit(read_frame(f), size, max_size)
        return
    av = require("av")
    with av.open(str(src.path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24").astype(np.float32)
            yield fit(rgb, size, max_size)


def output_format(out: Path, codec: str | None) -> tuple[str, str]:
    """``(container format, codec)`` for ``out``; ``ValueError`` for a suffix
    or codec this build of PyAV cannot write."""
    suffix = out.suffix.lower()
    if suffix not in CONTAINERS:
        raise ValueError(
            f"{out}: write {', '.join(CONTAINERS)} (or give a folder for PNG frames)"
        )
    fmt, default = CONTAINERS[suffix]
    codec = codec or default
    av = require("av")
    if codec not in av.codecs_available:
        raise ValueError(f"--codec {codec}: not in this PyAV build; try libx264")
    return fmt, codec


def check_audio(out: Path, src: Source) -> None:
    """``ValueError`` if ``src``'s audio cannot be copied into ``out``'s
    container (e.g. AAC into WebM): a header is written to memory to see."""
    import io as stdio

    av = require("av")
    fmt = CONTAINERS[out.suffix.lower()][0]
    with av.open(str(src.path)) as inp:
        a = inp.streams.audio[0]
        try:
            with av.open(stdio.BytesIO(), "w", format=fmt) as c:
                c.add_stream_from_template(a)
                c.start_encoding()
        except _av_error(av) as exc:
            raise ValueError(
                f"{out}: the {a.codec_context.name} audio cannot be copied into "
                f"{out.suffix} ({exc}); use .mkv or .mp4, or --no-audio"
            ) from None


def encode(
    out: Path,
    images: Iterable[np.ndarray],
    src: Source | None,
    *,
    fps: Fraction,
    size: tuple[int, int],
    codec: str | None = None,
    crf: int = 18,
    audio: bool = True,
    recipe: dict[str, Any] | None = None,
) -> Path:
    """Encode ``images`` (uint8 or float RGB (H, W, 3) at ``size``) into
    ``out`` atomically, with ``src``'s aspect ratio, rotation and (when
    ``audio``) its audio packets copied. Returns ``out``."""
    av = require("av")
    fmt, codec = output_format(out, codec)
    h, w = size
    with atomic_path(out) as tmp, av.open(str(tmp), "w", format=fmt) as container:
        if recipe is not None:
            container.metadata[METADATA_KEY] = json.dumps(recipe, sort_keys=True)
        options = {"crf": str(crf)} if codec in _CRF else {}
        if codec == "libvpx-vp9":
            options["b"] = "0"
        stream = container.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p" if codec != "png" else "rgb24"
        if src is not None and src.sar:
            stream.codec_context.sample_aspect_ratio = src.sar
        if src is not None and src.rotation:
            stream.set_display_rotation(src.rotation)
        inp = None
        if audio and src is not None and src.kind == "file" and src.audio:
            inp = av.open(str(src.path))
            a_in = inp.streams.audio[0]
            a_out = container.add_stream_from_template(a_in)
        try:
            for i, rgb in enumerate(images):
                u8 = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(u8, format="rgb24")
                frame.pts = i
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
            if inp is not None:
                for packet in inp.demux(a_in):
                    if packet.dts is None:
                        continue
                    packet.stream = a_out
                    container.mux(packet)
        finally:
            if inp is not None:
                inp.close()
    return out


def read_metadata_recipe(path: str | Path) -> dict[str, Any] | None:
    """The recipe :func:`encode` stored in a container, or None."""
    av = require("av")
    try:
        with av.open(str(path)) as container:
            meta = {k.lower(): v for k, v in container.metadata.items()}
            text = meta.get(METADATA_KEY)  # Matroska writes COMMENT
    except _av_error(av):
        return None
    try:
        d = json.loads(text) if text else None
    except json.JSONDecodeError:
        return None
    return d if isinstance(d, dict) else None
