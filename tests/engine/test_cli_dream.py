"""``inceptionism dream`` / ``zoom`` end to end on synthetic GoogLeNet weights.

Small images, one octave, a shallow layer: each run takes a fraction of a
second on a CPU.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from inceptionism.engine.cli import main
from inceptionism.engine.image import load_image, read_recipe
from inceptionism.weights import save_model
from inceptionism.weights.synthetic import synthetic_model

FAST = ["--layer", "conv2/3x3", "--octaves", "1", "--steps", "2", "--seed", "4"]


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def fails(capsys, *argv, match):
    rc, out, err = cli(capsys, *argv)
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inceptionism: error: "), err
    assert match in lines[0], lines[0]
    return lines[0]


def test_dream_writes_image_with_recipe(run, picture, tmp_path):
    out = tmp_path / "out.png"
    rc, stdout, err = run("dream", picture, "-o", out, *FAST)
    assert rc == 0, err
    assert stdout.strip() == str(out)
    got, src = load_image(out), load_image(picture)
    assert got.shape == src.shape and np.abs(got - src).max() > 1
    r = read_recipe(out)
    assert r["config"]["objective"] == "deepdream:conv2/3x3"
    assert r["config"]["seed"] == 4 and r["config"]["steps"] == 2
    assert r["model"]["name"] == "bvlc_googlenet"
    assert r["model"]["source"]["seed"] == 0
    assert len(r["model"]["weights_sha1"]) == 40 and len(r["input"]["sha1"]) == 40
    assert r["inceptionism"] and r["device"] == "cpu"


def test_replay_pixel_for_pixel(capsys, run, picture, tmp_path):
    first, again = tmp_path / "first.png", tmp_path / "again.png"
    opts = ["--jitter", "8", "--prior", "smooth:0.5"]
    assert run("dream", picture, "-o", first, *opts, *FAST)[0] == 0
    rc, _, err = cli(capsys, "dream", "--replay", first, "-o", again)
    assert rc == 0, err
    a, b = load_image(first), load_image(again)
    np.testing.assert_array_equal(a, b)
    other = tmp_path / "other.png"
    rc, _, _ = run("dream", picture, "-o", other, *opts, *FAST[:-1], "5")
    assert rc == 0
    assert not np.array_equal(a, load_image(other))


def test_replay_refuses_other_weights(capsys, run, googlenet_h5, picture, tmp_path):
    out = tmp_path / "o.png"
    assert run("dream", picture, "-o", out, *FAST)[0] == 0
    wrong = tmp_path / "seed1.h5"
    save_model(synthetic_model("bvlc_googlenet", seed=1), wrong)
    replay = ["dream", "--replay", out, "-o", tmp_path / "x.png", "--weights"]
    fails(capsys, *replay, wrong, match="pass the right --weights")
    picture.write_bytes(picture.read_bytes() + b"\0")  # the input changed since
    fails(capsys, *replay, googlenet_h5, match="is not the image")


def test_default_output_never_overwrites(
    run, run_fails, picture, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    before = picture.read_bytes()
    for name in ("in-dream.png", "in-dream-1.png"):
        rc, stdout, err = run("dream", picture, *FAST)
        assert rc == 0, err
        assert stdout.strip() == str(tmp_path / name)
    assert picture.read_bytes() == before
    run_fails(
        "dream", picture, "-o", picture, *FAST, match="refusing to overwrite the input"
    )
    assert picture.read_bytes() == before


def test_bad_inputs_one_line_errors(capsys, run_fails, picture, tmp_path):
    run_fails("dream", tmp_path / "missing.png", match="missing.png: no such")
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a picture")
    run_fails("dream", notes, match="notes.jpg: not an image")
    line = run_fails(
        "dream",
        picture,
        "--layer",
        "conv2/3x3_reduc",
        match="unknown blob 'conv2/3x3_reduc'",
    )
    assert "conv2/3x3_reduce" in line
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (8, 8)).save(tiny)
    run_fails("dream", tiny, "--octaves", "1", match="too small")
    run_fails("dream", picture, "--octaves", "0", match="octaves must be")
    run_fails("dream", picture, "--octave-scale", "0.5", match="--octave-scale must")
    run_fails("dream", match="no input image")
    fails(
        capsys,
        "dream",
        picture,
        "--weights",
        tmp_path / "no.h5",
        match="no such weight file",
    )
    run_fails(
        "dream",
        picture,
        "--objective",
        "dreamdeep:conv1/7x7_s2",
        match="did you mean 'deepdream'",
    )
    fails(capsys, "dream", "--replay", picture, match="no inceptionism recipe")
    run_fails("dream", picture, "-o", tmp_path / "o.xyz", match=".xyz")


def test_model_not_cached_says_how(capsys, picture, monkeypatch, tmp_path):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "cache"))
    line = fails(capsys, "dream", picture, match="not in the cache")
    assert "weights fetch bvlc_googlenet" in line and "weights synthetic" in line


def test_skipped_octave_is_a_warning_line(run, tmp_path):
    img = tmp_path / "small.png"
    # 16 -> 11 -> 8 pixels; inception_3a needs 11
    Image.new("RGB", (16, 16), (90, 120, 200)).save(img)
    rc, _, err = run(
        "dream",
        img,
        "-o",
        tmp_path / "s.png",
        "--layer",
        "inception_3a/output",
        "--octaves",
        "3",
        "--steps",
        "1",
    )
    assert rc == 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "inceptionism: warning: 1 of 3 octaves skipped: octave 3 of 3 (8x8)"
    )


def test_sample_max_size_mean_and_save_every(run, tmp_path):
    out = tmp_path / "s.png"
    rc, _, err = run(
        "dream",
        "--sample",
        "--max-size",
        "48",
        "-o",
        out,
        "--mean",
        "notebook",
        "--save-every",
        "1",
        *FAST,
    )
    assert rc == 0, err
    assert load_image(out).shape == (36, 48, 3)  # 512x384 shrunk to 48 wide
    r = read_recipe(out)
    assert r["input"]["path"] == "sample" and r["max_size"] == 48
    assert r["preprocess"]["mean"] == [104.0, 116.0, 122.0]
    assert sorted(p.name for p in tmp_path.glob("s-o*.png")) == [
        "s-o0-s000.png",
        "s-o0-s001.png",
    ]


def test_mean_notebook_needs_bgr_pixels_in_0_255(capsys, picture, tmp_path):
    """The notebook's 104/116/122 is a BGR mean in 0..255 units; a model taking
    0..1 pixels (or RGB) had it subtracted as it was."""
    import dataclasses

    small = synthetic_model("bvlc_googlenet", seed=0)
    for i, pre in enumerate(
        [{"scale": 1.0, "mean": [0.4, 0.4, 0.5]}, {"channel_order": "RGB"}]
    ):
        weights = tmp_path / f"other{i}.h5"
        model = dataclasses.replace(small, preprocess={**small.preprocess, **pre})
        save_model(model, weights)
        out = tmp_path / f"o{i}.png"
        argv = ["dream", picture, "-o", out, *FAST, "--weights", weights]
        line = fails(capsys, *argv, "--mean", "notebook", match="--mean notebook")
        assert "use --mean file" in line and not out.exists()
        assert cli(capsys, *argv, "--mean", "file")[0] == 0


def test_guide(run, picture, tmp_path):
    guide = tmp_path / "g.png"
    Image.new("RGB", (40, 40), (200, 30, 30)).save(guide)
    out = tmp_path / "g-out.png"
    rc, _, err = run("dream", picture, "-o", out, "--guide", guide, *FAST)
    assert rc == 0, err
    assert read_recipe(out)["config"]["objective"].startswith("guide:conv2/3x3:")


def test_zoom_frames_and_gif(run, run_fails, picture, tmp_path):
    folder = tmp_path / "frames"
    rc, _, err = run("zoom", picture, "-o", folder, "--frames", "2", "--gif", *FAST)
    assert rc == 0, err
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["frame-0000.png", "frame-0001.png", "zoom.gif"]
    with Image.open(folder / "zoom.gif") as gif:
        assert gif.n_frames == 2
    assert read_recipe(folder / "frame-0001.png")["zoom"]["frame"] == 1
    run_fails("zoom", picture, "-o", folder, "--scale", "1.5", match="--scale")


def test_replay_keeps_16_bits(capsys, run, picture, tmp_path):
    first, again = tmp_path / "deep.png", tmp_path / "again.png"
    rc, _, err = run("dream", picture, "-o", first, "--bits", "16", *FAST)
    assert rc == 0, err
    assert cli(capsys, "dream", "--replay", first, "-o", again)[0] == 0
    assert read_recipe(again)["bits"] == 16
    assert first.read_bytes() == again.read_bytes()
