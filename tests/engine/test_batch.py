"""Batches in one process: :func:`inceptionism.engine.batch.dream_many` and
``inceptionism dream FOLDER|PATTERN|FILES... -o FOLDER`` (issue 12)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from inceptionism.engine import batch
from inceptionism.engine.dream import DreamConfig, dream
from inceptionism.engine.image import load_image, read_recipe
from inceptionism.engine.net import Net
from tests.engine.test_cli_dream import FAST

CONFIG = DreamConfig(objective="deepdream:conv2/3x3", octaves=1, steps=2, seed=4)


def _png(path, seed, size=(40, 56)):
    a = np.random.default_rng(seed).integers(0, 256, size=(*size, 3))
    Image.fromarray(a.astype(np.uint8)).save(path)
    return path


@pytest.fixture
def photos(tmp_path):
    """A folder of three pictures and a text file that is not one."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        _png(folder / f"p{i}.png", seed=10 + i)
    (folder / "notes.txt").write_text("not a picture")
    return folder


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def _summary(err):
    return [line for line in err.splitlines() if " inputs: " in line][-1]


# -- the Python API ---------------------------------------------------------------


def test_api_arrays_same_seed_same_picture_alone_or_in_batch(googlenet, googlenet_h5):
    rng = np.random.default_rng(1)
    images = [rng.uniform(0, 255, (40, 56, 3)).astype(np.float32) for _ in range(3)]
    got = batch.dream_many(images, CONFIG, weights=googlenet_h5)
    net = Net(googlenet)
    for image, outcome in zip(images, got):
        assert outcome.status == "done", outcome.reason
        alone = dream(net, image, "deepdream:conv2/3x3", octaves=1, steps=2, seed=4)
        np.testing.assert_array_equal(outcome.image, alone)
    assert not np.array_equal(got[0].image, got[1].image)


def test_api_loads_the_net_once(googlenet_h5, photos, tmp_path):
    batch._NETS.clear()
    before = batch.LOADS
    got = batch.dream_many(sorted(photos.glob("*.png")), CONFIG, weights=googlenet_h5,
                           out=tmp_path / "out")  # fmt: skip
    assert [(o.status, o.reason) for o in got] == [("done", "")] * 3
    assert batch.LOADS == before + 1
    assert [o.output.name for o in got] == [f"p{i}-dream.png" for i in range(3)]


def test_api_new_weights_at_the_same_path_load_again(googlenet_h5, tmp_path):
    from inceptionism.weights import save_model
    from inceptionism.weights.synthetic import synthetic_model

    weights = tmp_path / "w.h5"
    weights.write_bytes(googlenet_h5.read_bytes())
    image = np.random.default_rng(5).uniform(0, 255, (40, 56, 3))
    before = batch.LOADS
    a = batch.dream_many([image], CONFIG, weights=weights)[0].image
    save_model(synthetic_model("bvlc_googlenet", seed=1), weights)
    os.utime(weights, ns=(1, 1))  # another size or mtime: hashed again
    b = batch.dream_many([image], CONFIG, weights=weights)[0].image
    assert batch.LOADS == before + 2
    assert not np.array_equal(a, b)


def test_api_refuses_arrays_to_a_folder(googlenet_h5, tmp_path):
    with pytest.raises(ValueError, match="pass out=None"):
        batch.dream_many([np.zeros((40, 56, 3))], CONFIG, weights=googlenet_h5,
                         out=tmp_path)  # fmt: skip


# -- the command line -------------------------------------------------------------


def test_folder_same_pictures_as_one_at_a_time(run, photos, tmp_path):
    out = tmp_path / "out"
    rc, stdout, err = run("dream", photos, "-o", out, *FAST)
    assert rc == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["p0-dream.png", "p1-dream.png", "p2-dream.png"]  # no notes.txt
    assert stdout.split() == [str(out / n) for n in names]
    assert "3 done, 0 failed" in _summary(err)
    alone = tmp_path / "alone.png"
    assert run("dream", photos / "p1.png", "-o", alone, *FAST)[0] == 0
    np.testing.assert_array_equal(load_image(alone), load_image(out / names[1]))


def test_tiling_options_reach_every_picture(run, photos, tmp_path):
    from inceptionism.engine.recipe import Recipe

    out = tmp_path / "out"
    assert run("dream", photos, "-o", out, "--tile", "16", *FAST)[0] == 0
    for i in range(3):
        assert Recipe.read(out / f"p{i}-dream.png").tiling == {
            "tile": 16,
            "halo": "exact",
        }
    alone = tmp_path / "alone.png"
    assert run("dream", photos / "p0.png", "-o", alone, "--tile", "16", *FAST)[0] == 0
    np.testing.assert_array_equal(load_image(alone), load_image(out / "p0-dream.png"))


def test_recipe_per_output_replays(run, capsys, photos, tmp_path):
    from tests.engine.test_cli_dream import cli

    out = tmp_path / "out"
    assert run("dream", photos, "-o", out, *FAST)[0] == 0
    for i in range(3):
        r = read_recipe(out / f"p{i}-dream.png")
        assert r["input"]["path"].endswith(f"p{i}.png") and r["config"]["seed"] == 4
    again = tmp_path / "again.png"
    rc, _, err = cli(capsys, "dream", "--replay", out / "p2-dream.png", "-o", again)
    assert rc == 0, err
    np.testing.assert_array_equal(load_image(again), load_image(out / "p2-dream.png"))


def test_glob_and_several_files(run, photos, tmp_path):
    rc, _, err = run("dream", str(photos / "p[01].png"), "-o", tmp_path / "g", *FAST)
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == [
        "p0-dream.png",
        "p1-dream.png",
    ]
    rc, _, err = run("dream", photos / "p2.png", photos / "p0.png", "-o",
                     tmp_path / "f", *FAST)  # fmt: skip
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == [
        "p0-dream.png",
        "p2-dream.png",
    ]


def test_bad_inputs_reported_rest_done_exit_1(run, photos, tmp_path):
    (photos / "broken.jpg").write_bytes(b"not a jpeg at all")
    out = tmp_path / "out"
    rc, _, err = run("dream", photos, photos / "missing.png", "-o", out, *FAST)
    assert rc == 1
    assert "3 done, 2 failed" in _summary(err), err
    assert "batch: failed " + str(photos / "broken.jpg") + ": not an image" in err
    assert "batch: failed " + str(photos / "missing.png") + ": no such file" in err
    assert _names(out) == [f"p{i}-dream.png" for i in range(3)]


def test_skip_existing_and_overwrite(run, photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "p1-dream.png").write_bytes(b"mine")
    rc, stdout, err = run("dream", photos, "-o", out, *FAST)
    assert rc == 0, err
    assert "2 done, 1 skipped (already there, 1 made with other settings;" in (
        _summary(err)
    )
    assert (out / "p1-dream.png").read_bytes() == b"mine"
    assert str(out / "p1-dream.png") not in stdout
    # a rerun keeps this dream's own pictures (another seed drawn or not)...
    rc, _, err = run("dream", photos, "-o", out, *FAST[:-2], "--seed", "99")
    assert rc == 0, err
    assert "0 done, 3 skipped (already there, 1 made with other" in _summary(err)
    # ...and names the ones another dream made
    rc, _, err = run("dream", photos, "-o", out, *FAST, "--steps", "3")
    assert "0 done, 3 skipped (already there, 3 made with other" in _summary(err)
    rc, _, err = run("dream", photos, "-o", out, "--overwrite", *FAST)
    assert rc == 0, err
    assert "3 done, 0 failed" in _summary(err)
    assert load_image(out / "p1-dream.png").shape == (40, 56, 3)


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["{photos}"], "give -o FOLDER"),
        (["{photos}", "-o", "{tmp}/o.png"], "into a folder; give -o FOLDER"),
        (["{photos}", "-o", "{photos}"], "holds inputs"),
        (["{photos}/*.jpg", "-o", "{tmp}/o"], "no file matches"),
        (
            ["{photos}", "{photos}/p0.png", "-o", "{tmp}/o", "--replay", "x.png"],
            "--replay makes one picture",
        ),  # fmt: skip
        (["{photos}/p0.png", "{tmp}/p0.png", "-o", "{tmp}/o"], "would both be"),
    ],
    ids=[
        "no-output",
        "output-is-a-picture",
        "output-is-input",
        "no-match",
        "replay",
        "same-stem",
    ],
)
def test_refusals(run_fails, photos, tmp_path, argv, match):
    _png(tmp_path / "p0.png", seed=3)
    argv = [a.format(photos=photos, tmp=tmp_path) for a in argv]
    run_fails("dream", *argv, *FAST, match=match)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_ctrl_c_stops_cleanly_and_rerun_resumes(googlenet_h5, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(8):
        _png(folder / f"p{i}.png", seed=i, size=(96, 128))
    out = tmp_path / "out"
    slow = [*FAST[:-1], "5", "--steps", "6"]
    argv = [sys.executable, "-m", "inceptionism.engine", "dream", str(folder), "-o",
            str(out), "--weights", str(googlenet_h5), *slow]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (out / "p0-dream.png").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    first = sorted(p.name for p in out.iterdir())
    assert first and all(n.endswith("-dream.png") for n in first)  # no .part left
    assert len(first) < 8, "the batch ended before Ctrl-C; use slower pictures"
    assert b"the same command resumes" in err
    kept = {n: (out / n).stat().st_mtime_ns for n in first}
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"{8 - len(first)} done, {len(first)} skipped" in _summary(again.stderr)
    assert _names(out) == [f"p{i}-dream.png" for i in range(8)]
    assert {n: (out / n).stat().st_mtime_ns for n in first} == kept


def test_scheduler_without_dask_says_what_to_install(
    run, run_fails, photos, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    run_fails("dream", photos, "-o", tmp_path / "o", "--scheduler", "local:2", *FAST,
              match='needs Dask: pip install "inceptionism[dask]"')  # fmt: skip
    assert not (tmp_path / "o").exists()
    rc, _, err = run("dream", photos, "-o", tmp_path / "o", *FAST)  # still batches
    assert rc == 0, err
