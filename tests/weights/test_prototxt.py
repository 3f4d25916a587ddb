"""Protobuf text format and prototxt -> graph."""

from __future__ import annotations

import pytest

from inceptionism.weights.prototxt import PrototxtError, parse_text, read_prototxt
from tests.weights import minnet


def test_text_format_syntax():
    text = r"""
    # comment at top
    name: "n\"et\\" 'x\101\x42\n'   # escapes, adjacent strings join
    count: -12 ratio: 2.5e-1 ; flag: true, off: false
    list: [1, 2, 3]
    list: 4
    sub { a: 1 sub2: < b: ENUM_VALUE > }
    sub: { a: 2 }
    big: 0x1F  neg_inf: -inf
    """
    msg = parse_text(text)
    assert msg["name"] == ['n"et\\xAB\n']
    assert msg["count"] == [-12] and msg["ratio"] == [0.25]
    assert msg["flag"] == [True] and msg["off"] == [False]
    assert msg["list"] == [1, 2, 3, 4]
    assert msg["sub"] == [{"a": [1], "sub2": [{"b": ["ENUM_VALUE"]}]}, {"a": [2]}]
    assert msg["big"] == [31] and msg["neg_inf"] == [float("-inf")]


@pytest.mark.parametrize(
    "text,where",
    [
        ("a: 1 }", "line 1"),
        ("a {\n b: 1\n", "line 3"),
        ('a: "unterminated\n', "line 1"),
        ("a 1", "line 1"),
    ],
    ids=["stray-brace", "unclosed", "bad-string", "no-colon"],
)
def test_syntax_errors_name_the_line(text, where):
    with pytest.raises(PrototxtError, match=where):
        parse_text(text)


def test_legacy_deploy_prototxt_graph():
    g = read_prototxt(minnet.DEPLOY_PROTOTXT)
    assert g["name"] == "mini"
    assert g["input"] == {"name": "data", "shape": [1, 3, 32, 32]}
    assert [lyr["name"] for lyr in g["layers"]] == minnet.DEPLOY_LAYERS
    by = {lyr["name"]: lyr for lyr in g["layers"]}
    assert by["conv1"] == {
        "name": "conv1",
        "type": "Convolution",
        "bottom": ["data"],
        "top": ["conv1"],
        "params": {"num_output": 4, "kernel_size": 3, "stride": 2, "pad": 1},
    }  # fmt: skip (weight_filler and blobs_lr dropped)
    assert by["relu1"]["top"] == ["conv1"]
    assert by["mix/b"]["params"]["bias_term"] is False
    assert by["pool5"]["params"] == {"pool": "AVE", "global_pooling": True}
    assert by["mix/output"]["bottom"] == ["mix/a", "mix/b"]


def _v2(text: str) -> str:
    out = text.replace("layers {", "layer {")
    for v1, v2 in [("CONVOLUTION", "Convolution"), ("RELU", "ReLU"),
                   ("POOLING", "Pooling"), ("LRN", "LRN"), ("CONCAT", "Concat"),
                   ("DROPOUT", "Dropout"), ("INNER_PRODUCT", "InnerProduct"),
                   ("SOFTMAX", "Softmax")]:  # fmt: skip
        out = out.replace(f"type: {v1} ", f'type: "{v2}" ')
    return out


def test_v2_layers_with_input_shape_and_input_layer():
    v1 = read_prototxt(minnet.DEPLOY_PROTOTXT)
    header = "input_dim: 1  input_dim: 3\ninput_dim: 32 input_dim: 32"
    text = _v2(minnet.DEPLOY_PROTOTXT)
    assert "CONVOLUTION" not in text
    shape = text.replace(header, "input_shape { dim: 1 dim: 3 dim: 32 dim: 32 }")
    assert read_prototxt(shape) == v1
    layer = text.replace('input: "data"\n' + header, 'layer { name: "data" '
                         'type: "Input" top: "data" input_param { shape: { dim: 1 '
                         "dim: 3 dim: 32 dim: 32 } } }")  # fmt: skip
    assert read_prototxt(layer) == v1


def test_file_path(tmp_path):
    p = tmp_path / "deploy.prototxt"
    p.write_text(minnet.DEPLOY_PROTOTXT)
    assert read_prototxt(p) == read_prototxt(minnet.DEPLOY_PROTOTXT)


def test_training_net_keeps_the_deploy_part():
    text = minnet.DEPLOY_PROTOTXT.replace(
        'layers { name: "prob" type: SOFTMAX bottom: "classifier" top: "prob" }',
        'layers { name: "aux" type: INNER_PRODUCT bottom: "norm1" top: "aux" '
        "inner_product_param { num_output: 2 } }\n"
        'layers { name: "loss" type: SOFTMAX_LOSS bottom: "classifier" '
        'bottom: "label" top: "loss" }\n'
        'layers { name: "acc" type: ACCURACY bottom: "classifier" top: "acc" '
        "include { phase: TEST } }",
    )
    g = read_prototxt(text)
    assert [lyr["name"] for lyr in g["layers"]] == minnet.DEPLOY_LAYERS
