"""The whole GoogLeNet against a PyTorch build of the same graph and weights.

Every blob of the forward pass, and the input gradient of
``L = 1/2 sum(a^2)`` (seed ``dL/da = a``) at pre- and post-ReLU targets, at
an inception output and at several blobs at once.

- float64 at 97x131 (every blob up to ``inception_5b/output`` is non-empty;
  pool5's 7x7 window needs at least ~193 px): relative 1e-9.
- float32 at 224x224, the whole net to ``prob``: forward relative 1e-4;
  gradients see the note at :data:`GRAD32_MAX`.

"Relative" is normwise per blob: ``max|ours - ref| <= rtol * max|ref|``
(elementwise relative error is meaningless at the zeros ReLU makes).
"""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.engine import Net
from inceptionism.weights.synthetic import synthetic_model
from tests.tolerances import tol

torch = pytest.importorskip("torch")
TorchNet = pytest.importorskip("tests.torch_net").TorchNet

pytestmark = pytest.mark.torch

#: Seed targets: pre-/post-ReLU pairs, an inception output, several at once
#: (a blob that feeds another seeded blob included: 3b/5x5_reduce -> 4c).
TARGETS = {
    "conv1-pre-relu": ["conv1/7x7_s2"],
    "conv1-post-relu": ["conv1/relu_7x7"],
    "3b-5x5-reduce-pre-relu": ["inception_3b/5x5_reduce"],
    "3b-5x5-reduce-post-relu": ["inception_3b/relu_5x5_reduce"],
    "4c-output": ["inception_4c/output"],
    "multi": [
        "inception_3b/5x5_reduce",
        "inception_4c/output",
        "inception_4d/relu_3x3",
    ],
}

#: float32 input gradients, measured against the float64 torch gradient of
#: the same float32 data and weights (the exact answer), over 6 random
#: 224x224 images x 3 seed sets: where no decision flips, ours and torch's
#: float32 gradients are within 7e-7 of it. But forward values carry ~1e-6
#: relative rounding, and where two values in a max-pool window are that
#: close, float32 may route the gradient to the other one (float64 and the
#: two float32 builds each pick their own; we counted 2 such swaps, and no
#: ReLU sign flip, behind one 6e-3 difference). The whole gradient through
#: that pool element moves to a neighbour, so the max error jumps to
#: 1e-3..7e-2 (torch float32 itself: up to 6.9e-2; ours: up to 2.1e-2), but
#: only inside that element's receptive field: the 90th percentile of the
#: error stayed <= 3e-4 in every case. So: the bulk of the gradient must
#: match to 1e-3 (a wrong backward anywhere moves it by O(1)), and the worst
#: element only within what a few near-tie swaps can do.
GRAD32_BULK = 1e-3
GRAD32_MAX = 1e-1


def rel_err(a, b) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture(scope="module")
def model():
    return synthetic_model("bvlc_googlenet", seed=0)


def _case(model, dtype, hw, seed):
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    net = Net(model, dtype=dtype)
    tnet = TorchNet(model.graph, model.params, dtype=tdtype)
    rgb = np.random.default_rng(seed).uniform(0, 255, (*hw, 3)).astype(np.float32)
    return net, tnet, net.preprocess(rgb)


@pytest.fixture(scope="module")
def f64(model):
    return _case(model, np.float64, (97, 131), seed=1)


@pytest.fixture(scope="module")
def f32(model):
    return _case(model, np.float32, (224, 224), seed=0)


@pytest.mark.parametrize("case", ["f64", "f32"])
def test_every_blob(case, request):
    net, tnet, x = request.getfixturevalue(case)
    end = "inception_5b/output" if case == "f64" else None
    ours = net.forward(x, end=end, keep=False)
    with torch.no_grad():
        ref = tnet(torch.from_numpy(x), end=end)
    assert set(ours) == set(ref)
    assert len(ours) == (139 if case == "f64" else 143)
    rtol = tol(x.dtype)["rtol"]
    errs = {k: rel_err(ours[k], ref[k].numpy()) for k in ours}
    bad = {k: e for k, e in errs.items() if not e <= rtol}
    assert not bad, f"blobs off by more than {rtol} (relative): {bad}"
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
def test_input_gradient_float32(f32, model, names):
    net, _, x = f32
    dx = net.backward({n: b for n, b in _fwd(net, x, names).items()})
    # the exact gradient of the same float32 numbers (see GRAD32_MAX)
    t64 = TorchNet(model.graph, model.params, dtype=torch.float64)
    tx = torch.from_numpy(x.astype(np.float64))
    with torch.no_grad():
        tb = t64(tx, end=names)
    ref = t64.input_grad(tx, {n: tb[n] for n in names}).numpy()
    assert dx.dtype == np.float32
    err = np.abs(dx - ref) / np.abs(ref).max()
    assert np.quantile(err, 0.9) <= GRAD32_BULK
    assert err.max() <= GRAD32_MAX


def _fwd(net, x, names):
    blobs = net.forward(x, end=names)
    return {n: blobs[n] for n in names}
