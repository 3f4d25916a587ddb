"""Shared fixtures; markers gpu/torch skip cleanly where absent."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_collection_modifyitems(config, items):
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
    from inceptionism.kernels import backend

    have_gpu = backend.gpu_available()
    no_gpu = "no CUDA GPU (CuPy) available"
    if backend._cupy_error:  # say why, or a GPU run may skip everything unseen
        no_gpu += f": CuPy does not load ({backend._cupy_error})"
    for item in items:
        if "torch" in item.keywords and not have_torch:
            item.add_marker(pytest.mark.skip(reason="torch is not installed"))
        if "gpu" in item.keywords and not have_gpu:
            item.add_marker(pytest.mark.skip(reason=no_gpu))
