"""The engine: graph, ``Net``, image I/O, the dream loop, the CLI."""

from inceptionism.engine.dream import DreamConfig, dream
from inceptionism.engine.graph import UnknownBlobError
from inceptionism.engine.image import load_image, sample_image_path, save_image
from inceptionism.engine.net import Net

__all__ = [
    "DreamConfig",
    "Net",
    "UnknownBlobError",
    "dream",
    "load_image",
    "sample_image_path",
    "save_image",
]
