"""Binary ``.caffemodel`` reader, written from the protobuf wire format.

No protobuf or Caffe dependency. The file is memory-mapped; packed float data
is viewed in place (``numpy.frombuffer``) and copied once, into the float32
parameter arrays, so a 50 MB model is never held several times over.

Field numbers are those of Caffe's ``src/caffe/proto/caffe.proto``:

- NetParameter: name 1, layers 2 (V1LayerParameter), input 3, input_dim 4,
  input_shape 8 (BlobShape), layer 100 (LayerParameter).
- LayerParameter: name 1, type 2 (string), bottom 3, top 4, blobs 7,
  include 8, exclude 9, concat_param 104, convolution_param 106,
  dropout_param 108, inner_product_param 117, lrn_param 118,
  pooling_param 121, relu_param 123, softmax_param 125, input_param 143.
- V1LayerParameter: bottom 2, top 3, name 4, type 5 (LayerType enum),
  blobs 6, concat_param 9, convolution_param 10, dropout_param 12,
  inner_product_param 17, lrn_param 18, pooling_param 19, relu_param 30,
  include 32, exclude 33, softmax_param 39.
- BlobProto: num 1, channels 2, height 3, width 4 (legacy dims), data 5
  (float), shape 7 (BlobShape: dim 1, int64), double_data 8.

Every other field, of any wire type, is skipped. Decoded messages have the
form of :func:`prototxt.parse_text`'s (``{field: [values]}``, enums as names),
so :func:`prototxt.graph_from_net` builds the graph from either.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np

from inceptionism.weights.caffe_params import ENUMS
from inceptionism.weights.prototxt import graph_from_net
from inceptionism.weights.shapes import param_shapes


class CaffeModelError(ValueError):
    """A caffemodel that cannot be decoded (truncated or not a caffemodel)."""


# Enums by value (caffe.proto).
_ENUMS: dict[str, dict[int, str]] = {
    "V1LayerType": {
        0: "NONE", 35: "ABSVAL", 1: "ACCURACY", 30: "ARGMAX", 2: "BNLL",
        3: "CONCAT", 37: "CONTRASTIVE_LOSS", 4: "CONVOLUTION", 5: "DATA",
        39: "DECONVOLUTION", 6: "DROPOUT", 32: "DUMMY_DATA",
        7: "EUCLIDEAN_LOSS", 25: "ELTWISE", 38: "EXP", 8: "FLATTEN",
        9: "HDF5_DATA", 10: "HDF5_OUTPUT", 28: "HINGE_LOSS", 11: "IM2COL",
        12: "IMAGE_DATA", 13: "INFOGAIN_LOSS", 14: "INNER_PRODUCT", 15: "LRN",
        29: "MEMORY_DATA", 16: "MULTINOMIAL_LOGISTIC_LOSS", 34: "MVN",
        17: "POOLING", 26: "POWER", 18: "RELU", 19: "SIGMOID",
        27: "SIGMOID_CROSS_ENTROPY_LOSS", 36: "SILENCE", 20: "SOFTMAX",
        21: "SOFTMAX_LOSS", 22: "SPLIT", 33: "SLICE", 23: "TANH",
        24: "WINDOW_DATA", 31: "THRESHOLD",
    },
    "Phase": {0: "TRAIN", 1: "TEST"},
    **ENUMS,
}  # fmt: skip

# Field kinds: "str", "int" (varint, signed), "uint", "bool", "float",
# "double", "floats"/"doubles" (bulk data kept as a numpy view),
# ("enum", table), ("msg", type).
_SCHEMA: dict[str, dict[int, tuple]] = {
    "NetParameter": {
        1: ("name", "str"),
        2: ("layers", ("msg", "V1LayerParameter")),
        3: ("input", "str"),
        4: ("input_dim", "int"),
        8: ("input_shape", ("msg", "BlobShape")),
        100: ("layer", ("msg", "LayerParameter")),
    },
    "LayerParameter": {
        1: ("name", "str"),
        2: ("type", "str"),
        3: ("bottom", "str"),
        4: ("top", "str"),
        7: ("blobs", ("msg", "BlobProto")),
        8: ("include", ("msg", "NetStateRule")),
        9: ("exclude", ("msg", "NetStateRule")),
        104: ("concat_param", ("msg", "ConcatParameter")),
        106: ("convolution_param", ("msg", "ConvolutionParameter")),
        108: ("dropout_param", ("msg", "DropoutParameter")),
        117: ("inner_product_param", ("msg", "InnerProductParameter")),
        118: ("lrn_param", ("msg", "LRNParameter")),
        121: ("pooling_param", ("msg", "PoolingParameter")),
        123: ("relu_param", ("msg", "ReLUParameter")),
        125: ("softmax_param", ("msg", "SoftmaxParameter")),
        143: ("input_param", ("msg", "InputParameter")),
    },
    "V1LayerParameter": {
        2: ("bottom", "str"),
        3: ("top", "str"),
        4: ("name", "str"),
        5: ("type", ("enum", "V1LayerType")),
        6: ("blobs", ("msg", "BlobProto")),
        9: ("concat_param", ("msg", "ConcatParameter")),
        10: ("convolution_param", ("msg", "ConvolutionParameter")),
        12: ("dropout_param", ("msg", "DropoutParameter")),
        17: ("inner_product_param", ("msg", "InnerProductParameter")),
        18: ("lrn_param", ("msg", "LRNParameter")),
        19: ("pooling_param", ("msg", "PoolingParameter")),
        30: ("relu_param", ("msg", "ReLUParameter")),
        32: ("include", ("msg", "NetStateRule")),
        33: ("exclude", ("msg", "NetStateRule")),
        39: ("softmax_param", ("msg", "SoftmaxParameter")),
    },
    "NetStateRule": {1: ("phase", ("enum", "Phase"))},
    "BlobProto": {
        1: ("num", "int"),
        2: ("channels", "int"),
        3: ("height", "int"),
        4: ("width", "int"),
        5: ("data", "floats"),
        7: ("shape", ("msg", "BlobShape")),
        8: ("double_data", "doubles"),
    },
    "BlobShape": {1: ("dim", "int")},
    "InputParameter": {1: ("shape", ("msg", "BlobShape"))},
    "ConvolutionParameter": {
        1: ("num_output", "uint"),
        2: ("bias_term", "bool"),
        3: ("pad", "uint"),
        4: ("kernel_size", "uint"),
        5: ("group", "uint"),
        6: ("stride", "uint"),
        9: ("pad_h", "uint"),
        10: ("pad_w", "uint"),
        11: ("kernel_h", "uint"),
        12: ("kernel_w", "uint"),
        13: ("stride_h", "uint"),
        14: ("stride_w", "uint"),
        15: ("engine", ("enum", "Engine")),
        16: ("axis", "int"),
        17: ("force_nd_im2col", "bool"),
        18: ("dilation", "uint"),
    },
    "PoolingParameter": {
        1: ("pool", ("enum", "PoolMethod")),
        2: ("kernel_size", "uint"),
        3: ("stride", "uint"),
        4: ("pad", "uint"),
        5: ("kernel_h", "uint"),
        6: ("kernel_w", "uint"),
        7: ("stride_h", "uint"),
        8: ("stride_w", "uint"),
        9: ("pad_h", "uint"),
        10: ("pad_w", "uint"),
        11: ("engine", ("enum", "Engine")),
        12: ("global_pooling", "bool"),
        13: ("round_mode", ("enum", "RoundMode")),
    },
    "LRNParameter": {
        1: ("local_size", "uint"),
        2: ("alpha", "float"),
        3: ("beta", "float"),
        4: ("norm_region", ("enum", "NormRegion")),
        5: ("k", "float"),
        6: ("engine", ("enum", "Engine")),
    },
    "InnerProductParameter": {
        1: ("num_output", "uint"),
        2: ("bias_term", "bool"),
        5: ("axis", "int"),
        6: ("transpose", "bool"),
    },
    "DropoutParameter": {1: ("dropout_ratio", "float")},
    "ConcatParameter": {1: ("concat_dim", "uint"), 2: ("axis", "int")},
    "ReLUParameter": {
        1: ("negative_slope", "float"),
        2: ("engine", ("enum", "Engine")),
    },
    "SoftmaxParameter": {1: ("engine", ("enum", "Engine")), 2: ("axis", "int")},
}

_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")


class _Reader:
    """Decodes messages from a buffer (bytes or an mmap) by the schema."""

    def __init__(self, buf):
        self.buf = memoryview(buf)
        self.u8 = np.frombuffer(buf, dtype=np.uint8) if len(buf) else None

    def fail(self, pos: int, what: str):
        raise CaffeModelError(
            f"truncated or corrupt caffemodel: {what} at byte {pos} of {len(self.buf)}"
        )

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        buf = self.buf
        result = shift = 0
        while True:
            if pos >= end:
                self.fail(pos, "varint runs past the end of its message")
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result, pos
            shift += 7
            if shift > 63:
                self.fail(pos, "varint longer than 10 bytes")

    def skip(self, wire: int, pos: int, end: int, field: int) -> int:
        if wire == 0:
            return self.varint(pos, end)[1]
        if wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            n, pos = self.varint(pos, end)
            pos += n
        elif wire == 3:  # deprecated group: skip to its END_GROUP
            while True:
                key, pos = self.varint(pos, end)
                if key & 7 == 4:
                    if key >> 3 != field:
                        self.fail(pos, "mismatched group end")
                    return pos
                pos = self.skip(key & 7, pos, end, key >> 3)
        else:
            self.fail(pos, f"invalid wire type {wire} of field {field}")
        if pos > end:
            self.fail(end, f"field {field} runs past the end of its message")
        return pos

    def message(self, type_: str, pos: int, end: int) -> dict:
        schema = _SCHEMA[type_]
        msg: dict[str, list] = {}
        while pos < end:
            key, pos = self.varint(pos, end)
            field, wire = key >> 3, key & 7
            spec = schema.get(field)
            if spec is None or field == 0:
                if field == 0:
                    self.fail(pos, "field number 0")
                pos = self.skip(wire, pos, end, field)
                continue
            name, kind = spec
            values = msg.setdefault(name, [])
            pos = self.value(kind, wire, pos, end, values)
        if pos != end:
            self.fail(pos, f"{type_} runs past the end of its enclosing message")
        return msg

    def value(self, kind, wire: int, pos: int, end: int, out: list) -> int:
        if isinstance(kind, tuple) and kind[0] == "msg":
            if wire != 2:
                self.fail(pos, f"{kind[1]} with wire type {wire}")
            n, pos = self.varint(pos, end)
            if pos + n > end:
                self.fail(pos, f"{kind[1]} of {n} bytes runs past the end")
            out.append(self.message(kind[1], pos, pos + n))
            return pos + n
        if kind == "str":
            if wire != 2:
                self.fail(pos, f"string with wire type {wire}")
            n, pos = self.varint(pos, end)
            if pos + n > end:
                self.fail(pos, f"string of {n} bytes runs past the end")
            out.append(bytes(self.buf[pos : pos + n]).decode("utf-8", "replace"))
            return pos + n
        if kind in ("float", "floats", "double", "doubles"):
            single = kind in ("float", "floats")
            size, fixed = (4, 5) if single else (8, 1)
            dtype = "<f4" if single else "<f8"
            if wire == 2:  # packed
                n, pos = self.varint(pos, end)
                if pos + n > end or n % size:
                    self.fail(pos, f"packed {dtype} data of {n} bytes is cut off")
                arr = np.frombuffer(self.buf, dtype, n // size, pos)
                if kind in ("float", "double"):  # a packed scalar field
                    out.extend(float(v) for v in arr)
                else:
                    out.append(arr)
                return pos + n
            if wire != fixed:
                self.fail(pos, f"{kind} with wire type {wire}")
            if kind in ("floats", "doubles"):
                return self.unpacked_run(size, dtype, pos, end, out)
            if pos + size > end:
                self.fail(pos, f"{kind} value cut off")
            out.append((_F32 if single else _F64).unpack_from(self.buf, pos)[0])
            return pos + size
        # varint scalars (possibly packed)
        if wire == 2:
            n, pos = self.varint(pos, end)
            stop = pos + n
            if stop > end:
                self.fail(pos, f"packed varints of {n} bytes run past the end")
            while pos < stop:
                v, pos = self.varint(pos, stop)
                out.append(self.convert(kind, v))
            return pos
        if wire != 0:
            self.fail(pos, f"integer field with wire type {wire}")
        v, pos = self.varint(pos, end)
        out.append(self.convert(kind, v))
        return pos

    def unpacked_run(self, size, dtype, pos, end, out) -> int:
        """Unpacked repeated floats: one key byte + value per element. The
        run of equal keys is found with numpy rather than one loop step per
        value; the values are gathered into one array."""
        key = self.buf[pos - 1]
        stride = size + 1
        n_max = (end - pos + 1) // stride
        if n_max == 0:
            self.fail(pos, f"{dtype} value cut off")
        rec = self.u8[pos - 1 : pos - 1 + n_max * stride].reshape(n_max, stride)
        bad = np.flatnonzero(rec[:, 0] != key)
        n = int(bad[0]) if bad.size else n_max
        vals = np.ascontiguousarray(rec[:n, 1:]).view(dtype).reshape(n)
        out.append(vals)
        return pos - 1 + n * stride

    @staticmethod
    def convert(kind, v: int):
        if kind == "int":
            return v - (1 << 64) if v >= 1 << 63 else v
        if kind == "bool":
            return bool(v)
        if isinstance(kind, tuple) and kind[0] == "enum":
            return _ENUMS[kind[1]].get(v, v)
        return v


def _open(source) -> tuple[Any, BinaryIO | None]:
    """(buffer, closer) for a path or bytes-like object."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return source, None
    f = open(source, "rb")  # closed by read_caffemodel
    try:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise CaffeModelError(f"{os.fspath(source)}: empty file")
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), f
    except BaseException:
        f.close()
        raise


def decode_net(buf) -> dict:
    """Decode a NetParameter from bytes or an mmap (blob data as views)."""
    return _Reader(buf).message("NetParameter", 0, len(buf))


def blob_array(blob: Mapping, where: str) -> np.ndarray:
    """A BlobProto as an array: shape from ``shape.dim`` or the legacy
    num/channels/height/width (right-aligned, 4-d), values from ``data``
    (float32) or ``double_data`` (float64), each possibly split over several
    runs."""
    if blob.get("shape"):
        shape = tuple(int(d) for d in blob["shape"][0].get("dim", []))
    else:
        shape = tuple(int(blob.get(k, [0])[0]) for k in
                      ("num", "channels", "height", "width"))  # fmt: skip
    parts = blob.get("data") or blob.get("double_data") or []
    count = sum(len(p) for p in parts)
    if count != int(np.prod(shape, dtype=np.int64)):
        raise CaffeModelError(
            f"{where}: blob has {count} values for its shape {list(shape)}"
        )
    data = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return data.reshape(shape)


def _strip_ones(shape) -> tuple:
    shape = tuple(shape)
    while len(shape) > 1 and shape[0] == 1:
        shape = shape[1:]
    return shape


def take_params(
    graph: dict, raw: Mapping[str, Mapping], where: str = "caffemodel"
) -> dict:
    """float32 parameters for every weighted layer of ``graph``, taken by
    layer name from decoded caffemodel layers and checked against the graph.

    Legacy dims are right-aligned (InnerProduct weight 1x1xOUTxIN, bias
    1x1x1xOUT), so leading 1s are ignored when comparing shapes.
    """
    params: dict[str, dict[str, np.ndarray]] = {}
    for layer, expected in param_shapes(graph).items():
        msg = raw.get(layer)
        if msg is None:
            raise CaffeModelError(
                f"{where} has no layer {layer!r} (is it the right model for this "
                "topology? give --prototxt or --model)"
            )
        blobs = msg.get("blobs", [])
        kinds = list(expected)  # weight, then bias if bias_term
        if len(blobs) < len(kinds):
            raise CaffeModelError(
                f"{where}: layer {layer!r} has {len(blobs)} blobs, the graph "
                f"needs {len(kinds)} ({' and '.join(kinds)})"
            )
        params[layer] = {}
        for kind, blob in zip(kinds, blobs):
            arr = blob_array(blob, f"{where}: layer {layer!r} {kind}")
            want = expected[kind]
            if _strip_ones(arr.shape) != _strip_ones(want):
                raise CaffeModelError(
                    f"{where}: layer {layer!r}: {kind} has shape "
                    f"{list(arr.shape)}, the topology needs {list(want)}"
                )
            params[layer][kind] = arr.astype(np.float32).reshape(want)  # copies
    return params


def read_caffemodel(source, topology: dict | None = None, name: str | None = None):
    """Read a caffemodel (path or bytes): ``(graph, params)``.

    topology : graph dict, optional
        Take blobs by layer name for this graph (from the registry or a
        prototxt) and check their shapes. Without it the graph is the
        caffemodel's own, reduced to its deploy net (see
        :func:`prototxt.graph_from_net`).
    """
    where = "caffemodel" if isinstance(source, (bytes, bytearray)) else str(source)
    buf, closer = _open(source)
    net = layers = raw = None
    try:
        try:
            net = decode_net(buf)
        except CaffeModelError as exc:
            raise CaffeModelError(f"{where}: {exc}") from None
        layers = net.get("layer") or net.get("layers") or []
        if not layers:
            raise CaffeModelError(
                f"{where}: no layers found; this is not a Caffe model file"
            )
        if topology is None:
            graph, raw = graph_from_net(net, name=name)
        else:
            graph = topology
            raw = {}
            for lyr in layers:
                raw.setdefault(lyr.get("name", [""])[0], lyr)
        params = take_params(graph, raw, where)
        return graph, params
    finally:
        # the params are copies: drop the views into the mapping, then close it
        net = layers = raw = None
        if closer is not None:
            closer.close()
            try:
                buf.close()
            except BufferError:  # a traceback still holds a view; GC unmaps
                pass


__all__ = ["CaffeModelError", "decode_net", "read_caffemodel"]
