"""Caffe prototxt (protobuf text format) reader, and NetParameter -> graph.

:func:`parse_text` reads the protobuf text format into a *message*: a dict
``{field name: [value, ...]}`` (every field a list, since any may repeat),
values being ``int``, ``float``, ``bool``, ``str`` (strings and enum names) or
nested messages. The binary reader (:mod:`caffemodel`) decodes into the same
form, so :func:`graph_from_net` turns either into a design-section-4 graph.

Supported text syntax (protobuf's ``text_format``): ``#`` comments, ``name:
value``, ``name { ... }`` and ``name: { ... }`` / ``< ... >`` sub-messages,
repeated fields by repetition or ``[a, b]`` lists, single- or double-quoted
strings with C escapes (adjacent strings concatenate), enum identifiers,
``true``/``false``, optional ``;``/``,`` separators.

Nets: both ``layer { type: "Convolution" }`` and legacy ``layers { type:
CONVOLUTION }`` (V1 enum names), inputs by ``input:`` + four ``input_dim:``,
by ``input_shape { dim: ... }``, or by an ``Input`` layer.
"""

from __future__ import annotations

import os
import re

from inceptionism.kernels import get_op

# ---------------------------------------------------------------- text format

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?[fF]?(?![\w.])
           |[-+]?0[xX][0-9a-fA-F]+)
  | (?P<ident>[-+]?[A-Za-z_][\w.]*)
  | (?P<punct>[{}<>\[\]:;,])
    """,
    re.VERBOSE,
)

_ESCAPES = {
    "n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11,
    "\\": 92, "'": 39, '"': 34, "?": 63,
}  # fmt: skip


class PrototxtError(ValueError):
    """Malformed text, with the line number."""


def _unescape(body: str, line: int) -> str:
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1 :])
            assert m is not None  # body[i + 1] is an octal digit
            out.append(int(m.group(), 8) & 0xFF)
            i += 1 + len(m.group())
        elif e in "xX":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2 :])
            if not m:
                raise PrototxtError(f"line {line}: bad \\x escape in string")
            out.append(int(m.group(), 16))
            i += 2 + len(m.group())
        elif e in "uU":
            n = 4 if e == "u" else 8
            out += chr(int(body[i + 2 : i + 2 + n], 16)).encode("utf-8")
            i += 2 + n
        else:
            raise PrototxtError(f"line {line}: unknown escape \\{e} in string")
    return out.decode("utf-8", errors="replace")


def _tokens(text: str):
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise PrototxtError(f"line {line}: unexpected character {text[pos]!r}")
        kind = m.lastgroup
        tok = m.group()
        if kind != "ws":
            yield kind, tok, line
        line += tok.count("\n")
        pos = m.end()
    yield "eof", "", line


def _scalar(kind: str, tok: str, line: int):
    if kind == "str":
        return _unescape(tok[1:-1], line)
    if kind == "num":
        t = tok.rstrip("fF") if not tok.lower().startswith(("0x", "-0x")) else tok
        if re.fullmatch(r"[-+]?\d+", t):
            return int(t)
        if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", t):
            return int(t, 16)
        return float(t)
    if kind == "ident":
        low = tok.lower()
        if low in ("true", "t"):
            return True
        if low in ("false", "f"):
            return False
        if low.lstrip("-+") in ("inf", "infinity", "nan"):
            return float(low)
        return tok  # an enum value name
    raise PrototxtError(f"line {line}: expected a value, got {tok!r}")


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.advance()

    def advance(self):
        self.kind, self.tok, self.line = next(self.toks)

    def expect(self, tok: str):
        if self.tok != tok:
            found = self.tok or "end of file"
            raise PrototxtError(f"line {self.line}: expected {tok!r}, got {found!r}")
        self.advance()

    def message(self, close: str | None) -> dict:
        msg: dict[str, list] = {}
        while True:
            if close is None and self.kind == "eof":
                return msg
            if close is not None and self.tok == close:
                self.advance()
                return msg
            if self.kind != "ident":
                found = self.tok or "end of file"
                raise PrototxtError(
                    f"line {self.line}: expected a field name, got {found!r}"
                )
            name = self.tok.split(".")[-1]  # extensions: [pkg.name] not used
            self.advance()
            colon = self.tok == ":"
            if colon:
                self.advance()
            values = msg.setdefault(name, [])
            if self.tok in ("{", "<"):
                end = "}" if self.tok == "{" else ">"
                self.advance()
                values.append(self.message(end))
            elif not colon:
                raise PrototxtError(
                    f"line {self.line}: expected ':' or '{{' after field {name!r}"
                )
            elif self.tok == "[":
                self.advance()
                while self.tok != "]":
                    values.append(self.value())
                    if self.tok == ",":
                        self.advance()
                self.advance()
            else:
                values.append(self.value())
            if self.tok in (";", ","):
                self.advance()

    def value(self):
        if self.tok in ("{", "<"):
            end = "}" if self.tok == "{" else ">"
            self.advance()
            return self.message(end)
        kind, tok, line = self.kind, self.tok, self.line
        self.advance()
        v = _scalar(kind, tok, line)
        while kind == "str" and self.kind == "str":  # "a" "b" == "ab"
            v += _scalar(self.kind, self.tok, self.line)
            self.advance()
        return v


def parse_text(text: str) -> dict:
    """Parse protobuf text format into a message dict (see module doc)."""
    return _Parser(text).message(None)


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
    include = layer.get("include", [])
    exclude = layer.get("exclude", [])
    if include:
        return not any(_first(r, "phase", "TEST") == "TEST" for r in include)
    return any(_first(r, "phase") == "TEST" for r in exclude)


def _input_of(net: dict, layers: list[dict]) -> tuple[dict | None, list[dict]]:
    names = net.get("input", [])
    if len(names) > 1:
        raise ValueError(f"nets with several inputs {names} are not supported")
    if names:
        if net.get("input_shape"):
            shape = [int(d) for d in net["input_shape"][0].get("dim", [])]
        else:
            shape = [int(d) for d in net.get("input_dim", [])]
        if len(shape) != 4:
            raise ValueError(
                f"input {names[0]!r}: expected 4 dims (N, C, H, W), got {shape}"
            )
        return {"name": names[0], "shape": shape}, layers
    for i, layer in enumerate(layers):
        if _layer_type(layer) == "Input":
            top = layer.get("top", ["data"])[0]
            shapes = _first(layer, "input_param", {}).get("shape", [])
            dims = [int(d) for d in shapes[0].get("dim", [])] if shapes else []
            if len(dims) != 4:
                raise ValueError(
                    f"Input layer {_first(layer, 'name', '?')!r}: expected 4 "
                    f"dims (N, C, H, W), got {dims}"
                )
            return {"name": top, "shape": dims}, layers[:i] + layers[i + 1 :]
    return None, layers


def _layer_type(layer: dict) -> str:
    t = _first(layer, "type", "")
    if isinstance(t, int):  # binary V1 enum not named (unknown number)
        return f"V1 type {t}"
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
    layers = net.get("layer") or net.get("layers") or []
    inp, layers = _input_of(net, layers)
    rename: dict[str, str] = {}
    kept: list[dict] = []
    dropped_training = False
    data_top = None
    output = None  # what the last loss layer reads: the final classifier
    for layer in layers:
        lname = _first(layer, "name", "")
        t = _layer_type(layer)
        bottoms = [rename.get(b, b) for b in layer.get("bottom", [])]
        tops = list(layer.get("top", []))
        if t == "Split":
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
                "params": _flat_params(_first(layer, PARAM_FIELDS.get(t, ""), None)),
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
        "name": name or _first(net, "name", "") or "net",
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
    """The deploy graph of a prototxt file (or of prototxt text).

    A string containing a newline or a brace is taken as the text itself.
    """
    s = os.fspath(path_or_text)
    if "\n" in s or "{" in s:
        text, where = s, "prototxt"
    else:
        with open(s, encoding="utf-8") as f:
            text, where = f.read(), s
    try:
        graph, _ = graph_from_net(parse_text(text), name=name)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if not graph["layers"]:
        raise ValueError(f"{where}: no layers found")
    return graph
