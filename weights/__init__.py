"""Weight files (HDF5 format 1), Caffe converters, the model registry."""

from inceptionism.weights.model import Model

__all__ = ["Model"]
