"""``atlas --scheduler``: the cells of an atlas as Dask tasks (each with its
own model and layer), the same pictures as in one process."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from inceptionism.engine.image import load_image, read_recipe

pytest.importorskip("distributed")
batch_dask = pytest.importorskip("inceptionism.engine.batch_dask")


def _atlas(*argv):
    """``inceptionism atlas ARGV`` in a new process with one worker's BLAS
    threads (their count changes a GEMM's last bits)."""
    env = {**os.environ, **batch_dask.blas_env(1)}
    argv = [sys.executable, "-m", "inceptionism.engine", "atlas", *map(str, argv)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.slow
def test_atlas_on_a_local_cluster(googlenet_h5, picture, tmp_path):
    from inceptionism.weights import save_model
    from inceptionism.weights.synthetic import synthetic_model

    places = tmp_path / "places.h5"
    save_model(synthetic_model("googlenet_places365", seed=2), places)
    args = [
        picture,
        "--weights",
        googlenet_h5,
        "--compare",
        places,
        "--layers",
        "conv2/3x3,inception_3a/output",
        "--octaves",
        "1",
        "--steps",
        "2",
    ]
    here = tmp_path / "here.png"
    _atlas(*args, "-o", here)
    there = tmp_path / "there.png"
    done = _atlas(*args, "-o", there, "--scheduler", "local:1")
    assert ", 1 workers, dashboard " in done.stderr
    assert "4 atlas cells: 4 done, 0 failed" in done.stderr
    a, b = read_recipe(here)["atlas"], read_recipe(there)["atlas"]
    assert [m["name"] for m in b["models"]] == ["bvlc_googlenet", "googlenet_places365"]
    for x, y in zip(a["cells"], b["cells"]):
        assert (x["layer"], x["model"], x["box"]) == (y["layer"], y["model"], y["box"])
        np.testing.assert_array_equal(
            load_image(tmp_path / x["file"]), load_image(tmp_path / y["file"])
        )
    np.testing.assert_array_equal(load_image(here), load_image(there))


def test_unknown_scheduler_one_line_before_the_first_dream(
    run_fails, picture, tmp_path, monkeypatch
):
    from tests.engine.test_batch_dask import _free_port

    monkeypatch.setattr(batch_dask, "CONNECT_TIMEOUT", 1.0)
    where = f"tcp://127.0.0.1:{_free_port()}"
    out = tmp_path / "a.png"
    answer = f"--scheduler {where}: no Dask scheduler answered"
    run_fails("atlas", picture, "-o", out, "--layers", "conv2/3x3", "--scheduler",
              where, match=answer)  # fmt: skip
    assert not out.exists() and not list(tmp_path.glob("a/*"))
