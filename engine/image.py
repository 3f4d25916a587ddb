"""Reading and writing images (Pillow), with the dream's recipe embedded.

- :func:`load_image` returns float32 RGB ``(H, W, 3)`` in 0..255 (and the
  alpha channel, if any, as float32 ``(H, W)`` in 0..255). EXIF orientation is
  applied; L, LA, P, RGBA, CMYK, 1-bit and 16-bit (``I;16``, ``I``) inputs are
  converted; 16-bit values are scaled by 255/65535 (a 32-bit ``I`` image
  whose values all lie in 0..255 is read as 8-bit), float (``F``) values are
  taken as 0..255, or as 0..1 when they all lie there.
- :func:`save_image` writes PNG, JPEG, WebP or TIFF (others through Pillow,
  with a sidecar recipe). 8-bit by default; ``bits=16`` writes a 16-bit PNG
  (Pillow cannot write 16-bit RGB, so that PNG is encoded here with zlib).
  The recipe (a JSON-able dict) goes into a PNG ``iTXt`` chunk keyword
  ``inceptionism``, the EXIF ``UserComment`` of JPEG and WebP, the TIFF
  ``ImageDescription``, or ``<out>.json`` for any other format.
- :func:`save_animation` writes an animated GIF (recipe in the GIF comment)
  or WebP (recipe in the EXIF ``UserComment``).
- Writes are atomic (:func:`inceptionism.weights.files.atomic_open`): a
  temporary file in the destination folder, fsync, then :func:`os.replace`;
  the file gets the umask's mode like a plain ``open`` (0644 under umask
  022); on failure nothing is left behind and an existing file is
  untouched. A path in ``protect`` (the input) is never overwritten.
- Decompression bombs (more than ``max_pixels`` pixels, Pillow's
  ``Image.MAX_IMAGE_PIXELS`` by default) and files that are not images are
  refused with an :class:`ImageError` naming the file.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import warnings
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import (
    Image,
    ImageOps,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
)

from inceptionism.weights.files import atomic_open, write_bytes

#: Keyword of the PNG text chunk that holds the recipe.
RECIPE_KEY = "inceptionism"
_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286
_IMAGE_DESCRIPTION = 270
_ASCII_CODE = b"ASCII\0\0\0"  # EXIF UserComment character-code prefix

_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


class ImageError(ValueError):
    """An image file that cannot be read or written; the message names it."""


# -- reading ---------------------------------------------------------------


def _open(src: Path | BinaryIO, max_pixels: int | None, path: Any) -> Image.Image:
    """Open ``src`` (a file, or bytes read from stdin); ``path`` names it."""
    if isinstance(src, Path) and src.is_dir():
        raise ImageError(f"{path}: is a directory; give an image file")
    if isinstance(src, Path) and not src.is_file():
        raise ImageError(f"{path}: no such file")
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        img = Image.open(src)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (Pillow cannot read it)") from None
    except Image.DecompressionBombError as exc:  # over twice Pillow's limit
        raise ImageError(
            f"{path}: refused as a possible decompression bomb ({exc}); "
            "downsize it first"
        ) from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read the image ({exc})") from None
    w, h = img.size
    if limit is not None and w * h > limit:
        img.close()
        raise ImageError(
            f"{path}: {w}x{h} = {w * h} pixels is over the limit of {limit} "
            "(a possible decompression bomb); downsize it first"
        )
    return img


def load_image(
    path, *, with_alpha: bool = False, max_pixels: int | None = None
) -> np.ndarray | tuple[np.ndarray, np.ndarray | None]:
    """Read an image as float32 RGB ``(H, W, 3)`` in 0..255.

    With ``with_alpha=True`` returns ``(rgb, alpha)``, alpha float32 ``(H, W)``
    in 0..255 or None. ``max_pixels`` (default Pillow's
    ``Image.MAX_IMAGE_PIXELS``) bounds the pixel count before decoding.
    ``path`` ``"-"`` reads the image's bytes from stdin.
    """
    src: Path | BinaryIO
    if str(path) == "-":
        src, path = io.BytesIO(sys.stdin.buffer.read()), "<stdin>"
    else:
        src = path = Path(path)
    img = _open(src, max_pixels, path)
    try:
        with warnings.catch_warnings():
            # the limit is checked above; Pillow's own warning would be noise
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
            img = ImageOps.exif_transpose(img)
            rgb, alpha = _to_rgb_alpha(img)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: not a readable image ({exc})") from None
    finally:
        img.close()
    return (rgb, alpha) if with_alpha else rgb


def _to_rgb_alpha(img: Image.Image):
    """Mode-by-mode conversion to float RGB and optional alpha, 0..255."""
    mode = img.mode
    if mode == "P":
        mode_to = "RGBA" if "transparency" in img.info else "RGB"
        img, mode = img.convert(mode_to), mode_to
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit (or 32-bit integer) grey: keep the precision, scale to 0..255;
        # 32-bit integers all within 0..255 are 8-bit values (scaled as 16-bit
        # they were a black picture)
        a = np.asarray(img.convert("I"), dtype=np.float64)
        if mode != "I" or a.max(initial=0) > 255 or a.min(initial=0) < 0:
            a *= 255.0 / 65535.0
        a = np.clip(a, 0.0, 255.0).astype(np.float32)
        return np.repeat(a[..., None], 3, axis=2), None
    if mode == "F":
        a = np.asarray(img, dtype=np.float32)
        finite = np.isfinite(a)
        if not finite.all():  # would dream NaN from the first step
            bad = int(a.size - np.count_nonzero(finite))
            raise ValueError(
                f"{bad} pixel(s) are NaN or infinite; fix or convert the image "
                "(e.g. to 16-bit PNG) first"
            )
        if a.size and a.min() >= 0 and a.max() <= 1:  # the 0..1 convention
            a = a * np.float32(255)  # (read as 0..255 it was a black picture)
        a = np.clip(a, 0.0, 255.0)
        return np.repeat(a[..., None], 3, axis=2), None
    alpha = None
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        alpha = np.asarray(img.getchannel("A"), dtype=np.float32)
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32)  # L, 1, CMYK, YCbCr..
    return rgb, alpha


# -- writing ---------------------------------------------------------------


def _format_for(path: Path) -> str | None:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        Image.init()
        fmt = Image.EXTENSION.get(path.suffix.lower())
    return fmt


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (
            a.exists() and b.exists() and os.path.samefile(a, b)
        )
    except OSError:
        return False


def _finite(path: Path, a) -> np.ndarray:
    """``a`` as an array, or ``ImageError`` if it holds NaN or infinity (which
    would be written as black: never a picture made from garbage)."""
    a = np.asarray(a)
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        bad = int(a.size - np.count_nonzero(np.isfinite(a)))
        raise ImageError(
            f"{path}: refusing to write an image holding {bad} NaN or infinite "
            "value(s); the dream diverged (try a lower --step-size)"
        )
    return a


def _to_uint(a: np.ndarray, bits: int) -> np.ndarray:
    a = np.clip(np.asarray(a, dtype=np.float64), 0.0, 255.0)
    if bits == 16:
        return np.rint(a * (65535.0 / 255.0)).astype(np.uint16)
    return np.rint(a).astype(np.uint8)


def _png16(rgb16: np.ndarray, text: str | None) -> bytes:
    """A 16-bit RGB(A) PNG (color type 2 or 6, filter 0 on every row)."""
    h, w, c = rgb16.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    color_type = 6 if c == 4 else 2
    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    rows = rgb16.astype(">u2").view(np.uint8).reshape(h, w * c * 2)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if text is not None:  # iTXt: keyword, no compression, no language tags
        itxt = RECIPE_KEY.encode() + b"\0\0\0\0\0" + text.encode("utf-8")
        out += chunk(b"iTXt", itxt)
    return out + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def _atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file_object)`` on a temp file beside ``path``, then rename."""
    with atomic_open(path) as f:
        write(f)


def _exif_comment(text: str) -> bytes:
    """EXIF bytes whose ``UserComment`` holds ``text`` (ASCII, escaped)."""
    exif = Image.Exif()
    comment = _ASCII_CODE + text.encode("ascii", "backslashreplace")
    exif.get_ifd(_EXIF_IFD)[_USER_COMMENT] = comment
    return exif.tobytes()


def save_image(
    path,
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    recipe: dict | None = None,
    bits: int = 8,
    quality: int = 95,
    protect: Iterable = (),
) -> Path:
    """Write float RGB ``(H, W, 3)`` (values clipped to 0..255) to ``path``.

    alpha : optional ``(H, W)`` in 0..255, re-attached (PNG, WebP, TIFF; JPEG
        has no alpha and drops it).
    recipe : JSON-able dict embedded in the file (see the module docstring).
    bits : 8, or 16 for a 16-bit PNG.
    protect : paths that must not be overwritten (the input image).
    Returns the path written.
    """
    path = Path(path)
    for p in protect:
        if p is not None and _same_file(path, Path(p)):
            raise ImageError(
                f"{path}: refusing to overwrite the input image; choose another -o"
            )
    fmt = _format_for(path)
    if fmt is None:
        raise ImageError(
            f"{path}: unknown image format {path.suffix!r}; use .png, .jpg, "
            ".webp or .tif"
        )
    if bits not in (8, 16):
        raise ImageError(f"{path}: bits must be 8 or 16, not {bits}")
    if bits == 16 and fmt != "PNG":
        raise ImageError(f"{path}: 16-bit output is written as PNG only; use .png")
    if not path.parent.is_dir():
        raise ImageError(f"{path}: folder {path.parent} does not exist")
    rgb = _finite(path, rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageError(f"{path}: expected an (H, W, 3) RGB array, got {rgb.shape}")
    if alpha is not None and fmt == "JPEG":
        alpha = None
    text = None if recipe is None else json.dumps(recipe, sort_keys=True)
    sidecar = fmt not in ("PNG", "JPEG", "WEBP", "TIFF") and text is not None

    planes = [rgb] if alpha is None else [rgb, np.asarray(alpha)[..., None]]
    data = _to_uint(np.concatenate(planes, axis=2), bits)

    def write(f):
        if bits == 16:
            f.write(_png16(data, text))
            return
        img = Image.fromarray(data, "RGB" if alpha is None else "RGBA")
        kwargs = {}
        if fmt == "PNG" and text is not None:
            info = PngImagePlugin.PngInfo()
            info.add_itxt(RECIPE_KEY, text)
            kwargs["pnginfo"] = info
        elif fmt in ("JPEG", "WEBP") and text is not None:
            kwargs["exif"] = _exif_comment(text)
        elif fmt == "TIFF" and text is not None:
            kwargs["tiffinfo"] = {_IMAGE_DESCRIPTION: text}
        if fmt in ("JPEG", "WEBP"):
            kwargs["quality"] = quality
        img.save(f, format=fmt, **kwargs)

    try:
        _atomic_write(path, write)
        if sidecar and text is not None:
            write_bytes(_sidecar(path), text.encode("utf-8"))
    except OSError as exc:
        raise ImageError(f"{path}: cannot write the image ({exc})") from None
    return path


def save_animation(
    path,
    frames,
    *,
    duration_ms: int = 80,
    recipe: dict | None = None,
    protect: Iterable = (),
) -> Path:
    """Write float RGB frames as an animated GIF or WebP, looping, atomically.

    recipe : JSON-able dict, kept in the GIF comment or the WebP EXIF
        ``UserComment`` (read back by :func:`read_recipe`).
    """
    path = Path(path)
    for p in protect:
        if p is not None and _same_file(path, Path(p)):
            raise ImageError(f"{path}: refusing to overwrite the input image")
    fmt = _format_for(path)
    if fmt not in ("GIF", "WEBP"):
        raise ImageError(f"{path}: animations are written as .gif or .webp")
    images = [Image.fromarray(_to_uint(_finite(path, f), 8), "RGB") for f in frames]
    if not images:
        raise ImageError(f"{path}: no frames to write")

    kwargs: dict = {}
    if recipe is not None:
        text = json.dumps(recipe, sort_keys=True)
        if fmt == "GIF":
            kwargs["comment"] = text.encode("utf-8")
        else:
            kwargs["exif"] = _exif_comment(text)

    def write(f):
        images[0].save(
            f,
            format=fmt,
            save_all=True,
            append_images=images[1:],
            duration=duration_ms,
            loop=0,
            **kwargs,
        )

    try:
        _atomic_write(path, write)
    except OSError as exc:
        raise ImageError(f"{path}: cannot write the animation ({exc})") from None
    return path


def downsize(rgb: np.ndarray, max_side: int, alpha: np.ndarray | None = None):
    """Shrink ``rgb`` (and ``alpha``) so that the longer side is at most
    ``max_side`` pixels (Lanczos, Pillow; sizes rounded). Returns ``(rgb,
    alpha)``, unchanged if already small enough."""
    if max_side < 1:
        raise ValueError(
            f"--max-size must be a positive number of pixels, got {max_side}"
        )
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb, alpha
    k = max_side / max(h, w)
    size = (max(1, round(w * k)), max(1, round(h * k)))

    def shrink(plane):
        img = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), "F")
        return np.asarray(img.resize(size, Image.Resampling.LANCZOS), np.float32)

    out = np.stack([shrink(rgb[..., c]) for c in range(3)], axis=2)
    out = np.clip(out, 0.0, 255.0)
    if alpha is not None:
        alpha = np.clip(shrink(alpha), 0.0, 255.0)
    return out, alpha


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


# -- the recipe ------------------------------------------------------------


def read_recipe(path) -> dict | None:
    """The recipe embedded by :func:`save_image`, or None if there is none."""
    path = Path(path)
    img = _open(path, None, path)
    try:
        text = img.info.get(RECIPE_KEY)  # PNG iTXt/tEXt
        if text is None and isinstance(img, TiffImagePlugin.TiffImageFile):
            text = img.tag_v2.get(_IMAGE_DESCRIPTION)
        if text is None and img.format == "GIF":
            comment = img.info.get("comment")
            if isinstance(comment, bytes):
                text = comment.decode("utf-8", "replace")
        if text is None and img.format in ("JPEG", "WEBP"):
            raw = img.getexif().get_ifd(_EXIF_IFD).get(_USER_COMMENT)
            if isinstance(raw, bytes) and raw.startswith(_ASCII_CODE):
                text = raw[len(_ASCII_CODE) :].decode("ascii")
            elif isinstance(raw, str):
                text = raw
    finally:
        img.close()
    if text is None and _sidecar(path).is_file():
        text = _sidecar(path).read_text(encoding="utf-8")
    if text is None:
        return None
    try:
        recipe = json.loads(str(text))
    except json.JSONDecodeError:
        return None  # some other program's text in the same place
    return recipe if isinstance(recipe, dict) else None


def sample_image_path() -> Path:
    """The sample picture shipped with the package (512x384 procedural
    clouds, made by ``engine/data/make_sample.py``)."""
    return Path(__file__).with_name("data") / "sample.png"
