"""Weight files (HDF5 format 1), Caffe converters, the model registry.

Public surface (design section 8)::

    from inceptionism.weights import Model, load_model, save_model, cache_dir
"""

from __future__ import annotations

from inceptionism.weights.files import cache_dir
from inceptionism.weights.hdf5 import load_model, save_model
from inceptionism.weights.model import Model

__all__ = ["Model", "cache_dir", "load_model", "save_model"]
