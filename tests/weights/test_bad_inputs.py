"""Bad input: each gives a clear error and leaves no output file behind."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from inceptionism.weights import load_model, save_model
from inceptionism.weights.caffemodel import CaffeModelError, read_caffemodel
from inceptionism.weights.convert import convert
from inceptionism.weights.prototxt import read_prototxt
from tests.weights import caffe_writer, minnet


@pytest.fixture
def caffemodel_bytes(rng) -> bytes:
    return caffe_writer.net(minnet.training_layers(minnet.params(rng)), version=1)


def _leftovers(directory, keep):
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


@pytest.mark.parametrize("fraction", [0.01, 0.37, 0.5, 0.93], ids=lambda f: f"cut{f}")
def test_truncated_caffemodel(tmp_path, caffemodel_bytes, fraction):
    src = tmp_path / "m.caffemodel"
    src.write_bytes(caffemodel_bytes[: int(len(caffemodel_bytes) * fraction)])
    with pytest.raises(CaffeModelError, match="truncated or corrupt"):
        convert(src, tmp_path / "out.h5")
    assert _leftovers(tmp_path, {"m.caffemodel"}) == []


def test_every_truncation_is_an_error(caffemodel_bytes):
    """Any cut inside the last layer is caught (not silently a smaller net)."""
    last_layer_start = caffemodel_bytes.rfind(b"accuracy") - 8
    for n in range(last_layer_start, len(caffemodel_bytes) - 1, 7):
        with pytest.raises(CaffeModelError):
            read_caffemodel(caffemodel_bytes[:n])


def test_not_a_caffemodel(tmp_path):
    src = tmp_path / "x.caffemodel"
    src.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(CaffeModelError):
        convert(src, tmp_path / "out.h5")
    assert _leftovers(tmp_path, {"x.caffemodel"}) == []


def test_blob_sizes_disagree_with_topology(tmp_path, caffemodel_bytes):
    src = tmp_path / "m.caffemodel"
    src.write_bytes(caffemodel_bytes)
    proto = tmp_path / "deploy.prototxt"
    # the prototxt wants 5 conv1 filters; the caffemodel has 4
    proto.write_text(minnet.DEPLOY_PROTOTXT.replace("num_output: 4", "num_output: 5"))
    with pytest.raises(CaffeModelError, match=r"layer 'conv1'.*\[4, 3, 3, 3\].*"
                       r"\[5, 3, 3, 3\]"):  # fmt: skip
        convert(src, tmp_path / "out.h5", prototxt=proto)
    assert _leftovers(tmp_path, {"m.caffemodel", "deploy.prototxt"}) == []


def test_caffemodel_for_another_topology(tmp_path, caffemodel_bytes):
    src = tmp_path / "m.caffemodel"
    src.write_bytes(caffemodel_bytes)
    with pytest.raises(CaffeModelError, match="no layer 'conv1/7x7_s2'"):
        convert(src, tmp_path / "out.h5", model="bvlc_googlenet")
    assert _leftovers(tmp_path, {"m.caffemodel"}) == []


def test_blob_count_disagrees_with_its_own_shape():
    w = caffe_writer
    bad = w.blob(np.zeros((2, 3), np.float32), legacy=False)
    assert bad[:6] == bytes([0x3A, 4, 0x0A, 2, 2, 3])  # shape { dim: [2, 3] }
    bad = bad[:5] + bytes([4]) + bad[6:]  # now claims 2x4
    layer = (
        w.ld(1, b"fc") + w.ld(2, b"InnerProduct") + w.ld(3, b"data")
        + w.ld(4, b"fc") + w.ld(7, bad) + w.ld(117, w.vfield(1, 2) + w.vfield(2, 0))
    )  # fmt: skip
    data = w.net([], input_shape=[1, 3, 1, 1]) + w.ld(100, layer)
    with pytest.raises(CaffeModelError, match="blob has 6 values for its shape"):
        read_caffemodel(data)


def test_prototxt_with_unsupported_layer_type(tmp_path, caffemodel_bytes):
    text = minnet.DEPLOY_PROTOTXT.replace(
        'layers { name: "prob" type: SOFTMAX',
        'layer { name: "scale5" type: "Scale" bottom: "classifier" top: "classifier" }'
        '\nlayers { name: "prob" type: SOFTMAX',
    )
    with pytest.raises(ValueError, match=r"layer 'scale5': unsupported layer type "
                       r"'Scale'"):  # fmt: skip
        read_prototxt(text.replace("layers {", "layer {").replace(
            "type: CONVOLUTION", 'type: "Convolution"'))  # fmt: skip
    src = tmp_path / "m.caffemodel"
    src.write_bytes(caffemodel_bytes)
    proto = tmp_path / "deploy.prototxt"
    proto.write_text(minnet.DEPLOY_PROTOTXT.replace("type: DROPOUT", "type: ELTWISE"))
    with pytest.raises(ValueError, match="layer 'drop': unsupported layer type "
                       "'Eltwise'"):  # fmt: skip
        convert(src, tmp_path / "out.h5", prototxt=proto)
    assert _leftovers(tmp_path, {"m.caffemodel", "deploy.prototxt"}) == []


@pytest.fixture
def good_h5(tmp_path, rng):
    from inceptionism.weights.convert import build_model

    src = tmp_path / "m.caffemodel"
    src.write_bytes(caffe_writer.net(minnet.training_layers(minnet.params(rng))))
    path = tmp_path / "good.h5"
    save_model(build_model(src), path)
    src.unlink()
    return path


def test_hdf5_of_another_format_version(good_h5):
    with h5py.File(good_h5, "r+") as f:
        f.attrs["format_version"] = 2
    with pytest.raises(ValueError, match="format_version 2 is not supported"):
        load_model(good_h5)


def test_hdf5_of_another_format(good_h5):
    with h5py.File(good_h5, "r+") as f:
        f.attrs["format"] = "keras"
    with pytest.raises(ValueError, match="not an inceptionism weight file"):
        load_model(good_h5)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9], ids=lambda k: f"keep{k}")
def test_truncated_hdf5(good_h5, keep):
    data = good_h5.read_bytes()
    good_h5.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_model(good_h5)


def test_missing_layer_dataset(good_h5):
    with h5py.File(good_h5, "r+") as f:
        del f["layers/mix/a/weight"]
    with pytest.raises(ValueError, match=r"layer 'mix/a': dataset "
                       r"/layers/mix/a/weight is missing"):  # fmt: skip
        load_model(good_h5)


def test_dataset_shape_disagrees_with_graph(good_h5):
    with h5py.File(good_h5, "r+") as f:
        graph = json.loads(f.attrs["graph"])
        graph["layers"][-2]["params"]["num_output"] = 7  # classifier
        f.attrs["graph"] = json.dumps(graph)
    msg = r"'classifier': /layers/classifier/weight has shape \(6, 5\), the graph"
    with pytest.raises(ValueError, match=msg):
        load_model(good_h5)


def test_save_never_leaves_a_half_written_file(tmp_path, good_h5):
    m = load_model(good_h5)
    bad = type(m)(name=m.name, graph=m.graph, params={**m.params, "conv1": {
        "weight": np.zeros((1, 1), np.float32)}})  # fmt: skip
    out = tmp_path / "new.h5"
    with pytest.raises(ValueError, match="layer 'conv1'"):
        save_model(bad, out)
    good_copy = good_h5.read_bytes()
    with pytest.raises(ValueError):
        save_model(bad, good_h5)  # an existing file stays as it was
    assert good_h5.read_bytes() == good_copy
    assert _leftovers(tmp_path, {"good.h5"}) == []


def test_convert_refuses_to_overwrite_its_input(tmp_path, caffemodel_bytes):
    src = tmp_path / "m.caffemodel"
    src.write_bytes(caffemodel_bytes)
    with pytest.raises(ValueError, match="is an input"):
        convert(src, src)
    assert src.read_bytes() == caffemodel_bytes
