"""Bad input: each gives a clear error and leaves no output file behind."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from inceptionism.weights import load_model, save_model
from inceptionism.weights.caffemodel import CaffeModelError, read_caffemodel
from inceptionism.weights.convert import convert
from inceptionism.weights.errors import WeightsFileError
from inceptionism.weights.prototxt import PrototxtError, read_prototxt
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


# ---------------------------------------------------------------------------
# Hostile files (issue 10): one error type, with the file's name and the
# place; each of these escaped as another exception before.


def test_nested_groups_in_a_caffemodel(tmp_path, caffemodel_bytes):
    # 100,000 START_GROUP tags of an unknown field: was a RecursionError
    src = tmp_path / "m.caffemodel"
    src.write_bytes(caffe_writer.key(50, 3) * 100_000 + caffemodel_bytes)
    with pytest.raises(CaffeModelError, match=rf"^{src}: .*groups nested more than"):
        read_caffemodel(src)


def test_groups_are_still_skipped(caffemodel_bytes):
    w = caffe_writer
    group = w.key(50, 3) + w.key(51, 3) + w.vfield(1, 7) + w.key(51, 4) + w.key(50, 4)
    graph, params = read_caffemodel(group + caffemodel_bytes)
    assert [lyr["name"] for lyr in graph["layers"]] == minnet.DEPLOY_LAYERS


def test_caffemodel_blob_with_negative_dims():
    w = caffe_writer
    shape = w.ld(7, w.vfield(1, 2**64 - 2) + w.vfield(1, 2**64 - 3))  # [-2, -3]
    bad = shape + w.ld(5, np.zeros(6, np.float32).tobytes())
    layer = (
        w.ld(1, b"fc") + w.ld(2, b"InnerProduct") + w.ld(3, b"data")
        + w.ld(4, b"fc") + w.ld(7, bad) + w.ld(117, w.vfield(1, 2) + w.vfield(2, 0))
    )  # fmt: skip
    data = w.net([], input_shape=[1, 3, 1, 1]) + w.ld(100, layer)
    with pytest.raises(CaffeModelError, match=r"invalid shape \[-2, -3\]"):
        read_caffemodel(data)


PROTO = minnet.DEPLOY_PROTOTXT
CONV1 = "num_output: 4 kernel_size: 3 stride: 2 pad: 1"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        # was StopIteration
        (PROTO[: PROTO.index("layers {") + 8], r"line 7: the file ends inside"),
        (PROTO[: PROTO.index("input: ") + 7], r"line 4: expected a value, got 'end"),
        # was RecursionError
        ("a {" * 100_000, r"line 1: messages nested more than 64 deep"),
        ("a: [{" * 100_000, r"line 1: messages nested more than 64 deep"),
        # was OverflowError
        (PROTO.replace(CONV1, "num_output: inf kernel_size: 3"),
         r"layer 'conv1' \(Convolution\): num_output must be an integer, got inf"),
        (PROTO.replace(CONV1, "num_output: 99999999999999999999 kernel_size: 3"),
         r"layer 'conv1' \(Convolution\): num_output must be at most 4294967295"),
        (PROTO.replace("input_dim: 32 input_dim: 32", "input_dim: 3e9 input_dim: 1"),
         r"input 'data': dimensions must be integers >= 1, got 3000000000.0"),
        # was TypeError
        (PROTO.replace(CONV1, "num_output: 4 num_output: 5 kernel_size: 3"),
         r"layer 'conv1' \(Convolution\): num_output takes one value, got \[4, 5\]"),
        (PROTO.replace('bottom: "data"', "bottom { }"),
         r"layer 'conv1': bottom must be a string, got \{\}"),
        # was AttributeError
        (PROTO.replace("type: CONVOLUTION", "type: 1.5", 1),
         r"layer 'conv1': type must be a layer type name .*, got 1.5"),
        (PROTO.replace("type: CONVOLUTION", "type { a: 1 }", 1),
         r"layer 'conv1': type must be a layer type name .*, got \{'a': \[1\]\}"),
        (PROTO.replace("layers {", "layers: 5 layers {", 1),
         r"net: layers must be a message \{ ... \}, got 5"),
        # was "invalid literal for int() with base 16"
        (PROTO.replace('"mini"', r'"mini\u12"'), r"line 3: bad \\u escape"),
        (PROTO.replace('"mini"', r'"\U0011ffff"'), r"line 3: bad \\U escape"),
        (PROTO.replace('"mini"', r'"\ud800"'), r"line 3: bad \\u escape"),
        # was ZeroDivisionError (in shapes.py)
        (PROTO.replace(CONV1, "num_output: 4 kernel_size: 3 stride: 0"),
         r"layer 'conv1' \(Convolution\): .*stride must be >= 1"),
        (PROTO.replace(CONV1, "num_output: 4 kernel_size: 3 group: 0"),
         r"layer 'conv1' \(Convolution\): .*group must be >= 1"),
        ("a: " + "9" * 5000, r"line 1: number '9999.*' is too long"),
    ],
    ids=[
        "truncated", "truncated-value", "deep-nesting", "deep-lists", "inf",
        "huge-int", "huge-dim", "repeated-scalar", "message-as-bottom",
        "float-type", "message-type", "scalar-layer", "short-u", "big-U",
        "surrogate", "stride0", "group0", "long-number",
    ],
)  # fmt: skip
def test_malformed_prototxt(tmp_path, text, error):
    path = tmp_path / "deploy.prototxt"
    path.write_text(text)
    with pytest.raises(PrototxtError, match=rf"^{path}: {error}") as info:
        read_prototxt(path)
    assert isinstance(info.value, WeightsFileError) and "\n" not in str(info.value)


def test_prototxt_not_utf8(tmp_path):
    # was a UnicodeDecodeError without the file's name
    path = tmp_path / "deploy.prototxt"
    data = PROTO.encode().replace(b'"mini"', b'"m\xffni"')
    path.write_bytes(data)
    at = data.index(b"\xff")
    msg = rf"^{path}: not UTF-8 text \(byte 0xff at offset {at}, line 3\)"
    with pytest.raises(PrototxtError, match=msg):
        read_prototxt(path)


def _edit_graph(path, edit):
    with h5py.File(path, "r+") as f:
        graph = json.loads(f.attrs["graph"])
        graph = edit(graph) or graph
        f.attrs["graph"] = json.dumps(graph)


def _conv1(graph):
    return next(lyr for lyr in graph["layers"] if lyr["name"] == "conv1")


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        # were ZeroDivisionError
        (lambda g: _conv1(g)["params"].update(stride=0),
         r"layer 'conv1' \(Convolution\): .*stride must be >= 1"),
        (lambda g: _conv1(g)["params"].update(group=0),
         r"layer 'conv1' \(Convolution\): .*group must be >= 1"),
        # was AttributeError
        (lambda g: _conv1(g).update(params=[4, 3]),
         r"layer 'conv1': params must be a JSON object, got \[4, 3\]"),
        (lambda g: [1, 2], r"graph must be a JSON object, got list"),
        (lambda g: g.update(input={"name": "data", "shape": [1, 3, 0, 32]}),
         r"graph input must be .* positive integer dims"),
        (lambda g: g["layers"].__setitem__(0, "conv1"),
         r"graph layer 0 must have a string name and type"),
        (lambda g: _conv1(g).update(bottom="data"),
         r"layer 'conv1': bottom must be a list of blob names"),
        (lambda g: _conv1(g)["params"].update(pad=2**30),
         r"layer 'conv1': output \[1, 4, \d+, \d+\] at the nominal input has more"),
    ],
    ids=["stride0", "group0", "params-list", "graph-list", "dim0", "layer-str",
         "bottom-str", "huge-pad"],
)  # fmt: skip
def test_malformed_graph_in_hdf5(good_h5, edit, error):
    _edit_graph(good_h5, edit)
    with pytest.raises(WeightsFileError, match=rf"^{good_h5}: invalid graph: {error}"):
        load_model(good_h5)


def test_hdf5_attribute_of_an_odd_type(good_h5):
    with h5py.File(good_h5, "r+") as f:
        f.attrs["graph"] = np.arange(3)
    with pytest.raises(WeightsFileError, match=rf"^{good_h5}: .*re-convert it"):
        load_model(good_h5)


def test_hdf5_directory_and_missing_file(tmp_path):
    with pytest.raises(WeightsFileError, match="is a directory, not a weight file"):
        load_model(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such weight file"):
        load_model(tmp_path / "nope.h5")


def test_hdf5_check_is_remembered(good_h5, tmp_path, monkeypatch):
    """The child-process check runs once per file, not once per load."""
    from inceptionism.weights import untrusted

    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    runs = []
    real_run = untrusted.subprocess.run
    monkeypatch.setattr(
        untrusted.subprocess, "run", lambda *a, **k: runs.append(1) or real_run(*a, **k)
    )
    load_model(good_h5)
    monkeypatch.setattr(untrusted, "_CHECKED", set())  # a new process
    load_model(good_h5)
    assert len(runs) == 1 and (tmp_path / "home" / "checked-hdf5").is_file()
    good_h5.write_bytes(good_h5.read_bytes())  # rewritten: checked again
    load_model(good_h5)
    assert len(runs) == 2


@pytest.mark.parametrize(
    ("pre", "error"),
    [
        # scale -255 dreamed an all-white picture with exit 0; 0 divided by zero
        ({"mean": [1, 2, 3], "scale": -255}, r"preprocess scale must be > 0"),
        ({"mean": [1, 2, 3], "scale": 0}, r"preprocess scale must be > 0"),
        ({"mean": [1, 2], "scale": 255}, r"preprocess mean must have 3 values"),
        ({"channel_order": "XYZ"}, r"preprocess channel_order must be 'RGB' or 'BGR'"),
    ],
    ids=["scale-negative", "scale-0", "mean-2", "order-xyz"],
)
def test_malformed_preprocess_in_hdf5(good_h5, pre, error):
    with h5py.File(good_h5, "r+") as f:
        f.attrs["preprocess"] = json.dumps({"channel_order": "BGR", **pre})
    with pytest.raises(WeightsFileError, match=rf"^{good_h5}: invalid graph: {error}"):
        load_model(good_h5)
