"""Engine fixtures: GoogLeNet with synthetic weights, and a small picture."""

from __future__ import annotations

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
