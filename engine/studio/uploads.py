"""Pictures sent to the studio: limited, checked, stored by content hash.

An upload is refused (:class:`UploadError`, one sentence naming the file)
when it is empty or over ``max_bytes``, when Pillow cannot read it, or when
it has more than ``max_pixels`` pixels: the same decompression-bomb guard as
the command line (:func:`inceptionism.engine.image.load_image`), applied
before the pixels are decoded. An accepted one is written atomically into
the studio's ``uploads`` folder as ``<sha256><suffix>`` (the suffix from the
format Pillow found, never from the name the browser sent), so the same
picture sent twice is stored once and no name from outside ever reaches
the file system. Nothing in that folder is ever executed or served except
by that id (:data:`ID`).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from inceptionism.engine.image import ImageError, load_image, read_recipe
from inceptionism.weights.files import write_bytes

#: Formats taken, with the suffix they are stored under.
SUFFIXES = {
    "PNG": ".png",
    "JPEG": ".jpg",
    "WEBP": ".webp",
    "TIFF": ".tif",
    "BMP": ".bmp",
    "GIF": ".gif",
}
#: What an upload id looks like; anything else is never looked up.
ID = re.compile(r"[0-9a-f]{64}\.(?:png|jpg|webp|tif|bmp|gif)")
#: Default limits (``inceptionism studio --max-upload-mb/--max-pixels``).
MAX_BYTES = 64 * 2**20
MAX_PIXELS = 40_000_000


class UploadError(ValueError):
    """A picture the studio does not take; the message says why."""


@dataclass(frozen=True)
class Upload:
    """A stored picture: its id (file name), path, size and recipe (if any)."""

    id: str
    path: Path
    width: int
    height: int
    recipe: dict[str, Any] | None


def clean(name: str) -> str:
    """The browser's file name, for messages only."""
    name = re.sub(r"[^\w .()+-]", "_", Path(name or "picture").name)[:80]
    return name or "picture"


def over_limit(shown: str, max_bytes: int, size: int | None = None) -> str:
    """The sentence for a picture over ``max_bytes`` (with its size if known)."""
    what = "" if size is None else f"{size / 2**20:.1f} MB, "
    return (
        f"{shown} is {what}over the studio's limit of "
        f"{max_bytes / 2**20:.0f} MB; downsize it first"
    )


def store(
    folder: Path,
    data: bytes,
    name: str = "picture",
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> Upload:
    """Check ``data`` and keep it in ``folder`` (see the module docstring)."""
    shown = clean(name)
    if not data:
        raise UploadError(f"{shown} is empty; choose a picture file")
    if len(data) > max_bytes:
        raise UploadError(over_limit(shown, max_bytes, len(data)))
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    incoming = folder / f"{digest}.incoming"
    write_bytes(incoming, data)
    try:
        try:
            rgb = load_image(incoming, max_pixels=max_pixels)
            assert isinstance(rgb, np.ndarray)  # without with_alpha
        except ImageError as exc:
            raise UploadError(str(exc).replace(str(incoming), shown)) from None
        with Image.open(incoming) as img:
            fmt = img.format
        suffix = SUFFIXES.get(fmt or "")
        if suffix is None:
            raise UploadError(
                f"{shown} is a {fmt} picture; the studio takes {', '.join(SUFFIXES)}"
            )
        path = folder / f"{digest}{suffix}"
        incoming.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            incoming.unlink()
    try:
        recipe = read_recipe(path)
    except (ValueError, OSError):
        recipe = None  # a damaged recipe: the picture is still a picture
    return Upload(path.name, path, int(rgb.shape[1]), int(rgb.shape[0]), recipe)


def find(folder: Path, upload_id: str) -> Path | None:
    """The stored file of ``upload_id``, or None (unknown or malformed id)."""
    if not ID.fullmatch(upload_id):
        return None
    path = folder / upload_id
    return path if path.is_file() else None
