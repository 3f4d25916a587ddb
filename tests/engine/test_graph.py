"""engine/graph.py: layer nodes, in-place layers, fan-out, sub-graphs, names."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.engine.graph import Graph, UnknownBlobError
from inceptionism.weights.model import Model
from inceptionism.weights.shapes import infer_shapes
from inceptionism.weights.topologies import graph_for


def small_graph() -> dict:
    """Every op type, in-place ReLU/Dropout, a three-way fan-out, a grouped
    conv, padded ceil-mode max pooling, LRN with alpha near 1."""

    def ly(name, type_, bottom, top=None, **params):
        bottom = [bottom] if isinstance(bottom, str) else bottom
        return {
            "name": name,
            "type": type_,
            "bottom": bottom,
            "top": [top or name],
            "params": params,
        }

    layers = [
        ly("conv_a", "Convolution", "data", num_output=4, kernel_size=3, pad=1),
        ly("relu_a", "ReLU", "conv_a", top="conv_a"),
        ly("pool_a", "Pooling", "conv_a", pool="MAX", kernel_size=3, stride=2, pad=1),
        ly("norm_a", "LRN", "pool_a", local_size=3, alpha=0.9, beta=0.75, k=2.0),
        ly("b1", "Convolution", "norm_a", num_output=3, kernel_size=1),
        ly("relu_b1", "ReLU", "b1", top="b1"),
        ly("b2", "Convolution", "norm_a", num_output=2, kernel_size=3, pad=1, group=2),
        ly("relu_b2", "ReLU", "b2", top="b2", negative_slope=0.1),
        ly("b3", "Pooling", "norm_a", pool="AVE", kernel_size=3, stride=1, pad=1),
        ly("cat", "Concat", ["b1", "b2", "b3"]),
        ly("drop", "Dropout", "cat", top="cat", dropout_ratio=0.5),
        ly("fc", "InnerProduct", "cat", num_output=5),
        ly("prob", "Softmax", "fc"),
    ]
    return {
        "name": "small",
        "input": {"name": "data", "shape": [1, 3, 9, 11]},
        "layers": layers,
    }


def small_model(hw=(9, 11), seed=0, dtype=np.float64) -> Model:
    """The small graph with seeded random weights (fc sized for ``hw``)."""
    rng = np.random.default_rng(seed)
    h, w = hw
    ph, pw = (h + 1) // 2, (w + 1) // 2  # pool_a: k3 s2 p1, Caffe rounding

    def rand(*shape, scale=0.5):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    params = {
        "conv_a": {"weight": rand(4, 3, 3, 3), "bias": rand(4)},
        "b1": {"weight": rand(3, 4, 1, 1), "bias": rand(3)},
        "b2": {"weight": rand(2, 2, 3, 3), "bias": rand(2)},
        "fc": {"weight": rand(5, 9 * ph * pw, scale=0.1), "bias": rand(5)},
    }
    return Model(
        name="small",
        graph=small_graph(),
        params=params,
        preprocess={"channel_order": "BGR", "mean": [10.0, 20.0, 30.0], "scale": 1.0},
    )


def test_nodes_in_place_layers_read_the_writer_before_them():
    g = Graph(small_graph())
    assert g.input_name == "data"
    assert g.names[0] == "data" and len(g.names) == 14
    assert g.nodes["relu_a"].inputs == ("conv_a",)
    assert g.nodes["relu_a"].in_place and not g.nodes["conv_a"].in_place
    # pool_a reads the blob conv_a after its in-place ReLU ran
    assert g.nodes["pool_a"].inputs == ("relu_a",)
    assert g.nodes["cat"].inputs == ("relu_b1", "relu_b2", "b3")
    assert g.nodes["fc"].inputs == ("drop",)


def test_fan_out_consumers():
    g = Graph(small_graph())
    assert g.consumers["norm_a"] == ("b1", "b2", "b3")
    assert g.consumers["conv_a"] == ("relu_a",)
    assert g.consumers["prob"] == ()


def test_blob_count_counts_distinct_tops_like_caffe():
    # 13 layers, 4 in place (relu_a, relu_b1, relu_b2, drop): 9 tops + data
    assert Graph(small_graph()).blob_count() == 10


@pytest.mark.parametrize(
    "targets, expected",
    [
        (["pool_a"], {"data", "conv_a", "relu_a", "pool_a"}),
        (["conv_a"], {"data", "conv_a"}),
        (["b2"], {"data", "conv_a", "relu_a", "pool_a", "norm_a", "b2"}),
        (
            ["b1", "b3"],
            {"data", "conv_a", "relu_a", "pool_a", "norm_a", "b1", "b3"},
        ),
    ],
    ids=["pool", "pre-relu", "branch", "two-branches"],
)
def test_ancestors(targets, expected):
    assert Graph(small_graph()).ancestors(targets) == expected


def test_order_is_prototxt_order():
    g = Graph(small_graph())
    assert g.order({"b3", "conv_a", "norm_a", "data"}) == ["conv_a", "norm_a", "b3"]


def test_unknown_name_lists_close_names():
    g = Graph(small_graph())
    with pytest.raises(UnknownBlobError, match="closest: .*relu_b1") as info:
        g.resolve("relu_b")
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    assert str(info.value).startswith("unknown blob 'relu_b'")
    with pytest.raises(KeyError, match="inceptionism layers"):
        g.resolve("zzzzzzzzzzzz")


def test_top_name_that_is_no_layer_name_is_an_alias():
    graph = small_graph()
    graph["layers"][0]["top"] = ["conv_a_out"]
    graph["layers"][1].update(bottom=["conv_a_out"], top=["conv_a_out"])
    graph["layers"][2]["bottom"] = ["conv_a_out"]
    g = Graph(graph)
    assert g.resolve("conv_a_out") == "relu_a"  # Caffe's net.blobs after forward


def test_input_layer_is_the_input():
    graph = small_graph()
    del graph["input"]
    graph["layers"].insert(
        0,
        {
            "name": "input",
            "type": "Input",
            "bottom": [],
            "top": ["data"],
            "params": {"shape": [1, 3, 9, 11]},
        },
    )
    g = Graph(graph)
    assert g.input_name == "data" and g.input_shape == (1, 3, 9, 11)
    assert g.resolve("input") == "data"
    assert "input" not in g.nodes


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda L: L[3].update(type="Frobnicate"), "layer 'norm_a'.*Frobnicate"),
        (lambda L: L[4].update(bottom=["nope"]), "layer 'b1'.*'nope'"),
        (lambda L: L[5].update(name="b1"), "layer 'b1': duplicate"),
        (lambda L: L[4].update(top=["x", "y"]), "layer 'b1'.*one top"),
        (lambda L: L[0]["params"].pop("num_output"), "layer 'conv_a'.*num_output"),
    ],
    ids=["unknown-type", "unknown-bottom", "duplicate", "two-tops", "bad-params"],
)
def test_bad_graphs_name_the_layer(mutate, match):
    graph = small_graph()
    mutate(graph["layers"])
    with pytest.raises(ValueError, match=match):
        Graph(graph)


def test_shapes_of_small_graph():
    s = Graph(small_graph()).shapes((1, 3, 9, 11))
    assert s["conv_a"] == s["relu_a"] == (1, 4, 9, 11)
    assert s["pool_a"] == (1, 4, 5, 6)  # ceil((9+2-3)/2)+1 = 5; 11 -> 6
    assert s["cat"] == s["drop"] == (1, 9, 5, 6)
    assert s["prob"] == (1, 5)


def test_shapes_leave_out_empty_layers_and_say_why():
    graph = small_graph()
    graph["layers"][8]["params"] = {"pool": "AVE", "kernel_size": 7}  # b3
    problems = {}
    s = Graph(graph).shapes((1, 3, 9, 11), problems)
    assert s["b2"] == (1, 2, 5, 6)
    assert "b3" not in s and "cat" not in s and "prob" not in s
    assert list(problems) == ["b3"] and "larger" in problems["b3"]


@pytest.mark.parametrize("hw", [(224, 224), (97, 131), (20, 9)], ids=str)
def test_graph_shapes_and_infer_shapes_agree(hw):
    """Both are the one walk of :mod:`inceptionism.weights.shapes`: node names
    and blob-name tops give the same shapes, and leave out the same layers."""
    graph = graph_for("bvlc_googlenet")
    problems: dict = {}
    s = Graph(graph).shapes((1, 3, *hw), problems)
    inferred = infer_shapes(graph, size=hw, strict=False)
    assert list(s.items()) == list(inferred.items())
    assert ("prob" in s) == (not problems)
