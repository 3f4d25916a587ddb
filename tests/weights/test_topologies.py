"""Built-in topologies, shape inference and synthetic weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inceptionism.weights.registry import MODELS
from inceptionism.weights.shapes import infer_shapes, param_shapes
from inceptionism.weights.synthetic import synthetic_model
from inceptionism.weights.topologies import googlenet_graph, graph_for


@pytest.fixture(scope="module")
def g():
    return graph_for("bvlc_googlenet")


def test_counts(g):
    """142 layers; 85 distinct blobs counting ``data`` (Caffe's net.blobs:
    ReLU and Dropout write in place); every layer name is a target."""
    layers = g["layers"]
    assert len(layers) == 142
    assert len({lyr["name"] for lyr in layers}) == 142
    blobs = {"data"} | {t for lyr in layers for t in lyr["top"]}
    assert len(blobs) == 85
    types = [lyr["type"] for lyr in layers]
    counts = {t: types.count(t) for t in set(types)}
    assert counts == {"Convolution": 57, "ReLU": 57, "Pooling": 14, "LRN": 2,
                      "Concat": 9, "Dropout": 1, "InnerProduct": 1,
                      "Softmax": 1}  # fmt: skip


def test_one_module_as_in_caffe_deploy(g):
    """inception_4c exactly as written in Caffe's deploy.prototxt."""
    by = {lyr["name"]: lyr for lyr in g["layers"]}
    b = "inception_4b/output"
    expect = [
        ("1x1", "Convolution", [b], {"num_output": 128, "kernel_size": 1}),
        ("relu_1x1", "ReLU", ["inception_4c/1x1"], {}),
        ("3x3_reduce", "Convolution", [b], {"num_output": 128, "kernel_size": 1}),
        ("3x3", "Convolution", ["inception_4c/3x3_reduce"],
         {"num_output": 256, "kernel_size": 3, "pad": 1}),
        ("5x5_reduce", "Convolution", [b], {"num_output": 24, "kernel_size": 1}),
        ("5x5", "Convolution", ["inception_4c/5x5_reduce"],
         {"num_output": 64, "kernel_size": 5, "pad": 2}),
        ("pool", "Pooling", [b],
         {"pool": "MAX", "kernel_size": 3, "stride": 1, "pad": 1}),
        ("pool_proj", "Convolution", ["inception_4c/pool"],
         {"num_output": 64, "kernel_size": 1}),
        ("output", "Concat", [f"inception_4c/{x}" for x in
                              ("1x1", "3x3", "5x5", "pool_proj")], {}),
    ]  # fmt: skip
    for local, type_, bottom, params in expect:
        lyr = by[f"inception_4c/{local}"]
        assert (lyr["type"], lyr["bottom"], lyr["params"]) == (type_, bottom, params)
    assert by["inception_4c/relu_5x5_reduce"]["top"] == ["inception_4c/5x5_reduce"]
    assert by["conv1/7x7_s2"]["params"] == {
        "num_output": 64, "kernel_size": 7, "stride": 2, "pad": 3,
    }  # fmt: skip
    assert by["pool1/norm1"]["params"] == {"local_size": 5, "alpha": 0.0001,
                                           "beta": 0.75}  # fmt: skip
    assert by["pool5/drop_7x7_s1"]["top"] == ["pool5/7x7_s1"]
    assert [lyr["name"] for lyr in g["layers"][-4:]] == [
        "pool5/7x7_s1", "pool5/drop_7x7_s1", "loss3/classifier", "prob",
    ]  # fmt: skip


def test_shapes_at_224(g):
    s = infer_shapes(g)
    assert len(s) == 143  # data + one per layer
    expect = {
        "conv1/7x7_s2": (64, 112, 112), "pool1/3x3_s2": (64, 56, 56),
        "conv2/3x3": (192, 56, 56), "pool2/3x3_s2": (192, 28, 28),
        "inception_3a/output": (256, 28, 28), "inception_3b/output": (480, 28, 28),
        "pool3/3x3_s2": (480, 14, 14), "inception_4a/output": (512, 14, 14),
        "inception_4c/output": (512, 14, 14), "inception_4d/output": (528, 14, 14),
        "inception_4e/output": (832, 14, 14), "pool4/3x3_s2": (832, 7, 7),
        "inception_5b/output": (1024, 7, 7), "pool5/7x7_s1": (1024, 1, 1),
        "loss3/classifier": (1000,), "prob": (1000,),
    }  # fmt: skip
    for name, shape in expect.items():
        assert s[name] == (1, *shape), name


@pytest.mark.parametrize("hw", [(227, 301), (97, 131)], ids=["227x301", "97x131"])
def test_shapes_at_odd_sizes_follow_caffe_rules(g, hw):
    s = infer_shapes(g, size=hw, strict=False)
    h, w = hw
    conv = lambda n, k, st, p: (n + 2 * p - k) // st + 1  # noqa: E731
    pool = lambda n: math.ceil((n - 3) / 2) + 1  # noqa: E731 (no padding)
    h, w = conv(h, 7, 2, 3), conv(w, 7, 2, 3)
    assert s["conv1/7x7_s2"][2:] == (h, w)
    h, w = pool(h), pool(w)
    assert s["pool1/3x3_s2"][2:] == (h, w)
    for name in ("pool2/3x3_s2", "pool3/3x3_s2", "pool4/3x3_s2"):
        h, w = pool(h), pool(w)
        assert s[name][2:] == (h, w), name
    assert s["inception_5b/output"] == (1, 1024, h, w)
    if min(h, w) >= 7:  # pool5 is 7x7: only then the classifier exists
        assert s["prob"] == (1, 1000)
    else:
        assert "pool5/7x7_s1" not in s and "prob" not in s
        with pytest.raises(
            ValueError, match="layer 'pool5/7x7_s1'.*larger than the padded input"
        ):
            infer_shapes(g, size=hw)


def test_parameter_count(g):
    ps = param_shapes(g)
    assert len(ps) == 58  # 57 convolutions + the classifier
    assert ps["loss3/classifier"] == {"weight": (1000, 1024), "bias": (1000,)}
    assert ps["inception_4c/5x5"]["weight"] == (64, 24, 5, 5)
    n = sum(math.prod(v) for d in ps.values() for v in d.values())
    assert n == 6_998_552  # GoogLeNet's ~7M parameters


@pytest.mark.parametrize("name", sorted(MODELS))
def test_registry_models(name):
    spec = MODELS[name]
    g = spec.graph()
    assert g["name"] == name
    classes = infer_shapes(g)["prob"][1]
    assert classes == {"bvlc_googlenet": 1000, "googlenet_places205": 205,
                       "googlenet_places365": 365}[name]  # fmt: skip
    assert g == graph_for(name) and g is not graph_for(name)
    if spec.labels:
        assert len(spec.load_labels()) == classes
    assert spec.sha1 is None or len(spec.sha1) == 40


def test_bvlc_labels_are_the_caffe_synset_words():
    labels = MODELS["bvlc_googlenet"].load_labels()
    assert labels[0] == "n01440764 tench, Tinca tinca"
    assert labels[-1] == "n15075141 toilet tissue, toilet paper, bathroom tissue"


def test_unknown_topology():
    with pytest.raises(ValueError, match="no built-in topology.*bvlc_googlenet"):
        graph_for("alexnet")


def test_googlenet_graph_builder_is_parametric():
    g = googlenet_graph(num_classes=7, name="x")
    assert g["name"] == "x" and g["layers"][-2]["params"] == {"num_output": 7}


# ------------------------------------------------------------------ synthetic


def test_synthetic_is_seeded_and_he_scaled():
    a = synthetic_model("bvlc_googlenet", seed=0)
    b = synthetic_model("bvlc_googlenet", seed=0)
    c = synthetic_model("bvlc_googlenet", seed=1)
    w = a.params["inception_4c/3x3"]["weight"]
    assert w.dtype == np.float32
    assert np.array_equal(w, b.params["inception_4c/3x3"]["weight"])
    assert not np.array_equal(w, c.params["inception_4c/3x3"]["weight"])
    assert w.std() == pytest.approx(math.sqrt(2 / (128 * 9)), rel=0.02)
    bias = a.params["inception_4c/3x3"]["bias"]
    assert bias.min() > 0 and bias.max() < 0.1 and bias.std() > 0.01
    assert a.labels == MODELS["bvlc_googlenet"].load_labels()
    assert a.preprocess["mean"] == [104.0, 117.0, 123.0]


def test_synthetic_float64_is_the_float32_unrounded():
    a = synthetic_model("googlenet_places365", seed=2, dtype=np.float64)
    b = synthetic_model("googlenet_places365", seed=2)
    w64 = a.params["loss3/classifier"]["weight"]
    assert w64.dtype == np.float64 and w64.shape == (365, 1024)
    assert np.array_equal(
        w64.astype(np.float32), b.params["loss3/classifier"]["weight"]
    )
    assert a.preprocess["mean"] == [104.051, 112.514, 116.676]
