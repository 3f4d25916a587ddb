"""A minimal caffemodel WRITER for tests, from the protobuf wire format.

Independent of the reader: the field numbers are written out again here from
Caffe's caffe.proto (NetParameter, V1LayerParameter, LayerParameter,
BlobProto, BlobShape and the layer parameter messages), so a wrong number in
either would show up as a failed round trip.

It emits V1 (``layers``, enum types) or V2 (``layer``, string types) nets,
legacy 4-d (num/channels/height/width, right-aligned) or N-d (``shape``)
blob dims, float (``data``) or double (``double_data``) values, packed or
unpacked, plus some fields the reader must skip (ParamSpec, blobs_lr,
``diff``, a fixed64 and a fixed32 field number nobody uses).
"""

from __future__ import annotations

import struct

import numpy as np

V1_ENUM = {
    "Accuracy": 1, "Concat": 3, "Convolution": 4, "Data": 5, "Dropout": 6,
    "InnerProduct": 14, "LRN": 15, "Pooling": 17, "ReLU": 18, "Softmax": 20,
    "SoftmaxWithLoss": 21, "Split": 22,
}  # fmt: skip

# (V1 field, V2 field) of each parameter message in the layer.
PARAM_FIELD = {
    "Convolution": ("convolution_param", 10, 106),
    "Pooling": ("pooling_param", 19, 121),
    "LRN": ("lrn_param", 18, 118),
    "InnerProduct": ("inner_product_param", 17, 117),
    "Dropout": ("dropout_param", 12, 108),
    "Concat": ("concat_param", 9, 104),
    "ReLU": ("relu_param", 30, 123),
    "Softmax": ("softmax_param", 39, 125),
}
# field number and kind inside each parameter message
PARAM_MSG = {
    "convolution_param": {
        "num_output": (1, "v"), "bias_term": (2, "v"), "pad": (3, "v"),
        "kernel_size": (4, "v"), "group": (5, "v"), "stride": (6, "v"),
        "pad_h": (9, "v"), "pad_w": (10, "v"), "kernel_h": (11, "v"),
        "kernel_w": (12, "v"), "stride_h": (13, "v"), "stride_w": (14, "v"),
        "engine": (15, "e"), "axis": (16, "v"), "force_nd_im2col": (17, "v"),
        "dilation": (18, "v"),
    },
    "pooling_param": {
        "pool": (1, "e"), "kernel_size": (2, "v"), "stride": (3, "v"),
        "pad": (4, "v"), "kernel_h": (5, "v"), "kernel_w": (6, "v"),
        "stride_h": (7, "v"), "stride_w": (8, "v"), "pad_h": (9, "v"),
        "pad_w": (10, "v"), "engine": (11, "e"), "global_pooling": (12, "v"),
        "round_mode": (13, "e"),
    },
    "lrn_param": {
        "local_size": (1, "v"), "alpha": (2, "f"), "beta": (3, "f"),
        "norm_region": (4, "e"), "k": (5, "f"), "engine": (6, "e"),
    },
    "inner_product_param": {
        "num_output": (1, "v"), "bias_term": (2, "v"), "axis": (5, "v"),
        "transpose": (6, "v"),
    },
    "dropout_param": {"dropout_ratio": (1, "f")},
    "concat_param": {"concat_dim": (1, "v"), "axis": (2, "v")},
    "relu_param": {"negative_slope": (1, "f"), "engine": (2, "e")},
    "softmax_param": {"engine": (1, "e"), "axis": (2, "v")},
}  # fmt: skip
# enum values by field name (caffe.proto)
ENUM_VALUES = {
    "pool": {"MAX": 0, "AVE": 1, "STOCHASTIC": 2},
    "round_mode": {"CEIL": 0, "FLOOR": 1},
    "norm_region": {"ACROSS_CHANNELS": 0, "WITHIN_CHANNEL": 1},
    "engine": {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2},
}


def varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def ld(field: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return key(field, 2) + varint(len(payload)) + payload


def vfield(field: int, value: int) -> bytes:
    return key(field, 0) + varint(int(value))


def ffield(field: int, value: float) -> bytes:
    return key(field, 5) + struct.pack("<f", value)


def param_message(kind: str, params: dict) -> bytes:
    out = b""
    for name, value in params.items():
        field, typ = PARAM_MSG[kind][name]
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if typ == "f":
                out += ffield(field, v)
            elif typ == "e":
                out += vfield(field, ENUM_VALUES[name][v])
            else:
                out += vfield(field, int(v))
    return out


def blob(
    arr: np.ndarray,
    legacy: bool = True,
    double: bool = False,
    packed: bool = True,
    split_data: bool = False,
) -> bytes:
    """A BlobProto. ``legacy``: num/channels/height/width right-aligned
    (arrays of up to 4 dims); else ``shape { dim }`` (packed int64).
    ``split_data`` writes the values as two packed runs (protobuf allows a
    repeated field to be split)."""
    out = b""
    if legacy:
        dims = (1,) * (4 - arr.ndim) + tuple(arr.shape)
        for field, d in zip((1, 2, 3, 4), dims):
            out += vfield(field, d)
    else:
        out += ld(7, ld(1, b"".join(varint(d) for d in arr.shape)))
    flat = arr.ravel()
    if double:
        field, fmt, wire, dt = 8, "<d", 1, "<f8"
    else:
        field, fmt, wire, dt = 5, "<f", 5, "<f4"
    if packed:
        chunks = np.array_split(flat, 2) if split_data else [flat]
        for c in chunks:
            out += ld(field, c.astype(dt).tobytes())
    else:
        k = key(field, wire)
        out += b"".join(k + struct.pack(fmt, v) for v in flat.tolist())
    out += ld(6, np.zeros(3, "<f4").tobytes())  # diff: skipped by readers
    return out


def layer(
    spec: dict,
    version: int,
    blob_kw: dict,
) -> bytes:
    """One layer. spec: name, type (V2 string), bottom, top, params, blobs
    (list of arrays), optional include_phase ("TRAIN"/"TEST")."""
    t = spec["type"]
    out = b""
    if version == 1:
        for b in spec.get("bottom", []):
            out += ld(2, b.encode())
        for b in spec.get("top", []):
            out += ld(3, b.encode())
        out += ld(4, spec["name"].encode())
        out += vfield(5, V1_ENUM[t])
        for arr in spec.get("blobs", []):
            out += ld(6, blob(arr, **blob_kw))
            out += ffield(7, 1.0)  # blobs_lr: skipped
        phase_field = 32
    else:
        out += ld(1, spec["name"].encode())
        out += ld(2, t.encode())
        for b in spec.get("bottom", []):
            out += ld(3, b.encode())
        for b in spec.get("top", []):
            out += ld(4, b.encode())
        out += ld(6, ffield(3, 1.0))  # ParamSpec { lr_mult }: skipped
        for arr in spec.get("blobs", []):
            out += ld(7, blob(arr, **blob_kw))
        phase_field = 8
    if "include_phase" in spec:
        out += ld(
            phase_field, vfield(1, {"TRAIN": 0, "TEST": 1}[spec["include_phase"]])
        )
    if spec.get("params") and t in PARAM_FIELD:
        kind, f1, f2 = PARAM_FIELD[t]
        out += ld(f1 if version == 1 else f2, param_message(kind, spec["params"]))
    out += key(999, 1) + b"\0" * 8  # an unknown fixed64 field
    return out


def net(
    layers: list[dict],
    version: int = 2,
    name: str = "testnet",
    input_shape: list[int] | None = None,
    input_name: str = "data",
    nd_input: bool = False,
    **blob_kw,
) -> bytes:
    """A NetParameter. With ``input_shape`` the input is declared by
    ``input`` + four ``input_dim`` (or ``input_shape`` when ``nd_input``)."""
    out = ld(1, name.encode())
    if input_shape is not None:
        out += ld(3, input_name.encode())
        if nd_input:
            out += ld(8, ld(1, b"".join(varint(d) for d in input_shape)))
        else:
            for d in input_shape:
                out += vfield(4, d)
    out += key(777, 5) + b"\1\2\3\4"  # an unknown fixed32 field
    field = 2 if version == 1 else 100
    for spec in layers:
        out += ld(field, layer(spec, version, blob_kw))
    return out


def model_layers(model, graph: dict, snapshot: bool) -> list[dict]:
    """:func:`net`'s layers for a model (its deploy ``graph`` and ``params``);
    ``snapshot``: as a published training snapshot (a data layer,
    SoftmaxWithLoss, the first auxiliary head with its loss), which a
    converter must read past."""
    layers = [{"name": "data", "type": "Data", "top": ["data", "label"]}] * snapshot
    for lyr in graph["layers"]:
        spec = {k: lyr[k] for k in ("name", "type", "bottom", "top", "params")}
        if lyr["name"] in model.params:
            p = model.params[lyr["name"]]
            spec["blobs"] = [p["weight"], p["bias"]]
        if snapshot and lyr["type"] == "Softmax":
            spec = {
                "name": "loss3/loss3",
                "type": "SoftmaxWithLoss",
                "bottom": ["loss3/classifier", "label"],
                "top": ["loss3/loss3"],
            }
        layers.append(spec)
        if snapshot and lyr["name"] == "inception_4a/output":
            w = np.full((128, 512, 1, 1), 0.5, np.float32)
            layers += [
                {
                    "name": "loss1/ave_pool",
                    "type": "Pooling",
                    "bottom": ["inception_4a/output"],
                    "top": ["loss1/ave_pool"],
                    "params": {"pool": "AVE", "kernel_size": 5, "stride": 3},
                },
                {
                    "name": "loss1/conv",
                    "type": "Convolution",
                    "bottom": ["loss1/ave_pool"],
                    "top": ["loss1/conv"],
                    "params": {"num_output": 128, "kernel_size": 1},
                    "blobs": [w, np.zeros(128, np.float32)],
                },
                {
                    "name": "loss1/loss",
                    "type": "SoftmaxWithLoss",
                    "bottom": ["loss1/conv", "label"],
                    "top": ["loss1/loss1"],
                },
            ]
    return layers
