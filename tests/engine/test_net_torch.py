"""The whole GoogLeNet against a PyTorch build of the same graph and weights.

Every blob of the forward pass, and the input gradient of
``L = 1/2 sum(a^2)`` (seed ``dL/da = a``) at pre- and post-ReLU targets, at
an inception output and at several blobs at once.

- float64 at 97x131 (every blob up to ``inception_5b/output`` is non-empty;
  pool5's 7x7 window needs at least ~193 px): relative 1e-9.
- float32 at 224x224, the whole net to ``prob``: forward relative 1e-4;
  gradients: see ``GRAD32_MAX`` in :mod:`tests.engine.googlenet_checks`.

"Relative" is normwise per blob (see :mod:`tests.engine.googlenet_checks`).
"""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.engine import Net
from tests.engine.googlenet_checks import (
    TARGETS,
    assert_blobs_close,
    assert_grad32_close,
    rel_err,
)
from tests.tolerances import tol

torch = pytest.importorskip("torch")
TorchNet = pytest.importorskip("tests.torch_net").TorchNet

pytestmark = pytest.mark.torch


def _case(googlenet, dtype, hw, seed):
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    net = Net(googlenet, dtype=dtype)
    tnet = TorchNet(googlenet.graph, googlenet.params, dtype=tdtype)
    rgb = np.random.default_rng(seed).uniform(0, 255, (*hw, 3)).astype(np.float32)
    return net, tnet, net.preprocess(rgb)


@pytest.fixture(scope="module")
def f64(googlenet):
    return _case(googlenet, np.float64, (97, 131), seed=1)


@pytest.fixture(scope="module")
def f32(googlenet):
    return _case(googlenet, np.float32, (224, 224), seed=0)


@pytest.mark.parametrize("case", ["f64", "f32"])
def test_every_blob(case, request):
    net, tnet, x = request.getfixturevalue(case)
    end = "inception_5b/output" if case == "f64" else None
    ours = net.forward(x, end=end, keep=False)
    with torch.no_grad():
        ref = tnet(torch.from_numpy(x), end=end)
    assert set(ours) == set(ref)
    assert len(ours) == (139 if case == "f64" else 143)
    assert_blobs_close(
        ours, {k: v.numpy() for k, v in ref.items()}, tol(x.dtype)["rtol"]
    )
    assert np.abs(ours["inception_4c/output"]).max() > 1  # not a degenerate net


def _grads(net, tnet, x, names):
    blobs = net.forward(x, end=names)
    dx = net.backward({n: blobs[n] for n in names})  # L = 1/2 sum a^2
    tx = torch.from_numpy(x)
    with torch.no_grad():
        tb = tnet(tx, end=names)
    return dx, tnet.input_grad(tx, {n: tb[n] for n in names}).numpy()


@pytest.mark.parametrize("names", TARGETS.values(), ids=TARGETS.keys())
def test_input_gradient_float64(f64, names):
    net, tnet, x = f64
    dx, ref = _grads(net, tnet, x, names)
    assert dx.shape == x.shape and dx.dtype == np.float64
    assert rel_err(dx, ref) <= tol(np.float64)["rtol"]


@pytest.mark.parametrize(
    "names",
    [*TARGETS.values(), [*TARGETS["multi"], "prob"]],
    ids=[*TARGETS.keys(), "multi-with-prob"],
)
def test_input_gradient_float32(f32, googlenet, names):
    net, _, x = f32
    dx = net.backward({n: b for n, b in _fwd(net, x, names).items()})
    # the exact gradient of the same float32 numbers (see GRAD32_MAX)
    t64 = TorchNet(googlenet.graph, googlenet.params, dtype=torch.float64)
    tx = torch.from_numpy(x.astype(np.float64))
    with torch.no_grad():
        tb = t64(tx, end=names)
    ref = t64.input_grad(tx, {n: tb[n] for n in names}).numpy()
    assert dx.dtype == np.float32
    assert_grad32_close(dx, ref)


def _fwd(net, x, names):
    blobs = net.forward(x, end=names)
    return {n: blobs[n] for n in names}


@pytest.mark.parametrize("n", [5, 4, 1])
def test_analytic_lrn_matches_autograd(n):
    """The benchmarks' strongest PyTorch rival: CaffeLRN's closed-form
    backward against autograd through the composite LRN, and gradcheck."""
    from tests.torch_net import CaffeLRN, _lrn

    p = {"local_size": n, "alpha": 1e-2, "beta": 0.75, "k": 1.0}
    x = torch.randn(2, 7, 5, 6, dtype=torch.float64, requires_grad=True)
    dy = torch.randn(2, 7, 5, 6, dtype=torch.float64)
    y = CaffeLRN.apply(x, n, 1e-2, 0.75, 1.0)
    (dx,) = torch.autograd.grad(y, x, dy)
    y_ref = _lrn(x, p)
    (dx_ref,) = torch.autograd.grad(y_ref, x, dy)
    t = tol(np.float64)
    torch.testing.assert_close(y, y_ref, **t)
    torch.testing.assert_close(dx, dx_ref, **t)
    assert torch.autograd.gradcheck(
        lambda v: CaffeLRN.apply(v, n, 1e-2, 0.75, 1.0), (x[:1, :, :2, :3],)
    )
