"""Engine fixtures: GoogLeNet with synthetic weights, and a small picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inceptionism.weights import save_model
from inceptionism.weights.synthetic import synthetic_model


@pytest.fixture(scope="module")
def googlenet():
    """GoogLeNet with seeded synthetic weights, built once per test module."""
    return synthetic_model("bvlc_googlenet", seed=0)


@pytest.fixture(scope="module")
def googlenet_h5(googlenet, tmp_path_factory):
    """:func:`googlenet` saved as HDF5, for ``--weights``."""
    path = tmp_path_factory.mktemp("w") / "synth.h5"
    save_model(googlenet, path)
    return path


@pytest.fixture
def picture(tmp_path):
    """A 56x40 random RGB PNG: small enough for a one-octave dream."""
    a = np.random.default_rng(2).integers(0, 256, size=(40, 56, 3)).astype(np.uint8)
    path = tmp_path / "in.png"
    Image.fromarray(a).save(path)
    return path


@pytest.fixture
def run(capsys, googlenet_h5):
    """``cli`` (tests/engine/test_cli_dream.py) with ``--weights`` set to the
    synthetic weights."""
    from tests.engine.test_cli_dream import cli

    return lambda *argv: cli(capsys, *argv, "--weights", googlenet_h5)


@pytest.fixture
def run_fails(capsys, googlenet_h5):
    """``fails`` with ``--weights`` set to the synthetic weights."""
    from tests.engine.test_cli_dream import fails

    return lambda *argv, match: fails(
        capsys, *argv, "--weights", googlenet_h5, match=match
    )


#: The layers of :func:`studio_atlas`.
ATLAS_LAYERS = ("conv2/3x3", "inception_3a/output")


@pytest.fixture(scope="module")
def studio_atlas(googlenet_h5, tmp_path_factory) -> Path:
    """The singles folder of a tiny layer atlas made by the real ``atlas``
    command on :func:`googlenet_h5` (64 px, one octave, one step)."""
    from inceptionism.engine.cli import main

    folder = tmp_path_factory.mktemp("atlas")
    photo = folder / "photo.png"
    a = np.random.default_rng(3).integers(0, 256, size=(48, 64, 3)).astype(np.uint8)
    Image.fromarray(a).save(photo)
    out = folder / "atlas.png"
    argv = ["atlas", photo, "-o", out, "--weights", googlenet_h5]
    argv += ["--layers", ",".join(ATLAS_LAYERS), "--max-size", "64"]
    assert main([str(x) for x in [*argv, "--octaves", "1", "--steps", "1"]]) == 0
    return out.with_suffix("")


@pytest.fixture(scope="module")
def dask_client():
    """A real Dask ``LocalCluster`` of 2 workers (as ``--scheduler local:2``
    makes it) and its client, one per test module."""
    distributed = pytest.importorskip("distributed")
    batch_dask = pytest.importorskip("inceptionism.engine.batch_dask")
    cluster = batch_dask.local_cluster(2, dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
