"""``-`` on the command line: the input image from stdin, PNG to stdout.

The dream needs files (the recipe records the input's SHA-1; outputs are
written atomically), so stdin is first copied to a private temporary folder
and an output for stdout is written there and then copied out. The folder is
removed when the command's :class:`Stdio` is closed or collected.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from inceptionism.engine.image import ImageError

#: What ``-`` stands for in messages and in a recipe's input path.
STDIN_NAME = "<stdin>"


class Stdio:
    """Temporary files standing in for stdin and stdout during one command."""

    def __init__(self) -> None:
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def _folder(self) -> Path:
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="inceptionism-stdio-")
        return Path(self._dir.name)

    def read_input(self, stream: Any = None) -> Path:
        """Copy the image on ``stream`` (default stdin) to a file; its path."""
        stream = sys.stdin if stream is None else stream
        if stream is None or stream.isatty():
            raise ValueError(
                "IN is -, but stdin is a terminal: pipe an image in "
                "(inceptionism dream - < photo.jpg)"
            )
        data = getattr(stream, "buffer", stream).read()
        if not data:
            raise ValueError("IN is -, but stdin is empty: pipe an image in")
        path = self._folder() / "stdin"
        path.write_bytes(data)
        try:
            Image.open(path).close()
        except (UnidentifiedImageError, OSError):
            raise ImageError(
                f"{STDIN_NAME}: not an image (Pillow cannot read it)"
            ) from None
        return path

    def output_path(self, suffix: str = ".png") -> Path:
        """Where to write what :meth:`send` copies to stdout."""
        return self._folder() / f"stdout{suffix}"

    def send(self, path: Path, stream: Any = None) -> None:
        """Copy the file at ``path`` to ``stream`` (default stdout), bytes only."""
        stream = sys.stdout if stream is None else stream
        stream.flush()
        out = getattr(stream, "buffer", stream)
        out.write(path.read_bytes())
        out.flush()

    def close(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
