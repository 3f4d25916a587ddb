"""Caffe prototxt reader: NetParameter -> graph, and :func:`read_prototxt`.

The text is parsed by :func:`~inceptionism.weights.text_format.parse_text`
into a message dict (``{field: [values]}``); the binary reader
(:mod:`caffemodel`) decodes into the same form, so :func:`graph_from_net`
turns either into a design-section-4 graph.

Nets: both ``layer { type: "Convolution" }`` and legacy ``layers { type:
CONVOLUTION }`` (V1 enum names), inputs by ``input:`` + four ``input_dim:``,
by ``input_shape { dim: ... }``, or by an ``Input`` layer.
"""

from __future__ import annotations

import os

from inceptionism.kernels import get_op
from inceptionism.weights.errors import MALFORMED, describe
from inceptionism.weights.shapes import param_shapes
from inceptionism.weights.text_format import MAX_DEPTH, PrototxtError, parse_text

__all__ = [
    "MAX_DEPTH",
    "PrototxtError",
    "graph_from_net",
    "parse_text",
    "read_prototxt",
]

# ------------------------------------------------------------ net -> graph

#: V1LayerParameter.LayerType enum name -> LayerParameter type string
#: (Caffe's upgrade_proto.cpp UpgradeV1LayerType).
V1_TYPES: dict[str, str] = {
    "NONE": "", "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax",
    "BNLL": "BNLL", "CONCAT": "Concat", "CONTRASTIVE_LOSS": "ContrastiveLoss",
    "CONVOLUTION": "Convolution", "DATA": "Data", "DECONVOLUTION": "Deconvolution",
    "DROPOUT": "Dropout", "DUMMY_DATA": "DummyData",
    "EUCLIDEAN_LOSS": "EuclideanLoss", "ELTWISE": "Eltwise", "EXP": "Exp",
    "FLATTEN": "Flatten", "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output",
    "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col", "IMAGE_DATA": "ImageData",
    "INFOGAIN_LOSS": "InfogainLoss", "INNER_PRODUCT": "InnerProduct",
    "LRN": "LRN", "MEMORY_DATA": "MemoryData",
    "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss", "MVN": "MVN",
    "POOLING": "Pooling", "POWER": "Power", "RELU": "ReLU", "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss", "SILENCE": "Silence",
    "SOFTMAX": "Softmax", "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split",
    "SLICE": "Slice", "TANH": "TanH", "WINDOW_DATA": "WindowData",
    "THRESHOLD": "Threshold",
}  # fmt: skip

#: Layer types that only exist for training; the deploy graph drops them.
TRAINING_ONLY: frozenset[str] = frozenset(
    {
        "Data",
        "ImageData",
        "HDF5Data",
        "MemoryData",
        "WindowData",
        "DummyData",
        "HDF5Output",
        "Accuracy",
        "Silence",
        "Split",
    }  # fmt: skip
)

#: The parameter message of each supported type (same name in V1 and V2).
PARAM_FIELDS: dict[str, str] = {
    "Convolution": "convolution_param",
    "Pooling": "pooling_param",
    "LRN": "lrn_param",
    "ReLU": "relu_param",
    "Concat": "concat_param",
    "InnerProduct": "inner_product_param",
    "Dropout": "dropout_param",
    "Softmax": "softmax_param",
}

#: Fields of parameter messages that do not affect inference.
_IGNORED_PARAMS = frozenset({"engine", "weight_filler", "bias_filler"})

#: Nominal input used when a net declares none (a training net's Data layer).
DEFAULT_INPUT_SHAPE = [1, 3, 224, 224]


def _is_training_only(type_: str) -> bool:
    return type_ in TRAINING_ONLY or type_.endswith("Loss")


def _first(msg: dict, key: str, default=None):
    v = msg.get(key)
    return v[0] if v else default


# The checked getters below stand between a hostile file and code that
# would otherwise fail with TypeError/AttributeError on a value of the wrong
# kind (a number where a name belongs, a message where a string belongs).


def _str(msg: dict, key: str, where: str, default: str = "") -> str:
    v = _first(msg, key, default)
    if not isinstance(v, str):
        raise ValueError(f"{where}: {key} must be a string, got {v!r}")
    return v


def _strs(msg: dict, key: str, where: str) -> list[str]:
    vals = msg.get(key, [])
    for v in vals:
        if not isinstance(v, str):
            raise ValueError(f"{where}: {key} must be a string, got {v!r}")
    return list(vals)


def _msgs(msg: dict, key: str, where: str) -> list[dict]:
    vals = msg.get(key, [])
    for v in vals:
        if not isinstance(v, dict):
            raise ValueError(f"{where}: {key} must be a message {{ ... }}, got {v!r}")
    return vals


def _dims(values, where: str) -> list[int]:
    """Input dimensions: integers in 1 .. 2**31-1 (caffe.proto's int32)."""
    for d in values:
        if isinstance(d, bool) or not isinstance(d, int) or not 0 < d < 2**31:
            raise ValueError(f"{where}: dimensions must be integers >= 1, got {d!r}")
    return [int(d) for d in values]


def _param_msg(layer: dict, type_: str, where: str) -> dict | None:
    field = PARAM_FIELDS.get(type_)
    msgs = _msgs(layer, field, where) if field else []
    return msgs[0] if msgs else None


def _flat_params(msg: dict | None) -> dict:
    """A parameter message as the graph's ``params``: single values as
    scalars, repeated ones as lists, sub-messages and engine choices dropped."""
    out = {}
    for key, values in (msg or {}).items():
        if key in _IGNORED_PARAMS or any(isinstance(v, dict) for v in values):
            continue
        vals = [v.item() if hasattr(v, "item") else v for v in values]
        out[key] = vals[0] if len(vals) == 1 else vals
    return out


def _excluded_at_test(layer: dict) -> bool:
    """Caffe's NetStateRule check for phase TEST (deploy) only."""
    where = f"layer {_first(layer, 'name', '?')!r}"
    include = _msgs(layer, "include", where)
    exclude = _msgs(layer, "exclude", where)
    if include:
        return not any(_first(r, "phase", "TEST") == "TEST" for r in include)
    return any(_first(r, "phase") == "TEST" for r in exclude)


def _input_of(net: dict, layers: list[dict]) -> tuple[dict | None, list[dict]]:
    names = _strs(net, "input", "net")
    if len(names) > 1:
        raise ValueError(f"nets with several inputs {names} are not supported")
    if names:
        where = f"input {names[0]!r}"
        if net.get("input_shape"):
            shape = _dims(_msgs(net, "input_shape", where)[0].get("dim", []), where)
        else:
            shape = _dims(net.get("input_dim", []), where)
        if len(shape) != 4:
            raise ValueError(
                f"input {names[0]!r}: expected 4 dims (N, C, H, W), got {shape}"
            )
        return {"name": names[0], "shape": shape}, layers
    for i, layer in enumerate(layers):
        if _layer_type(layer) == "Input":
            where = f"Input layer {_first(layer, 'name', '?')!r}"
            top = (_strs(layer, "top", where) or ["data"])[0]
            param = (_msgs(layer, "input_param", where) or [{}])[0]
            shapes = _msgs(param, "shape", where)
            dims = _dims(shapes[0].get("dim", []), where) if shapes else []
            if len(dims) != 4:
                raise ValueError(
                    f"Input layer {_first(layer, 'name', '?')!r}: expected 4 "
                    f"dims (N, C, H, W), got {dims}"
                )
            return {"name": top, "shape": dims}, layers[:i] + layers[i + 1 :]
    return None, layers


def _layer_type(layer: dict) -> str:
    t = _first(layer, "type", "")
    if isinstance(t, int) and not isinstance(t, bool):  # V1 enum by number
        return f"V1 type {t}"
    if not isinstance(t, str):
        raise ValueError(
            f"layer {_first(layer, 'name', '?')!r}: type must be a layer type "
            f'name such as "Convolution", got {t!r}'
        )
    return V1_TYPES.get(t, t) if t.isupper() and t in V1_TYPES else t


def graph_from_net(net: dict, name: str | None = None) -> tuple[dict, dict[str, dict]]:
    """Design-section-4 graph from a parsed NetParameter message.

    Training-only layers (data, loss, accuracy, split) and layers excluded in
    the TEST phase are dropped, Split tops are renamed back to their source
    blob, and — when training-only layers were present (a training net or
    snapshot) — layers that do not lead to the final classifier (auxiliary
    heads such as GoogLeNet's ``loss1/*``, ``loss2/*``) are pruned and a
    ``Softmax`` named ``prob`` is appended after it if missing. The final
    classifier is what the *last* loss layer in file order reads (GoogLeNet's
    ``loss3/loss3`` reads ``loss3/classifier``), else the last layer's top.

    Returns ``(graph, raw)`` where ``raw`` maps each kept layer name to its
    message (the binary reader takes the blobs from there). Unsupported layer
    types raise ``ValueError`` naming the layer and the type.
    """
    if net.get("layer") and net.get("layers"):
        raise ValueError("net uses both 'layer' and legacy 'layers' fields")
    layers = _msgs(net, "layer", "net") or _msgs(net, "layers", "net")
    inp, layers = _input_of(net, layers)
    rename: dict[str, str] = {}
    kept: list[dict] = []
    dropped_training = False
    data_top = None
    output = None  # what the last loss layer reads: the final classifier
    for layer in layers:
        lname = _str(layer, "name", "layer")
        where = f"layer {lname!r}"
        t = _layer_type(layer)
        bottoms = [rename.get(b, b) for b in _strs(layer, "bottom", where)]
        tops = _strs(layer, "top", where)
        if t == "Split" and bottoms:
            for top in tops:
                rename[top] = bottoms[0]
        if _excluded_at_test(layer) or _is_training_only(t):
            dropped_training = True
            if t in ("Data", "ImageData", "HDF5Data", "MemoryData", "WindowData"):
                data_top = data_top or (tops[0] if tops else "data")
            if t.endswith("Loss") and bottoms:
                output = bottoms[0]
            continue
        kept.append(
            {
                "name": lname,
                "type": t,
                "bottom": bottoms,
                "top": tops,
                "params": _flat_params(_param_msg(layer, t, where)),
                "_raw": layer,
            }
        )
    if inp is None:
        # a training net: its data layer gives the name; the size is nominal
        inp = {"name": data_top or "data", "shape": list(DEFAULT_INPUT_SHAPE)}
    if dropped_training and kept:
        kept = _prune_to(kept, output or kept[-1]["top"][0])
        last = kept[-1]
        if last["type"] == "InnerProduct":
            taken = {lyr["name"] for lyr in kept} | {
                t for lyr in kept for t in lyr["top"]
            }
            prob = "prob" if "prob" not in taken else f"{last['name']}/prob"
            kept.append(
                {
                    "name": prob,
                    "type": "Softmax",
                    "bottom": [last["top"][0]],
                    "top": [prob],
                    "params": {},
                    "_raw": {},
                }
            )
    for layer in kept:
        get_op(layer["type"], layer["name"])  # unsupported types fail here
        if not layer["bottom"] or not layer["top"]:
            raise ValueError(f"layer {layer['name']!r} has no bottom or no top")
    raw = {layer["name"]: layer.pop("_raw") for layer in kept}
    graph = {
        "name": name or _str(net, "name", "net") or "net",
        "input": inp,
        "layers": kept,
    }
    return graph, raw


def _prune_to(layers: list[dict], output: str) -> list[dict]:
    """Keep only the layers ``output`` depends on (in-place aware)."""
    if not any(output in lyr["top"] for lyr in layers):
        raise ValueError(f"no layer produces {output!r}, the net's output")
    needed = {output}
    keep = []
    for layer in reversed(layers):
        if needed & set(layer["top"]):
            keep.append(layer)
            needed.update(layer["bottom"])
    return keep[::-1]


def read_prototxt(path_or_text: str | os.PathLike, name: str | None = None) -> dict:
    """The deploy graph of a prototxt file (or of prototxt text), its layer
    parameters and shapes checked (:func:`~inceptionism.weights.shapes.
    param_shapes`) so that bad geometry is refused here, not mid-dream.

    A string containing a newline or a brace is taken as the text itself.
    Anything wrong with the content raises :class:`PrototxtError` naming the
    file and the line or the layer.
    """
    s = os.fspath(path_or_text)
    if "\n" in s or "{" in s:
        text, where = s, "prototxt"
    else:
        where = s
        with open(s, "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise PrototxtError(
                f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                f"{exc.start}, line {line}); is this a prototxt?"
            ) from None
    try:
        graph, _ = graph_from_net(parse_text(text), name=name)
        if not graph["layers"]:
            raise PrototxtError("no layers found")
        param_shapes(graph)
    except (ValueError, *MALFORMED) as exc:
        raise PrototxtError(f"{where}: {describe(exc)}") from None
    return graph
