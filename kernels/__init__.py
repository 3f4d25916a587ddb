"""Forward and backward-to-input kernels, one module per Caffe op.

Every op module exposes the same small surface, and nothing in the engine
treats one op differently from another::

    Params                                      # frozen dataclass of the parameters
    WEIGHTS: tuple[str, ...]                    # ("weight", "bias") or ()
    output_shapes(in_shapes, params) -> tuple   # one shape per output
    weight_shapes(in_shapes, params) -> dict    # {name: shape} for WEIGHTS
    forward(xs, params, weights=()) -> (ys, ctx)
    backward(dys, ctx) -> dxs                   # one gradient per input

``xs``/``in_shapes`` are tuples with one entry per input (Concat takes
several, every other op one); ``ys`` and ``dys`` one per output (always one
here); ``dxs`` one per input. ``weights`` holds the arrays named by
``WEIGHTS``, in that order (a bias is None, or left out, when the layer has
no ``bias_term``); ``weight_shapes`` says what their shapes must be (only
the bias is omitted without ``bias_term``), ``{}`` for ops without weights.
``ctx`` is a small NamedTuple holding exactly what backward needs. Arrays
are NCHW; float32 and float64 in give the same dtype out; NumPy and CuPy
arrays both work (``xp = get_array_module(x)``). No weight gradients are
computed. Kernels know nothing of prototxt spellings: Caffe's parameter
messages are turned into ``Params`` by
:func:`inceptionism.weights.caffe_params.layer_params`.

An op may also run several sibling layers on one input as one (the engine
asks; none has to)::

    share_key(params) -> hashable | None        # equal keys: may run as one
    forward_shared(x, params_seq, weights_seq) -> (ys, ctx)   # one y per layer
    backward_shared(dys, ctx) -> dx             # dys: one per layer, or None

Convolution does, for an inception module's 1x1 convolutions: one GEMM with
the filters stacked instead of three, forward and backward (issue 17).
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
