"""Forward and backward-to-input kernels, one module per Caffe op.

Every op module exposes the same small surface::

    Params                        # frozen dataclass of the op's parameters
    params_from_caffe(d) -> Params  # Caffe prototxt names, Caffe's defaults
    output_shape(in_shape, params) -> tuple   # (Concat: a list of shapes)
    forward(x, params, *weights) -> (y, ctx)  # Concat: x is a list of arrays
    backward(dy, ctx) -> dx                   # Concat: a list of arrays

``ctx`` is a small NamedTuple holding exactly what backward needs. Arrays are
NCHW; float32 and float64 in give the same dtype out; NumPy and CuPy arrays
both work (``xp = get_array_module(x)``). No weight gradients are computed.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Caffe layer type -> op module (resolved lazily by :func:`get_op`).
OP_MODULES: dict[str, str] = {
    "Convolution": "conv",
    "Pooling": "pool",
    "LRN": "lrn",
    "ReLU": "relu",
    "Concat": "concat",
    "InnerProduct": "linear",
    "Dropout": "dropout",
    "Softmax": "softmax",
}


def get_op(layer_type: str, layer_name: str | None = None) -> ModuleType:
    """Return the op module for a Caffe layer type.

    Raises ``ValueError`` naming the layer and listing the supported types.
    """
    try:
        mod = OP_MODULES[layer_type]
    except KeyError:
        where = f"layer {layer_name!r}: " if layer_name else ""
        raise ValueError(
            f"{where}unsupported layer type {layer_type!r}; supported types: "
            f"{', '.join(sorted(OP_MODULES))}"
        ) from None
    return importlib.import_module(f"{__name__}.{mod}")


def supported_types() -> list[str]:
    return sorted(OP_MODULES)
