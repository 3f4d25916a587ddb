"""Weight files (HDF5 format 1), Caffe converters, the model registry.

Public surface (design section 8)::

    from inceptionism.weights import Model, load_model, save_model, cache_dir
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from inceptionism.weights.hdf5 import load_model, save_model
from inceptionism.weights.model import Model

__all__ = ["Model", "cache_dir", "load_model", "save_model"]


def cache_dir() -> Path:
    """Where downloaded and converted models live (not created here).

    ``$INCEPTIONISM_HOME`` if set; else the platform cache directory:
    ``$XDG_CACHE_HOME/inceptionism`` (default ``~/.cache/inceptionism``) on
    Linux and other Unixes, ``~/Library/Caches/inceptionism`` on macOS,
    ``%LOCALAPPDATA%\\inceptionism\\Cache`` on Windows.
    """
    home = os.environ.get("INCEPTIONISM_HOME")
    if home:
        return Path(home).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData/Local")
        return Path(base) / "inceptionism" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "inceptionism"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "inceptionism"
