"""The MIT Places GoogLeNets as first-class models (issue 15): topology,
mean, scene labels, conversion of their published caffemodels (written here
by the test writer) and ``weights fetch`` refusing unverified downloads."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inceptionism.engine.cli import main
from inceptionism.weights import load_model
from inceptionism.weights.registry import MODELS, read_label_file
from inceptionism.weights.synthetic import synthetic_model
from inceptionism.weights.topologies import graph_for
from tests.weights import caffe_writer

PLACES = {"googlenet_places205": 205, "googlenet_places365": 365}


@pytest.mark.parametrize("name, n", PLACES.items())
def test_registry_entries(name, n):
    spec = MODELS[name]
    labels = spec.load_labels()
    assert labels is not None and len(labels) == n == len(set(labels))
    graph = graph_for(name)
    bvlc = graph_for("bvlc_googlenet")
    assert [x["name"] for x in graph["layers"]] == [x["name"] for x in bvlc["layers"]]
    classifier = next(x for x in graph["layers"] if x["name"] == "loss3/classifier")
    assert classifier["params"]["num_output"] == n
    assert spec.sha1 is None  # no published checksum known: fetch refuses


def test_scene_names_in_output_order():
    p205 = read_label_file("categoryIndex_places205.csv")
    assert (p205[0], p205[13], p205[132], p205[204]) == (
        "abbey",
        "apartment_building/outdoor",
        "pagoda",
        "yard",
    )
    p365 = read_label_file("categories_places365.txt")
    assert (p365[0], p365[8], p365[251], p365[364]) == (
        "airfield",
        "apartment_building/outdoor",
        "pagoda",
        "zen_garden",
    )


def test_a_places_line_with_the_wrong_index_is_an_error():
    from inceptionism.weights.registry import _class_name

    assert _class_name("/a/abbey 0", 0, "f") == "abbey"
    assert _class_name("n01440764 tench, Tinca tinca", 0, "f").startswith("n0144")
    with pytest.raises(ValueError, match="line 3 has index 7, not 2"):
        _class_name("/a/abbey 7", 2, "f")


def _prototxt(graph: dict, name: str) -> str:
    """The graph in the published deploy prototxt's form (``input_dim``,
    ``layer {}`` blocks, ``*_param`` messages, enums unquoted)."""
    kinds = {
        "Convolution": "convolution_param",
        "Pooling": "pooling_param",
        "LRN": "lrn_param",
        "InnerProduct": "inner_product_param",
        "Dropout": "dropout_param",
    }
    out = [f'name: "{name}"', 'input: "data"']
    out += [f"input_dim: {d}" for d in (10, 3, 224, 224)]
    for lyr in graph["layers"]:
        out += ["layer {", f'  name: "{lyr["name"]}"', f'  type: "{lyr["type"]}"']
        out += [f'  bottom: "{b}"' for b in lyr["bottom"]]
        out += [f'  top: "{t}"' for t in lyr["top"]]
        if lyr["params"]:
            out.append(f"  {kinds[lyr['type']]} {{")
            out += [f"    {k}: {v}" for k, v in lyr["params"].items()]
            out.append("  }")
        out.append("}")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize(
    "name, version, snapshot, prototxt",
    [
        ("googlenet_places205", 1, True, False),  # the zoo's train_iter snapshot
        ("googlenet_places365", 2, False, True),  # with its deploy prototxt
    ],
    ids=["places205-v1-snapshot", "places365-v2-deploy"],
)
def test_convert_published_layout(tmp_path, capsys, name, version, snapshot, prototxt):
    want = synthetic_model(name, seed=4)
    graph = graph_for(name)
    src = tmp_path / f"{name}.caffemodel"
    src.write_bytes(
        caffe_writer.net(
            caffe_writer.model_layers(want, graph, snapshot),
            version=version,
            name="GoogleNet",
        )
    )
    out = tmp_path / f"{name}.h5"
    argv = ["weights", "convert", str(src), "--model", name, "-o", str(out)]
    if prototxt:
        proto = tmp_path / "deploy.prototxt"
        proto.write_text(_prototxt(graph, "GoogleNet-Places365"))
        argv += ["--prototxt", str(proto)]
    assert main(argv) == 0, capsys.readouterr().err
    got = load_model(out)
    assert got.name == name
    assert [x["name"] for x in got.graph["layers"]] == [
        x["name"] for x in graph["layers"]
    ]
    assert set(got.params) == set(want.params)
    for layer, blobs in want.params.items():
        for kind, value in blobs.items():
            assert got.params[layer][kind].tobytes() == value.tobytes(), layer
    assert got.preprocess["mean"] == list(MODELS[name].mean)
    assert got.labels == MODELS[name].load_labels()


def test_synthetic_places_classify_prints_scene_names(tmp_path, capsys):
    h5 = tmp_path / "p.h5"
    assert main(["weights", "synthetic", "googlenet_places205", "-o", str(h5)]) == 0
    img = tmp_path / "x.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(img)
    capsys.readouterr()
    assert main(["classify", str(img), "--weights", str(h5), "--top", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "top 3 of 205 classes" in out[0]
    labels = read_label_file("categoryIndex_places205.csv")
    for line in out[1:]:
        _, _, index, scene = line.split(None, 3)
        assert scene == labels[int(index)]


def test_fetch_refuses_unverified_places_downloads(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "home"))
    for name in PLACES:
        assert main(["weights", "fetch", name]) == 1
        err = capsys.readouterr().err.strip()
        assert "\n" not in err
        assert f"cannot fetch {name} automatically" in err
        assert f"--model {name}" in err and MODELS[name].url in err
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").iterdir())


def test_an_uncached_places_model_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    """``--model googlenet_places205`` without the cached file names the
    manual download and conversion at once, not `weights fetch` (which
    refuses models without a known checksum)."""
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "home"))
    for name in PLACES:
        out = tmp_path / "x.png"
        assert main(["dream", "--sample", "--model", name, "-o", str(out)]) != 0
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and f"model {name!r} is not in the cache" in err
        assert "weights fetch" not in err
        assert MODELS[name].url in err and f"--model {name} -o " in err
        assert f"weights synthetic {name}" in err  # the offline way stays
        assert not out.exists()
