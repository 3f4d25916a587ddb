"""Caffe's layer-parameter rules, in one place (``caffe.proto``, BVLC master).

Every reader of a layer's parameters goes through :func:`layer_params`: the
graph of a loaded model (:class:`inceptionism.engine.graph.Graph`), shape
inference and weight validation (:mod:`inceptionism.weights.shapes`), and so
the prototxt, caffemodel and HDF5 readers. It applies Caffe's defaults,
accepts enum values by name or protobuf number, the ``_h``/``_w`` variants,
repeated fields (one value or a list), prototxt booleans (``true``/``false``
as words or 0/1), and returns the op's typed ``Params`` (kernels know nothing
of prototxt spellings). Anything else — an unknown field, a list for a
non-repeated field, a non-finite number, a sub-message where a value belongs —
is a ``ValueError`` naming the layer and the field.

Fields per type are those of ``caffe.proto``'s parameter messages; the ones
that do not change inference (``engine``, fillers, ``force_nd_im2col``) are
accepted and ignored. ``scale_train`` (Dropout) comes from Caffe forks and
is accepted too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from inceptionism.kernels import concat, conv, dropout, linear, lrn, pool, relu, softmax

#: Enum values by protobuf number (caffe.proto).
ENUMS: dict[str, dict[int, str]] = {
    "PoolMethod": {0: "MAX", 1: "AVE", 2: "STOCHASTIC"},
    "RoundMode": {0: "CEIL", 1: "FLOOR"},
    "NormRegion": {0: "ACROSS_CHANNELS", 1: "WITHIN_CHANNEL"},
    "Engine": {0: "DEFAULT", 1: "CAFFE", 2: "CUDNN"},
}

# Field kinds: "uint", "int", "float", "bool", "uints" (repeated uint),
# ("enum", table), "ignored" (any value, no effect on inference).
_CONV_AXES = {f"{a}_{d}": "uint" for a in ("kernel", "stride", "pad") for d in "hw"}
FIELDS: dict[str, dict[str, Any]] = {
    "Convolution": {
        "num_output": "uint", "bias_term": "bool", "pad": "uints",
        "kernel_size": "uints", "stride": "uints", "dilation": "uints",
        **_CONV_AXES, "group": "uint", "weight_filler": "ignored",
        "bias_filler": "ignored", "engine": ("enum", "Engine"), "axis": "int",
        "force_nd_im2col": "bool",
    },
    "Pooling": {
        "pool": ("enum", "PoolMethod"), "pad": "uint", "kernel_size": "uint",
        "stride": "uint", **_CONV_AXES, "engine": ("enum", "Engine"),
        "global_pooling": "bool", "round_mode": ("enum", "RoundMode"),
    },
    "LRN": {
        "local_size": "uint", "alpha": "float", "beta": "float",
        "norm_region": ("enum", "NormRegion"), "k": "float",
        "engine": ("enum", "Engine"),
    },
    "ReLU": {"negative_slope": "float", "engine": ("enum", "Engine")},
    "Concat": {"axis": "int", "concat_dim": "uint"},
    "InnerProduct": {
        "num_output": "uint", "bias_term": "bool", "weight_filler": "ignored",
        "bias_filler": "ignored", "axis": "int", "transpose": "bool",
    },
    "Dropout": {"dropout_ratio": "float", "scale_train": "bool"},
    "Softmax": {"engine": ("enum", "Engine"), "axis": "int"},
}  # fmt: skip


def _int(key: str, v: Any, low: int | None) -> int:
    if isinstance(v, float) and math.isfinite(v) and v == int(v):
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{key} must be an integer, got {v!r}")
    if low is not None and v < low:
        raise ValueError(f"{key} must be >= {low}, got {v}")
    return v


def _value(key: str, kind: Any, v: Any) -> Any:
    """One scalar of ``kind``, checked and converted."""
    if isinstance(v, (dict, list, tuple)):
        raise ValueError(f"{key} takes one value, got {v!r}")
    if kind == "uint":
        return _int(key, v, 0)
    if kind == "int":
        return _int(key, v, None)
    if kind == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{key} must be a number, got {v!r}")
        if not math.isfinite(v):
            raise ValueError(f"{key} must be a finite number, got {v!r}")
        return float(v)
    if kind == "bool":
        if isinstance(v, str) and v.lower() in ("true", "false", "t", "f"):
            return v.lower() in ("true", "t")
        if isinstance(v, bool) or (isinstance(v, int) and v in (0, 1)):
            return bool(v)
        raise ValueError(f"{key} must be true or false, got {v!r}")
    names = ENUMS[kind[1]]
    if isinstance(v, int) and not isinstance(v, bool) and v in names:
        return names[v]
    if isinstance(v, str) and v.upper() in names.values():
        return v.upper()
    raise ValueError(f"{key} must be one of {', '.join(names.values())}, got {v!r}")


def read_fields(type_: str, raw: Mapping) -> dict[str, Any]:
    """The fields of ``raw`` checked against ``caffe.proto`` and converted:
    ints, finite floats, bools, enum names, tuples for repeated fields.
    Ignored fields are dropped; absent fields stay absent."""
    fields = FIELDS[type_]
    out: dict[str, Any] = {}
    for key, v in raw.items():
        kind = fields.get(key)
        if kind is None:
            raise ValueError(
                f"unknown parameter {key!r}; {type_} takes {', '.join(sorted(fields))}"
            )
        if kind == "ignored":
            continue
        if kind == "uints":
            vals = v if isinstance(v, (list, tuple)) else [v]
            out[key] = tuple(_value(key, "uint", x) for x in vals)
        else:
            out[key] = _value(key, kind, v)
    return out


def _hw(f: dict, name: str, default: int | None, key: str | None = None):
    """``(h, w)`` from ``key`` (default ``name``; one value or, for
    convolution's repeated fields, one or two) or ``name_h``/``name_w``, as
    Caffe's LayerSetUp reads them; ``default`` when absent (None: required)."""
    key = key or name
    h, w = f"{name}_h", f"{name}_w"
    if h in f or w in f:
        if key in f:
            raise ValueError(f"give either {key} or {h}/{w}, not both")
        if h not in f or w not in f:
            raise ValueError(f"{h} and {w} must be given together")
        return f[h], f[w]
    v = f.get(key)
    if v is None or v == ():
        if default is None:
            raise ValueError(f"{key} (or {h}/{w}) is required")
        return default, default
    if isinstance(v, tuple):
        if len(v) > 2:
            raise ValueError(f"{key} takes 1 or 2 values (2-d), got {list(v)}")
        return v[0], v[-1]
    return v, v


def _conv(f: dict) -> conv.Params:
    if "num_output" not in f:
        raise ValueError("num_output is required")
    if f.get("axis", 1) not in (1, -3):
        raise ValueError(f"axis {f['axis']} is not supported; use 1 (channels)")
    return conv.Params(
        num_output=f["num_output"],
        kernel=_hw(f, "kernel", None, "kernel_size"),
        stride=_hw(f, "stride", 1),
        pad=_hw(f, "pad", 0),
        dilation=_hw(f, "dilation", 1),
        group=f.get("group", 1),
        bias_term=f.get("bias_term", True),
    )


def _pool(f: dict) -> pool.Params:
    method = f.get("pool", "MAX")
    if method == "STOCHASTIC":
        raise ValueError("pool STOCHASTIC is not supported; use MAX or AVE")
    glob = f.get("global_pooling", False)
    if glob:
        if any(k in f for k in ("kernel_size", "kernel_h", "kernel_w")):
            raise ValueError("global_pooling takes no kernel size; drop it")
        if _hw(f, "stride", 1) != (1, 1) or _hw(f, "pad", 0) != (0, 0):
            raise ValueError("global_pooling needs stride 1 and pad 0")
        kernel = (1, 1)
    else:
        kernel = _hw(f, "kernel", None, "kernel_size")
    pad = _hw(f, "pad", 0)
    if not glob and (pad[0] >= kernel[0] or pad[1] >= kernel[1]):
        raise ValueError(f"pad {pad} must be smaller than the kernel {kernel}")
    return pool.Params(
        pool=pool.Pool(method),
        kernel=kernel,
        stride=_hw(f, "stride", 1),
        pad=pad,
        global_pooling=glob,
        round_mode=pool.RoundMode(f.get("round_mode", "CEIL")),
    )


def _lrn(f: dict) -> lrn.Params:
    return lrn.Params(
        local_size=f.get("local_size", 5),
        alpha=f.get("alpha", 1.0),
        beta=f.get("beta", 0.75),
        k=f.get("k", 1.0),
        norm_region=lrn.NormRegion(f.get("norm_region", "ACROSS_CHANNELS")),
    )


def _concat(f: dict) -> concat.Params:
    if "axis" in f and "concat_dim" in f:
        raise ValueError("give either axis or concat_dim, not both")
    return concat.Params(f.get("axis", f.get("concat_dim", 1)))


def _linear(f: dict) -> linear.Params:
    if "num_output" not in f:
        raise ValueError("num_output is required")
    return linear.Params(
        num_output=f["num_output"],
        bias_term=f.get("bias_term", True),
        axis=f.get("axis", 1),
        transpose=f.get("transpose", False),
    )


_BUILD: dict[str, Callable[[dict], Any]] = {
    "Convolution": _conv,
    "Pooling": _pool,
    "LRN": _lrn,
    "ReLU": lambda f: relu.Params(f.get("negative_slope", 0.0)),
    "Concat": _concat,
    "InnerProduct": _linear,
    "Dropout": lambda f: dropout.Params(
        f.get("dropout_ratio", 0.5), f.get("scale_train", True)
    ),
    "Softmax": lambda f: softmax.Params(f.get("axis", 1)),
}


def layer_params(type_: str, raw: Mapping | None, name: str | None = None) -> Any:
    """The op's typed ``Params`` for a Caffe layer of ``type_`` whose
    parameter message (prototxt names) is ``raw``.

    Raises ``ValueError`` ``"layer NAME (TYPE): what is wrong"`` for an
    unsupported type, an unknown field, a bad value or a combination Caffe
    refuses (e.g. ``kernel_size`` with ``kernel_h``).
    """
    where = f"layer {name!r} ({type_})" if name is not None else type_
    if type_ not in _BUILD:
        raise ValueError(
            f"{where}: unsupported layer type; supported types: "
            f"{', '.join(sorted(_BUILD))}"
        )
    if raw is not None and not isinstance(raw, Mapping):
        raise ValueError(f"{where}: parameters must be a message, got {raw!r}")
    try:
        return _BUILD[type_](read_fields(type_, raw or {}))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {exc}") from None
