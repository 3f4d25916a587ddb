"""The engine: graph, ``Net``, image I/O, the dream loop, recipes, the CLI."""

from inceptionism.engine.dream import DreamConfig, dream
from inceptionism.engine.graph import UnknownBlobError
from inceptionism.engine.image import load_image, sample_image_path, save_image
from inceptionism.engine.net import Net
from inceptionism.engine.recipe import Recipe, replay

__all__ = [
    "DreamConfig",
    "Net",
    "Recipe",
    "UnknownBlobError",
    "dream",
    "load_image",
    "replay",
    "sample_image_path",
    "save_image",
]
