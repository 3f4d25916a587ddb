"""Caffe's layer-parameter rules (weights/caffe_params.py): every field of
caffe.proto's eight parameter messages, defaults, spellings and refusals;
and the two rules that used to disagree between the kernels and the shape
inference (round_mode: FLOOR, global_pooling: false)."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.kernels import concat, conv, dropout, linear, lrn, pool, relu, softmax
from inceptionism.weights.caffe_params import FIELDS, layer_params
from inceptionism.weights.caffemodel import read_caffemodel
from inceptionism.weights.convert import convert
from inceptionism.weights.hdf5 import load_model
from inceptionism.weights.prototxt import parse_text, read_prototxt
from inceptionism.weights.shapes import infer_shapes, param_shapes
from tests.weights import caffe_writer

MAX, AVE = pool.Pool.MAX, pool.Pool.AVE
CEIL, FLOOR = pool.RoundMode.CEIL, pool.RoundMode.FLOOR
ACROSS, WITHIN = lrn.NormRegion.ACROSS_CHANNELS, lrn.NormRegion.WITHIN_CHANNEL

# (type, raw params, expected Params); together they give every field of
# FIELDS at least once (checked by test_every_field_is_covered).
GOOD = [
    ("Convolution", {"num_output": 4, "kernel_size": 3},
     conv.Params(4, (3, 3)), "conv_defaults"),
    ("Convolution",
     {"num_output": 6, "kernel_size": [1, 7], "stride": [1, 2], "pad": [0, 3],
      "dilation": [2, 1], "group": 2, "bias_term": False, "axis": 1,
      "engine": "CAFFE", "force_nd_im2col": False,
      "weight_filler": {"type": "xavier"}, "bias_filler": {"type": "constant"}},
     conv.Params(6, (1, 7), (1, 2), (0, 3), (2, 1), 2, False), "conv_repeated"),
    ("Convolution",
     {"num_output": 6, "kernel_h": 1, "kernel_w": 7, "stride_h": 1,
      "stride_w": 2, "pad_h": 0, "pad_w": 3, "dilation": 2, "group": 2,
      "bias_term": "false", "engine": 2},
     conv.Params(6, (1, 7), (1, 2), (0, 3), (2, 2), 2, False), "conv_h_w"),
    ("Pooling", {"kernel_size": 3},
     pool.Params(MAX, (3, 3), (1, 1), (0, 0), False, CEIL), "pool_defaults"),
    ("Pooling",
     {"pool": "AVE", "kernel_size": 3, "stride": 2, "pad": 1, "engine": "CAFFE",
      "global_pooling": "false", "round_mode": "FLOOR"},
     pool.Params(AVE, (3, 3), (2, 2), (1, 1), False, FLOOR), "pool_all_words"),
    ("Pooling",
     {"pool": 1, "kernel_h": 2, "kernel_w": 3, "stride_h": 1, "stride_w": 2,
      "pad_h": 1, "pad_w": 0, "global_pooling": 0, "round_mode": 1},
     pool.Params(AVE, (2, 3), (1, 2), (1, 0), False, FLOOR), "pool_numbers"),
    ("Pooling", {"kernel_size": 2, "round_mode": 0, "global_pooling": False},
     pool.Params(MAX, (2, 2), round_mode=CEIL), "pool_ceil_number"),
    ("Pooling", {"pool": "AVE", "global_pooling": "true"},
     pool.Params(AVE, global_pooling=True), "pool_global"),
    ("LRN", {}, lrn.Params(5, 1.0, 0.75, 1.0, ACROSS), "lrn_defaults"),
    ("LRN",
     {"local_size": 3, "alpha": 1e-4, "beta": 0.5, "k": 2, "norm_region": 1,
      "engine": 0},
     lrn.Params(3, 1e-4, 0.5, 2.0, WITHIN), "lrn_all"),
    ("ReLU", {}, relu.Params(0.0), "relu_defaults"),
    ("ReLU", {"negative_slope": 0.2, "engine": "CUDNN"}, relu.Params(0.2),
     "relu_slope"),
    ("Concat", {}, concat.Params(1), "concat_defaults"),
    ("Concat", {"axis": -3}, concat.Params(-3), "concat_axis"),
    ("Concat", {"concat_dim": 1}, concat.Params(1), "concat_dim"),
    ("InnerProduct", {"num_output": 10}, linear.Params(10), "ip_defaults"),
    ("InnerProduct",
     {"num_output": 3, "bias_term": "false", "axis": 2, "transpose": "true",
      "weight_filler": {"type": "gaussian"}, "bias_filler": {"type": "constant"}},
     linear.Params(3, False, 2, True), "ip_all"),
    ("Dropout", {}, dropout.Params(0.5, True), "dropout_defaults"),
    ("Dropout", {"dropout_ratio": 0.4, "scale_train": False},
     dropout.Params(0.4, False), "dropout_all"),
    ("Softmax", {}, softmax.Params(1), "softmax_defaults"),
    ("Softmax", {"axis": 2, "engine": "CAFFE"}, softmax.Params(2), "softmax_all"),
]  # fmt: skip


@pytest.mark.parametrize(
    "type_, raw, want", [pytest.param(*g[:3], id=g[3]) for g in GOOD]
)
def test_fields_defaults_and_spellings(type_, raw, want):
    assert layer_params(type_, raw, "L") == want


def test_every_field_is_covered():
    seen = {(t, k) for t, raw, _, _ in GOOD for k in raw}
    every = {(t, k) for t, fields in FIELDS.items() for k in fields}
    assert every - seen == set()


BAD = [
    ("Convolution", {"num_output": 2}, "kernel_size", "conv_no_kernel"),
    ("Convolution", {"kernel_size": 3}, "num_output is required", "conv_no_out"),
    ("Convolution", {"num_output": 2, "kernel_size": 3, "kernel_h": 3,
                     "kernel_w": 3}, "either kernel_size or kernel_h", "conv_twice"),
    ("Convolution", {"num_output": 2, "kernel_h": 3}, "kernel_h and kernel_w",
     "conv_half"),
    ("Convolution", {"num_output": 2, "kernel_size": [3, 3, 3]}, "1 or 2 values",
     "conv_3d"),
    ("Convolution", {"num_output": 2, "kernel_size": 3, "stride": 0}, "stride",
     "conv_stride0"),
    ("Convolution", {"num_output": 3, "kernel_size": 3, "group": 2},
     "not divisible by group", "conv_group"),
    ("Convolution", {"num_output": 2, "kernel_size": 3, "group": 0}, "group",
     "conv_group0"),
    ("Convolution", {"num_output": 2, "kernel_size": 3, "bias_term": "maybe"},
     "bias_term must be true or false", "conv_bad_bool"),
    ("Convolution", {"num_output": 2, "kernel_size": 3, "axis": 2}, "axis 2",
     "conv_axis"),
    ("Convolution", {"num_output": float("inf"), "kernel_size": 3},
     "num_output must be an integer", "conv_inf"),
    ("Convolution", {"num_output": 2.5, "kernel_size": 3},
     "num_output must be an integer", "conv_fraction"),
    ("Convolution", {"num_output": -2, "kernel_size": 3}, "num_output must be >= 0",
     "conv_negative"),
    ("Convolution", {"num_output": [2, 3], "kernel_size": 3}, "takes one value",
     "conv_repeated_scalar"),
    ("Convolution", {"num_output": 2, "kernel_size": 3, "kernel": 3},
     "unknown parameter 'kernel'", "conv_unknown"),
    ("Pooling", {}, "kernel_size", "pool_no_kernel"),
    ("Pooling", {"kernel_size": 3, "pool": "STOCHASTIC"}, "STOCHASTIC",
     "pool_stochastic"),
    ("Pooling", {"kernel_size": 3, "pool": 7}, "pool must be one of MAX",
     "pool_bad_number"),
    ("Pooling", {"kernel_size": 3, "stride": 0}, "stride", "pool_stride0"),
    ("Pooling", {"kernel_size": 3, "pad": 3}, "pad", "pool_pad_ge_kernel"),
    ("Pooling", {"kernel_size": 3, "kernel_h": 3, "kernel_w": 3}, "either",
     "pool_twice"),
    ("Pooling", {"kernel_size": [3, 3]}, "kernel_size takes one value",
     "pool_repeated"),
    ("Pooling", {"global_pooling": True, "kernel_size": 3}, "global_pooling",
     "pool_global_kernel"),
    ("Pooling", {"global_pooling": True, "stride": 2}, "global_pooling",
     "pool_global_stride"),
    ("Pooling", {"kernel_size": 3, "round_mode": "UP"}, "round_mode must be one of",
     "pool_bad_round"),
    ("Pooling", {"kernel_size": 3, "global_pooling": "no"},
     "global_pooling must be true or false", "pool_bad_bool"),
    ("Pooling", {"kernel_size": 3, "dilation": 2}, "unknown parameter 'dilation'",
     "pool_unknown"),
    ("LRN", {"norm_region": "SIDEWAYS"}, "norm_region", "lrn_region"),
    ("LRN", {"local_size": 0}, "local_size", "lrn_size0"),
    ("LRN", {"local_size": 4, "norm_region": "WITHIN_CHANNEL"}, "odd",
     "lrn_within_even"),
    ("LRN", {"alpha": float("nan")}, "alpha must be a finite number", "lrn_nan"),
    ("LRN", {"beta": "x"}, "beta must be a number", "lrn_word"),
    ("LRN", {"size": 5}, "unknown parameter 'size'", "lrn_unknown"),
    ("ReLU", {"negative_slope": -0.5}, "negative_slope", "relu_negative"),
    ("ReLU", {"slope": 0.1}, "unknown", "relu_unknown"),
    ("Concat", {"axis": 1, "concat_dim": 1}, "either axis or concat_dim",
     "concat_both"),
    ("InnerProduct", {}, "num_output", "ip_no_out"),
    ("InnerProduct", {"num_output": 0}, "num_output must be >= 1", "ip_zero"),
    ("InnerProduct", {"num_output": 2, "transpose": "yes"}, "transpose",
     "ip_bad_bool"),
    ("Dropout", {"dropout_ratio": 1.0}, "dropout_ratio", "dropout_ratio1"),
    ("Dropout", {"ratio": 0.5}, "unknown", "dropout_unknown"),
    ("Softmax", {"dim": 1}, "unknown", "softmax_unknown"),
    ("Softmax", {"axis": True}, "axis must be an integer", "softmax_bool"),
    ("Eltwise", {}, "unsupported layer type", "unsupported_type"),
]  # fmt: skip


@pytest.mark.parametrize(
    "type_, raw, match", [pytest.param(*b[:3], id=b[3]) for b in BAD]
)
def test_refusals_name_the_layer_and_the_field(type_, raw, match):
    with pytest.raises(ValueError, match=match) as info:
        layer_params(type_, raw, "my/layer")
    msg = str(info.value)
    assert msg.startswith(f"layer 'my/layer' ({type_}): ") and "\n" not in msg


def test_params_must_be_a_message():
    with pytest.raises(ValueError, match="parameters must be a message"):
        layer_params("ReLU", [0.1], "r")


# --- the two rules that used to disagree ------------------------------------

NET = """
name: "floor_net"
input: "data"
input_shape { dim: 1 dim: 3 dim: 12 dim: 12 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 3 kernel_size: 3 } }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
        pooling_param { pool: MAX kernel_size: 3 stride: 2 round_mode: %s
                        global_pooling: false } }
layer { name: "ip" type: "InnerProduct" bottom: "pool" top: "ip"
        inner_product_param { num_output: 4 } }
"""


@pytest.mark.parametrize(
    "mode, side", [("FLOOR", 4), ("CEIL", 5)], ids=["floor", "ceil"]
)
def test_round_mode_feeding_an_inner_product(mode, side):
    # conv 12 -> 10; pool k3 s2: floor((10-3)/2)+1 = 4, ceil(7/2)+1 = 5
    graph = read_prototxt(NET % mode)
    assert infer_shapes(graph)["pool"] == (1, 3, side, side)
    assert param_shapes(graph)["ip"]["weight"] == (4, 3 * side * side)


def test_round_mode_floor_caffemodel_converts_and_runs(tmp_path, rng):
    """The user report: a valid FLOOR net feeding an InnerProduct was refused
    by `weights convert` (weight [4, 75] vs a CEIL-inferred [4, 108])."""
    from inceptionism.engine import Net

    w_conv = rng.standard_normal((3, 3, 3, 3)).astype(np.float32)
    w_ip = rng.standard_normal((4, 3 * 4 * 4)).astype(np.float32)
    layers = [
        {"name": "conv", "type": "Convolution", "bottom": ["data"], "top": ["conv"],
         "params": {"num_output": 3, "kernel_size": 3},
         "blobs": [w_conv, np.zeros(3, np.float32)]},
        {"name": "pool", "type": "Pooling", "bottom": ["conv"], "top": ["pool"],
         "params": {"pool": "MAX", "kernel_size": 3, "stride": 2,
                    "round_mode": "FLOOR", "global_pooling": 0}},
        {"name": "ip", "type": "InnerProduct", "bottom": ["pool"], "top": ["ip"],
         "params": {"num_output": 4}, "blobs": [w_ip, np.zeros(4, np.float32)]},
    ]  # fmt: skip
    src = tmp_path / "floor.caffemodel"
    src.write_bytes(caffe_writer.net(layers, input_shape=[1, 3, 12, 12]))
    graph, params = read_caffemodel(src)
    assert graph["layers"][1]["params"]["round_mode"] == "FLOOR"
    np.testing.assert_array_equal(params["ip"]["weight"], w_ip)
    out = tmp_path / "floor.h5"
    convert(src, out)
    net = Net(load_model(out), dtype=np.float64)
    x = net.xp.asarray(rng.standard_normal((1, 3, 12, 12)))
    blobs = net.forward(x, end="ip")
    assert blobs["pool"].shape == (1, 3, 4, 4) and blobs["ip"].shape == (1, 4)


@pytest.mark.parametrize("word", ["false", "False", "0", "f"])
def test_global_pooling_false_stays_off(word):
    raw = parse_text(f"global_pooling: {word} kernel_size: 2")
    flat = {k: v[0] for k, v in raw.items()}
    p = layer_params("Pooling", flat, "p")
    assert p.global_pooling is False
    (shape,) = pool.output_shapes(((1, 2, 6, 6),), p)
    assert shape == (1, 2, 5, 5)  # a 2x2 window, not the whole plane
