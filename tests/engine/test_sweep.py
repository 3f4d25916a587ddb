"""``dream IN --sweep KEY=V1,V2 ... -o FOLDER``: a grid of dreams of one
picture and its contact sheet (issue 12)."""

from __future__ import annotations

import numpy as np

from inceptionism.engine.image import load_image, read_recipe

ONE = ["--octaves", "1", "--steps", "2"]
SWEEP = ["--sweep", "layer=conv2/3x3,conv1/7x7_s2", "--sweep", "seed=1,2,3"]


def test_grid_of_layers_and_seeds_with_contact_sheet(run, picture, tmp_path):
    out = tmp_path / "sweep"
    rc, stdout, err = run("dream", picture, "-o", out, *SWEEP, *ONE)
    assert rc == 0, err
    assert "6 sweep cells: 6 done, 0 failed" in err
    cells = [(layer, seed) for layer in ("conv2/3x3", "conv1/7x7_s2")
             for seed in (1, 2, 3)]  # fmt: skip
    for layer, seed in cells:
        path = out / f"in-layer-{layer.replace('/', '_')}-seed-{seed}.png"
        r = read_recipe(path)
        assert r["config"]["objective"] == f"deepdream:{layer}"
        assert r["config"]["seed"] == seed and r["config"]["steps"] == 2
    alone = tmp_path / "alone.png"
    rc, _, err = run("dream", picture, "-o", alone, "--layer", "conv1/7x7_s2",
                     "--seed", "2", *ONE)  # fmt: skip
    assert rc == 0, err
    np.testing.assert_array_equal(
        load_image(alone), load_image(out / "in-layer-conv1_7x7_s2-seed-2.png")
    )
    sheet = load_image(out / "in-sweep.png")
    h, w = load_image(picture).shape[:2]
    assert sheet.shape == (2 * (h + 18) + 4, 3 * (w + 4) + 4, 3)  # 2 rows, 3 columns
    np.testing.assert_array_equal(  # row 2, column 2 is conv1/7x7_s2, seed 2
        sheet[4 + h + 18 : 4 + h + 18 + h, 8 + w : 8 + 2 * w], load_image(alone)
    )
    assert str(out / "in-sweep.png") in stdout.split()
    rc, _, err = run("dream", picture, "-o", out, *SWEEP, *ONE)  # resumes
    assert rc == 0 and "0 done, 6 skipped" in err


def test_bad_sweeps_refused(run_fails, picture, tmp_path):
    out = tmp_path / "o"
    run_fails("dream", picture, "-o", out, "--sweep", "colour=1,2",
              match="write KEY=V1,V2,... with KEY one of layer")  # fmt: skip
    run_fails("dream", picture, "-o", out, "--sweep", "seed=1,x",
              match="--sweep seed: 'x' is not valid")  # fmt: skip
    other = tmp_path / "other.png"
    other.write_bytes(picture.read_bytes())
    run_fails("dream", picture, other, "-o", out, "--sweep", "seed=1",
              match="--sweep dreams one IN")  # fmt: skip
    # a typo in a later cell failed only after the earlier cells were dreamed
    for axis, match in [
        ("layer=conv2/3x3,conv2/nope", "unknown blob 'conv2/nope'"),
        ("objective=deepdream:conv2/3x3,nope:1", "unknown objective 'nope'"),
        ("step-size=1,nan", "step size must be finite"),
    ]:
        run_fails("dream", picture, "-o", out, *ONE, "--sweep", axis, match=match)
        assert not out.exists()
