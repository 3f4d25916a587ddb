"""``inceptionism layers`` and ``inceptionism classify``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from inceptionism.engine import Net
from inceptionism.engine.cli import main
from inceptionism.engine.cli.net_cmd import center_crop_input, parse_size
from inceptionism.weights import save_model
from tests.engine.test_graph import small_model


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "cache"))


def _rows(out: str) -> dict:
    rows = {}
    for line in out.splitlines()[2:]:
        parts = line.split()
        if len(parts) == 4 and not line.startswith(("empty", "143")):
            rows[parts[0]] = tuple(parts[1:])
    return rows


def test_layers_default_uses_builtin_topology(capsys):
    assert main(["layers"]) == 0
    out = capsys.readouterr().out
    assert "built-in topology of bvlc_googlenet (not cached)" in out
    rows = _rows(out)
    assert len(rows) == 143
    assert rows["data"] == ("Input", "3", "224x224")
    assert rows["conv1/7x7_s2"] == ("Convolution", "64", "112x112")
    assert rows["inception_3b/relu_5x5_reduce"] == ("ReLU", "32", "28x28")
    assert rows["inception_4c/output"] == ("Concat", "512", "14x14")
    assert rows["pool5/7x7_s1"] == ("Pooling", "1024", "1x1")
    assert rows["prob"] == ("Softmax", "1000", "-")
    assert "143 targets" in out and "85 distinct Caffe blobs" in out


def test_layers_size_is_width_by_height(capsys, googlenet_h5):
    assert main(["layers", "--weights", str(googlenet_h5), "--size", "131x97"]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert f"from {googlenet_h5}" in out
    assert rows["data"] == ("Input", "3", "131x97")
    assert rows["conv1/7x7_s2"][2] == "66x49"
    assert rows["prob"] == ("Softmax", "-", "empty")
    assert "empty at this size from pool5/7x7_s1" in out


def test_layers_of_a_small_model(tmp_path, capsys):
    path = tmp_path / "small.h5"
    save_model(small_model(), path)
    assert main(["layers", "--weights", str(path), "--size", "11x9"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["pool_a"] == ("Pooling", "4", "6x5")
    assert rows["fc"] == ("InnerProduct", "5", "-")


@pytest.mark.parametrize(
    "text, hw", [("224x224", (224, 224)), ("1024x768", (768, 1024)), ("97", (97, 97))]
)
def test_parse_size(text, hw):
    assert parse_size(text) == hw


@pytest.mark.parametrize("argv", [["layers", "--size", "12"], ["layers"]])
def test_layers_errors_are_one_line(argv, capsys):
    argv = argv[:1] + ["--model", "nonesuch"] + argv[1:]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nonesuch" in err


def test_bad_size_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["layers", "--size", "0x3"])
    assert info.value.code == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err


def _image(tmp_path, hw, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
    path = tmp_path / "img.png"
    Image.fromarray(a).save(path)
    return path, a.astype(np.float32)


def _printed(out: str):
    lines = [ln.split(None, 3) for ln in out.splitlines()[1:]]
    return [(int(ln[2]), float(ln[1]), ln[3]) for ln in lines]


def test_classify_center_crop(tmp_path, capsys, googlenet_h5, googlenet):
    # 256x256 in: resizing to 256 is the identity, the crop is [16:240]
    path, rgb = _image(tmp_path, (256, 256))
    assert (
        main(["classify", str(path), "--weights", str(googlenet_h5), "--top", "3"]) == 0
    )
    got = _printed(capsys.readouterr().out)
    net = Net(googlenet)
    prob = net.forward(net.preprocess(rgb[16:240, 16:240]), end="prob")["prob"][0]
    top = np.argsort(-prob)[:3]
    assert [g[0] for g in got] == list(top)
    np.testing.assert_allclose([g[1] for g in got], prob[top], atol=5e-5)
    assert [g[2] for g in got] == [googlenet.labels[i] for i in top]


def test_center_crop_input_shapes():
    rgb = np.random.default_rng(0).uniform(0, 255, (300, 400, 3)).astype(np.float32)
    assert center_crop_input(rgb, resize=False).shape == (224, 224, 3)
    squashed = center_crop_input(rgb, resize=True)
    assert squashed.shape == (224, 224, 3)
    np.testing.assert_array_equal(squashed[0, 0], rgb[0, 0])  # align corners


def test_classify_without_labels_prints_indices(tmp_path, capsys, googlenet):
    model = dataclasses.replace(googlenet, labels=None)
    w = tmp_path / "nolabels.h5"
    save_model(model, w)
    path, _ = _image(tmp_path, (200, 300))
    assert main(["classify", str(path), "--weights", str(w), "--resize"]) == 0
    got = _printed(capsys.readouterr().out)
    assert len(got) == 5
    assert all(name == f"class {i}" for i, _, name in got)
    probs = [p for _, p, _ in got]
    assert probs == sorted(probs, reverse=True)


def test_classify_uncached_model_says_what_to_do(tmp_path, capsys):
    path, _ = _image(tmp_path, (32, 32))
    assert main(["classify", str(path)]) == 1
    err = capsys.readouterr().err
    assert "weights fetch bvlc_googlenet" in err and "--weights" in err
    assert err.count("\n") == 1


def test_classify_bad_image(tmp_path, capsys, googlenet_h5):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    assert main(["classify", str(bad), "--weights", str(googlenet_h5)]) == 1
    assert "bad.png" in capsys.readouterr().err
