"""The engine: graph, ``Net``, image I/O, the dream loop, the CLI."""

from inceptionism.engine.graph import UnknownBlobError
from inceptionism.engine.net import Net

__all__ = ["Net", "UnknownBlobError"]
