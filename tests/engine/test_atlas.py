"""``inceptionism atlas IN -o atlas.png``: one picture dreamed at many
layers, one row per model (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inceptionism.engine import atlas
from inceptionism.engine.image import load_image, read_recipe
from inceptionism.engine.net import Net
from inceptionism.weights import save_model
from inceptionism.weights.synthetic import synthetic_model
from tests.engine.test_cli_dream import cli, fails

ONE = ["--octaves", "1", "--steps", "1"]
TWO = "conv2/3x3,inception_3b/5x5_reduce"


@pytest.fixture(scope="module")
def places_h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("p") / "places.h5"
    save_model(synthetic_model("googlenet_places205", seed=1), path)
    return path


def _crop(sheet, box):
    x, y, w, h = box
    return sheet[y : y + h, x : x + w]


def test_two_models_side_by_side(capsys, googlenet_h5, places_h5, picture, tmp_path):
    out = tmp_path / "atlas.png"
    rc, stdout, err = cli(
        capsys,
        "atlas",
        picture,
        "-o",
        out,
        "--weights",
        googlenet_h5,
        "--compare",
        places_h5,
        "--layers",
        TWO,
        *ONE,
    )
    assert rc == 0, err
    assert "4 atlas cells: 4 done, 0 failed" in err
    assert str(out) in stdout.split()
    recipe = read_recipe(out)["atlas"]
    assert [m["name"] for m in recipe["models"]] == [
        "bvlc_googlenet",
        "googlenet_places205",
    ]
    assert recipe["config"]["seed"] == 0 and recipe["config"]["steps"] == 1
    sheet = load_image(out)
    cells = recipe["cells"]
    assert [(c["model"], c["layer"]) for c in cells] == [
        (m, layer) for m in (0, 1) for layer in TWO.split(",")
    ]
    ys = {c["box"][1] for c in cells}
    assert len(ys) == 2  # a row per model
    for c in cells:
        single = load_image(tmp_path / c["file"])
        r = read_recipe(tmp_path / c["file"])
        assert r["config"]["objective"] == f"deepdream:{c['layer']}"
        assert r["model"]["name"] == recipe["models"][c["model"]]["name"]
        np.testing.assert_array_equal(_crop(sheet, c["box"]), single)
    # a cell is the plain dream of that layer with the same settings
    alone = tmp_path / "alone.png"
    rc, _, err = cli(
        capsys,
        "dream",
        picture,
        "-o",
        alone,
        "--weights",
        places_h5,
        "--layer",
        "inception_3b/5x5_reduce",
        "--seed",
        "0",
        *ONE,
    )
    assert rc == 0, err
    np.testing.assert_array_equal(
        load_image(alone), load_image(tmp_path / cells[3]["file"])
    )


def test_default_layers_resume_and_refusals(capsys, googlenet_h5, picture, tmp_path):
    out = tmp_path / "a.png"
    fails(
        capsys,
        "atlas",
        picture,
        "-o",
        out,
        "--weights",
        googlenet_h5,
        *ONE,
        match="inception_5a/output, inception_5b/output would be empty for a "
        "56x40 picture",
    )
    assert not any(tmp_path.glob("a/*.png"))  # refused before the first dream
    big = tmp_path / "big.png"
    Image.fromarray(
        np.random.default_rng(3).integers(0, 256, (56, 72, 3), dtype=np.uint8)
    ).save(big)
    args = ["atlas", big, "-o", out, "--weights", googlenet_h5, *ONE]
    rc, _, err = cli(capsys, *args)
    assert rc == 0, err
    n = len(atlas.DEFAULT_LAYERS)
    assert f"{n} atlas cells: {n} done, 0 failed" in err
    recipe = read_recipe(out)["atlas"]
    assert [c["layer"] for c in recipe["cells"]] == list(atlas.DEFAULT_LAYERS)
    assert len({c["box"][1] for c in recipe["cells"]}) == -(-n // 5)  # 5 a row
    fails(capsys, *args, match="exists; --overwrite replaces it")
    out.unlink()
    (tmp_path / recipe["cells"][0]["file"]).unlink()
    rc, _, err = cli(capsys, *args)  # a stopped atlas resumes
    assert rc == 0 and f"1 done, {n - 1} skipped" in err
    out.unlink()
    fails(
        capsys, *args[:-1], "2", match="was not made with these settings; --overwrite"
    )


def _one_layer(capsys, googlenet_h5, picture, out, *more):
    """``atlas picture -o out`` at conv2/3x3, one step: its stderr."""
    rc, _, err = cli(capsys, "atlas", picture, "-o", out, "--weights", googlenet_h5,
                     "--layers", "conv2/3x3", *more, *ONE)  # fmt: skip
    assert rc == 0, err
    return err


def test_more_columns_than_layers(capsys, googlenet_h5, picture, tmp_path):
    """A huge --columns overflowed Pillow after the dreams ("signed integer
    is greater than maximum"); columns beyond the cells are left out."""
    _one_layer(capsys, googlenet_h5, picture, tmp_path / "a.png")
    _one_layer(
        capsys, googlenet_h5, picture, tmp_path / "b.png", "--columns", str(10**8)
    )
    a, b = load_image(tmp_path / "a.png"), load_image(tmp_path / "b.png")
    assert a.shape == b.shape


def test_sheet_is_not_replayed_as_a_dream(capsys, googlenet_h5, picture, tmp_path):
    out = tmp_path / "a.png"
    err = _one_layer(capsys, googlenet_h5, picture, out)
    assert "batch: 1 atlas cell: 1 done, 0 failed in " in err  # singular
    assert "atlas: 1 dream (1 model x 1 layer) of " in err
    fails(
        capsys,
        "dream",
        "--replay",
        out,
        "-o",
        tmp_path / "x.png",
        match="is an atlas sheet",
    )
    single = tmp_path / read_recipe(out)["atlas"]["cells"][0]["file"]
    again = tmp_path / "again.png"
    rc, _, err = cli(capsys, "dream", "--replay", single, "-o", again)
    assert rc == 0, err
    np.testing.assert_array_equal(load_image(again), load_image(single))


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--layer", "conv2/3x3"], "give --layers A,B instead of --layer"),
        (["--objective", "channel:conv2/3x3:1"], "instead of --objective"),
        (["--layers", "inception_4c/outptu"], "inception_4c/output"),
        (["--compare", "no_such_model"], "unknown model 'no_such_model'"),
        (["--range", "0:4"], "give --channels LAYER"),
        (["--steps", "-1"], "--steps must be an integer >= 0"),
        (["--layers", ",,"], "--layers names no layer"),
        (["--layers="], "--layers names no layer"),
        (["--layers", "conv2/3x3,inception_3a/output,conv2/3x3"], "twice"),
    ],
    ids=[
        "layer",
        "objective",
        "unknown-layer",
        "unknown-model",
        "range",
        "steps",
        "no-layers",
        "empty-layers",
        "layer-twice",
    ],  # fmt: skip
)
def test_bad_atlas_refused_before_dreaming(
    capsys, googlenet_h5, picture, tmp_path, extra, match
):
    out = tmp_path / "a.png"
    fails(
        capsys,
        "atlas",
        picture,
        "-o",
        out,
        "--weights",
        googlenet_h5,
        *extra,
        match=match,
    )
    assert not out.exists() and not any(tmp_path.glob("a/*.png"))


def test_compare_registry_models_from_the_cache(
    capsys, monkeypatch, googlenet_h5, places_h5, picture, tmp_path
):
    """``atlas --compare googlenet_places205``: the default model and the
    Places one, both from the cache."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "bvlc_googlenet.h5").write_bytes(googlenet_h5.read_bytes())
    (home / "googlenet_places205.h5").write_bytes(places_h5.read_bytes())
    monkeypatch.setenv("INCEPTIONISM_HOME", str(home))
    out = tmp_path / "c.png"
    rc, _, err = cli(
        capsys,
        "atlas",
        picture,
        "-o",
        out,
        "--compare",
        "googlenet_places205",
        "--layers",
        "conv2/3x3",
        *ONE,
    )
    assert rc == 0, err
    models = read_recipe(out)["atlas"]["models"]
    assert [m["name"] for m in models] == ["bvlc_googlenet", "googlenet_places205"]
    twice = tmp_path / "twice.png"  # --model given twice: the same atlas
    rc, _, err = cli(
        capsys,
        "atlas",
        picture,
        "-o",
        twice,
        "--model",
        "bvlc_googlenet",
        "--model",
        "googlenet_places205",
        "--layers",
        "conv2/3x3",
        *ONE,
    )
    assert rc == 0, err
    np.testing.assert_array_equal(load_image(twice), load_image(out))
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "in-model-bvlc_googlenet-layer-conv2_3x3.png",
        "in-model-googlenet_places205-layer-conv2_3x3.png",
    ]


def test_layer_labels_and_all_layers(googlenet):
    net = Net(googlenet)
    hw = (224, 224)
    assert atlas.describe(net, "conv2/3x3", hw) == "192 ch, pre-ReLU"
    assert atlas.describe(net, "conv2/relu_3x3", hw) == "192 ch"
    assert atlas.describe(net, "inception_4c/output", hw) == "512 ch"
    every = atlas.all_layers(net, hw)
    assert set(atlas.DEFAULT_LAYERS) <= set(every)
    assert "data" not in every and "prob" not in every
    assert "loss3/classifier" not in every  # no spatial extent to dream on
    assert every.index("conv2/3x3") < every.index("inception_5b/output")
    for name in ("googlenet_places205", "googlenet_places365"):
        from inceptionism.engine.graph import Graph
        from inceptionism.weights.topologies import graph_for

        g = Graph(graph_for(name))
        assert all(g.resolve(x) == x for x in atlas.DEFAULT_LAYERS)


def test_caption_lists_every_setting_but_the_objective():
    from inceptionism.engine.dream import DreamConfig

    text = atlas.caption(DreamConfig(seed=3, priors=("smooth:0.5",)), "x.png")
    assert "objective" not in text
    for part in ("octaves=4", "steps=10", "seed=3", "priors=smooth:0.5", "x.png"):
        assert part in text
    assert json.dumps(DreamConfig().to_dict())  # every field is JSON-able


def test_python_api_makes_the_cli_atlas(capsys, googlenet_h5, picture, tmp_path):
    from inceptionism.engine.dream import DreamConfig

    cli_out = tmp_path / "cli.png"
    rc, _, err = cli(
        capsys,
        "atlas",
        picture,
        "-o",
        cli_out,
        "--weights",
        googlenet_h5,
        "--layers",
        "conv2/3x3,conv2/relu_3x3",
        *ONE,
    )
    assert rc == 0, err
    py_out = atlas.layer_atlas(
        picture,
        tmp_path / "py.png",
        models=[googlenet_h5],
        layers=["conv2/3x3", "conv2/relu_3x3"],
        config=DreamConfig(octaves=1, steps=1, seed=0),
    )
    assert py_out == tmp_path / "py.png"
    np.testing.assert_array_equal(load_image(py_out), load_image(cli_out))
    assert read_recipe(py_out)["atlas"]["cells"][1]["file"] == (
        "py/in-layer-conv2_relu_3x3.png"
    )


def test_new_dream_options_reach_every_cell(capsys, googlenet_h5, picture, tmp_path):
    out = tmp_path / "fv.png"
    _one_layer(capsys, googlenet_h5, picture, out, "--transforms", "standard")
    cell = read_recipe(out)["atlas"]["cells"][0]
    assert read_recipe(tmp_path / cell["file"])["config"]["transforms"] == "standard"
    assert read_recipe(out)["atlas"]["config"]["transforms"] == "standard"


@pytest.mark.parametrize(
    "argv, rows",
    [
        (["--compare", "P.h5", "--weights", "G.h5"], ["G.h5", "P.h5"]),
        (["--weights", "G.h5", "--compare", "P.h5"], ["G.h5", "P.h5"]),
        (["--compare", "P.h5"], ["bvlc_googlenet", "P.h5"]),
        (
            ["--model", "googlenet_places205", "--compare", "G.h5", "--model", "M"],
            ["googlenet_places205", "bvlc_googlenet", "G.h5"],
        ),
    ],
    ids=["compare-first", "weights-first", "default-model", "models-then-compare"],
)
def test_compare_rows_follow_the_models_given_whatever_the_order(
    monkeypatch, tmp_path, argv, rows
):
    """``--compare`` adds rows after the --model/--weights rows wherever it
    stands on the command line; the default model comes first only when
    neither is given."""
    from inceptionism.engine.cli import build_parser
    from inceptionism.engine.cli.atlas_cmd import _sources

    monkeypatch.chdir(tmp_path)
    for f in ("G.h5", "P.h5"):
        (tmp_path / f).write_bytes(b"")
    argv = ["bvlc_googlenet" if a == "M" else a for a in argv]
    args = build_parser().parse_args(["atlas", "x.png", "-o", "a.png", *argv])
    got = [Path(s.weights).name if s.weights else s.model for s in _sources(args)]
    assert got == rows


def test_every_layer_from_the_cli_and_python(capsys, googlenet_h5, tmp_path):
    """``--all`` (Python: ``layers="all"``) dreams every layer with channels
    that is non-empty at the picture's size; an 8x8 picture keeps it short."""
    from inceptionism.engine.dream import DreamConfig

    tiny = tmp_path / "tiny.png"
    rgb = np.random.default_rng(4).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tiny)
    out = tmp_path / "cli.png"
    rc, _, err = cli(capsys, "atlas", tiny, "-o", out, "--weights", googlenet_h5,
                     "--all", *ONE)  # fmt: skip
    assert rc == 0, err
    from inceptionism.weights import load_model

    every = atlas.all_layers(Net(load_model(googlenet_h5)), (8, 8))
    assert 5 < len(every) < 20 and "conv2/3x3" in every
    assert [c["layer"] for c in read_recipe(out)["atlas"]["cells"]] == every
    py = atlas.layer_atlas(tiny, tmp_path / "py.png", models=[googlenet_h5],
                           layers="all", config=DreamConfig(seed=0, octaves=1,
                           steps=1))  # fmt: skip
    assert py is not None
    np.testing.assert_array_equal(load_image(py), load_image(out))


def test_resume_refuses_singles_made_with_another_mask(
    capsys, googlenet_h5, picture, tmp_path
):
    """A single made with --mask m.png is not reused once m.png was redrawn
    in place: its recipe's mask SHA-1 no longer matches."""
    mask = tmp_path / "m.png"
    a = np.zeros((8, 8), np.uint8)
    a[:, 4:] = 255
    Image.fromarray(a).save(mask)
    out = tmp_path / "a.png"
    _one_layer(capsys, googlenet_h5, picture, out, "--mask", mask)
    out.unlink()
    err = _one_layer(capsys, googlenet_h5, picture, out, "--mask", mask)
    assert "1 skipped" in err  # the same mask: resumed
    out.unlink()
    Image.fromarray(255 - a).save(mask)
    fails(capsys, "atlas", picture, "-o", out, "--weights", googlenet_h5,
          "--layers", "conv2/3x3", "--mask", mask, *ONE,
          match="was not made with these settings")  # fmt: skip


def test_classifier_layers_refused_before_dreaming(capsys, googlenet_h5, tmp_path):
    """A layer without channel maps (its InnerProduct needs 224x224 exactly)
    is refused up front, not failed in the middle of the dreams."""
    big = tmp_path / "big.png"
    rgb = np.random.default_rng(5).integers(0, 256, (240, 300, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(big)
    out = tmp_path / "a.png"
    want = "loss3/classifier is (1, 1000): no channel maps to dream on"
    fails(capsys, "atlas", big, "-o", out, "--weights", googlenet_h5,
          "--layers", "conv2/3x3,loss3/classifier", *ONE, match=want)  # fmt: skip
    assert not out.exists() and not any(tmp_path.glob("a/*.png"))
