"""Benchmark fixtures: one synthetic GoogLeNet, ours and a PyTorch build.

Both sides use the same thread count (``os.cpu_count()``, what OpenBLAS
uses by default) and float32. ``--quick`` keeps the cases the summary needs
(224x224 kernels and steps, the 1024x768 ``inception_4c/output`` step and its
memory) so that ``python -m benchmarks.run --quick`` ends in under 3 minutes.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from inceptionism.engine import Net  # noqa: E402
from inceptionism.weights.synthetic import synthetic_model  # noqa: E402
from tests.torch_net import TorchNet  # noqa: E402

THREADS = os.cpu_count() or 1
torch.set_num_threads(THREADS)

#: (H, W) by id; "1024x768" is width x height, as image sizes are written.
SIZES = {"224x224": (224, 224), "512x512": (512, 512), "1024x768": (768, 1024)}
ENDS = ("inception_3b/output", "inception_4c/output", "inception_5b/output")


def pytest_addoption(parser):
    parser.addoption(
        "--quick", action="store_true", help="only the headline cases (< 3 min)"
    )


def quick_keeps(params: dict) -> bool:
    """The cases ``--quick`` runs, from an item's parameters."""
    size = params.get("size", "224x224")
    if size == "224x224":
        return True
    return size == "1024x768" and params.get("end") == "inception_4c/output"


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--quick"):
        return
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        ok = quick_keeps(params) and "slow" not in item.keywords
        (keep if ok else drop).append(item)
    items[:] = keep
    config.hook.pytest_deselected(items=drop)


@pytest.fixture(scope="session")
def quick(request) -> bool:
    return request.config.getoption("--quick")


@pytest.fixture(scope="session")
def rounds(quick) -> int:
    """Timed rounds per case (after one warm-up round)."""
    return 3 if quick else 5


@pytest.fixture(scope="session")
def model():
    return synthetic_model("bvlc_googlenet", seed=0)


@pytest.fixture(scope="session")
def net(model):
    return Net(model, dtype=np.float32)


@pytest.fixture(scope="session")
def tnet(model):
    return TorchNet(model.graph, model.params, dtype=torch.float32)


@pytest.fixture(scope="session")
def tnets(model, tnet):
    """The torch contenders of the kernel benchmarks, by impl name."""
    cl = TorchNet(model.graph, model.params, dtype=torch.float32)
    for d in cl.w.values():
        if d["weight"].ndim == 4:
            d["weight"] = d["weight"].contiguous(memory_format=torch.channels_last)
    analytic = TorchNet(model.graph, model.params, dtype=torch.float32, lrn="analytic")
    return {"torch": tnet, "torch CL": cl, "torch analytic-LRN": analytic}


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def image(net, rng, hw) -> np.ndarray:
    """A preprocessed random RGB image: float32 (1, 3, H, W)."""
    return net.preprocess(rng.uniform(0, 255, (*hw, 3)).astype(np.float32))
