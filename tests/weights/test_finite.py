"""Weights holding NaN or infinity are refused when loaded or converted,
naming the layer, the array and how many values are bad (issue 10: one NaN
used to dream an all-black picture)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from inceptionism.weights import Model, load_model, save_model
from inceptionism.weights.convert import convert
from inceptionism.weights.prototxt import read_prototxt
from tests.weights import caffe_writer, minnet

GRAPH = read_prototxt(minnet.DEPLOY_PROTOTXT)


def _params(rng):
    p = minnet.params(rng)
    del p["loss1/fc"]
    return p


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_load_refuses_non_finite_weights(tmp_path, rng, bad):
    path = tmp_path / "mini.h5"
    save_model(Model("mini", GRAPH, _params(rng)), path)
    with h5py.File(path, "r+") as f:
        w = f["layers/mix/a/weight"][()]
        w.flat[[0, 3]] = bad
        f["layers/mix/a/weight"][...] = w
    with pytest.raises(ValueError, match=r"'mix/a': weight holds 2 NaN or inf"):
        load_model(path)


def test_model_refuses_non_finite_bias(rng):
    p = _params(rng)
    p["conv1"]["bias"] = p["conv1"]["bias"].copy()
    p["conv1"]["bias"][-1] = np.nan
    with pytest.raises(ValueError, match=r"'conv1': bias holds 1 NaN .* of "):
        Model("mini", GRAPH, p)


def test_convert_refuses_non_finite_caffemodel(tmp_path, rng):
    p = minnet.params(rng)
    p["classifier"]["weight"][0, 0] = np.inf
    src = tmp_path / "mini.caffemodel"
    src.write_bytes(caffe_writer.net(minnet.training_layers(p)))
    out = tmp_path / "mini.h5"
    with pytest.raises(ValueError, match=r"'classifier': weight holds 1 NaN"):
        convert(src, out)
    assert not out.exists()
