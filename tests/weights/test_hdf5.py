"""HDF5 weight files, format 1 (design section 4)."""

from __future__ import annotations

import json
import os
import stat

import h5py
import numpy as np
import pytest

from inceptionism.weights import Model, load_model, save_model
from inceptionism.weights.prototxt import read_prototxt
from tests.weights import minnet

GRAPH = read_prototxt(minnet.DEPLOY_PROTOTXT)


@pytest.fixture
def model(rng) -> Model:
    p = minnet.params(rng)
    del p["loss1/fc"]
    return Model(
        name="mini",
        graph=GRAPH,
        params=p,
        preprocess={"channel_order": "BGR", "mean": [1.5, 2.5, 3.5], "scale": 255.0},
        labels=tuple(f"class {i} — ünïcode" for i in range(6)),
        source={"file": "mini.caffemodel", "sha1": "0" * 40, "converter": "test"},
    )


def _same(a: Model, b: Model) -> None:
    assert (a.name, a.graph, a.preprocess, a.labels, a.source) == (
        b.name, b.graph, b.preprocess, b.labels, b.source,
    )  # fmt: skip
    assert a.params.keys() == b.params.keys()
    for layer in a.params:
        assert a.params[layer].keys() == b.params[layer].keys()
        for kind, arr in a.params[layer].items():
            got = b.params[layer][kind]
            assert got.dtype == np.float32
            assert np.array_equal(got, arr), (layer, kind)


def test_round_trip(tmp_path, model):
    path = tmp_path / "mini.h5"
    save_model(model, path)
    _same(model, load_model(path))
    assert [p.name for p in tmp_path.iterdir()] == ["mini.h5"]  # no temp left
    # an ordinary file mode, not mkstemp's 0600
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_layout_follows_the_page(tmp_path, model):
    path = tmp_path / "mini.h5"
    save_model(model, path)
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "inceptionism-weights"
        assert f.attrs["format_version"] == 1
        assert json.loads(f.attrs["graph"]) == GRAPH
        assert isinstance(f["layers/mix"], h5py.Group)  # "mix/a" nests
        assert f["layers/mix/a/weight"].shape == (2, 4, 1, 1)
        assert f["layers/mix/a/weight"].dtype == np.float32
        assert "bias" not in f["layers/mix/b"]
        assert f["labels"].asstr()[2] == "class 2 — ünïcode"


def test_file_written_by_another_tool_loads(tmp_path, model):
    """Written with plain h5py from design section 4 alone: fixed-length
    byte-string attributes, an int32 version, float64 datasets and labels
    stored as fixed-length UTF-8 bytes; no /labels-less shortcuts."""
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_(b"inceptionism-weights")
        f.attrs["format_version"] = np.int32(1)
        f.attrs["name"] = np.bytes_(b"mini")
        f.attrs["graph"] = np.bytes_(json.dumps(GRAPH).encode())
        f.attrs["preprocess"] = json.dumps(model.preprocess)
        f.attrs["source"] = json.dumps(model.source)
        for layer, blobs in model.params.items():
            for kind, arr in blobs.items():
                f[f"/layers/{layer}/{kind}"] = arr.astype(np.float64)
        f["labels"] = np.array([s.encode("utf-8") for s in model.labels])
    _same(model, load_model(path))


def test_without_labels_and_preprocess(tmp_path, model):
    path = tmp_path / "bare.h5"
    save_model(Model(name="mini", graph=GRAPH, params=model.params), path)
    with h5py.File(path, "r+") as f:
        del f.attrs["preprocess"]
    m = load_model(path)
    assert m.labels is None
    assert m.preprocess == {"channel_order": "BGR", "mean": [104.0, 117.0, 123.0],
                            "scale": 255.0}  # fmt: skip


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such weight file"):
        load_model(tmp_path / "nope.h5")
