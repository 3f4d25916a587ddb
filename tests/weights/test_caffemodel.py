"""caffemodel reader and converter, against our own wire-format writer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from inceptionism.weights import load_model
from inceptionism.weights.caffemodel import read_caffemodel
from inceptionism.weights.convert import convert
from inceptionism.weights.synthetic import synthetic_model
from inceptionism.weights.topologies import graph_for
from tests.weights import caffe_writer, minnet

VARIANTS = [
    pytest.param(v, legacy, double, packed, id=f"V{v}-{ld}-{dt}-{pk}")
    for v, (legacy, ld), (double, dt), (packed, pk) in itertools.product(
        (1, 2),
        ((True, "legacydims"), (False, "ndims")),
        ((False, "float"), (True, "double")),
        ((True, "packed"), (False, "unpacked")),
    )
]


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype == np.float32 and np.array_equal(
        a.view(np.uint32), b.view(np.uint32)
    )


@pytest.mark.parametrize("version,legacy,double,packed", VARIANTS)
def test_training_snapshot_converts_to_deploy_net_bit_for_bit(
    tmp_path, rng, version, legacy, double, packed
):
    p = minnet.params(rng, np.float64 if double else np.float32)
    data = caffe_writer.net(
        minnet.training_layers(p),
        version=version,
        legacy=legacy,
        double=double,
        packed=packed,
    )
    src = tmp_path / "mini.caffemodel"
    src.write_bytes(data)
    out = tmp_path / "mini.h5"
    convert(src, out)
    m = load_model(out)
    assert [lyr["name"] for lyr in m.graph["layers"]] == minnet.DEPLOY_LAYERS
    assert m.graph["layers"][-1]["type"] == "Softmax"
    # the Split is gone: both branches read norm1 again
    bottoms = {lyr["name"]: lyr["bottom"] for lyr in m.graph["layers"]}
    assert bottoms["mix/a"] == bottoms["mix/b"] == ["norm1"]
    assert "loss1/fc" not in m.params  # the auxiliary head is pruned
    assert set(m.params) == {"conv1", "mix/a", "mix/b", "classifier"}
    assert "bias" not in m.params["mix/b"]
    for layer, blobs in m.params.items():
        for kind, arr in blobs.items():
            want = p[layer][kind].astype(np.float32)
            assert _bits_equal(arr, want), (layer, kind)
    assert m.source["sha1"] and m.source["file"] == "mini.caffemodel"


def test_parameters_come_from_the_graph_params(tmp_path, rng):
    p = minnet.params(rng)
    data = caffe_writer.net(minnet.training_layers(p), version=1)
    graph, _ = read_caffemodel(data)
    by_name = {lyr["name"]: lyr for lyr in graph["layers"]}
    assert by_name["conv1"]["params"] == {
        "num_output": 4, "kernel_size": 3, "stride": 2, "pad": 1,
    }  # fmt: skip
    assert by_name["pool1"]["params"]["pool"] == "MAX"
    assert by_name["pool5"]["params"] == {"pool": "AVE", "global_pooling": True}
    assert by_name["mix/b"]["params"]["bias_term"] is False
    assert by_name["norm1"]["params"]["alpha"] == pytest.approx(1e-4, rel=1e-6)
    assert graph["input"] == {"name": "data", "shape": [1, 3, 224, 224]}


def test_split_data_runs_and_declared_input(rng):
    """A deploy-style V2 net: N-d input_shape, data split over two runs."""
    p = minnet.params(rng)
    unsplit = {"norm1_split_0": "norm1", "norm1_split_1": "norm1"}
    layers = []
    for lyr in minnet.training_layers(p):
        if lyr["type"] in ("Data", "Split", "SoftmaxWithLoss", "Accuracy"):
            continue
        if lyr["name"].startswith("loss1"):
            continue
        bottoms = [unsplit.get(b, b) for b in lyr.get("bottom", [])]
        layers.append(dict(lyr, bottom=bottoms))
    data = caffe_writer.net(
        layers, input_shape=[1, 3, 40, 48], nd_input=True, split_data=True
    )
    graph, params = read_caffemodel(data)
    assert graph["input"] == {"name": "data", "shape": [1, 3, 40, 48]}
    assert graph["layers"][-1]["name"] == "classifier"  # a deploy net: no prob
    for layer, blobs in p.items():
        if layer.startswith("loss1"):
            continue
        for kind, want in blobs.items():
            assert _bits_equal(params[layer][kind], want), (layer, kind)


def test_googlenet_v1_snapshot_with_aux_heads(tmp_path):
    """The published bvlc_googlenet layout: V1, legacy dims, aux heads."""
    m = synthetic_model("bvlc_googlenet", seed=3)
    graph = graph_for("bvlc_googlenet")
    layers = caffe_writer.model_layers(m, graph, snapshot=True)  # aux head too
    src = tmp_path / "bvlc_googlenet.caffemodel"
    src.write_bytes(caffe_writer.net(layers, version=1, name="GoogleNet"))
    out = tmp_path / "g.h5"
    # from the registry topology, then from the caffemodel's own net
    for kw in ({"model": "bvlc_googlenet"}, {}):
        convert(src, out, **kw)
        g = load_model(out)
        assert [x["name"] for x in g.graph["layers"]] == [
            x["name"] for x in graph["layers"]
        ]
        assert set(g.params) == set(m.params)
        for layer in m.params:
            for kind in ("weight", "bias"):
                assert _bits_equal(g.params[layer][kind], m.params[layer][kind])
        out.unlink()
    assert g.name == "GoogleNet"  # own topology: the net's name


def test_v1_enum_table_matches_the_type_names():
    from inceptionism.weights.caffemodel import _ENUMS
    from inceptionism.weights.prototxt import V1_TYPES

    assert set(_ENUMS["V1LayerType"].values()) == set(V1_TYPES)
