"""Kernel by kernel at real GoogLeNet layer shapes, ours vs torch.nn.functional.

Each case is one layer of BVLC GoogLeNet with the shape its input has when
the net runs on a 224x224 or a 1024x768 image. Our side calls the layer's
kernel module with the Params and weights ``Net`` uses; the torch side calls
the same layer of :class:`tests.torch_net.TorchNet` (plain
``torch.nn.functional``). Forward keeps what backward needs on both sides
(our ``ctx``, torch's autograd graph), as in a dream step. Backward is to the
input only, with a random upstream gradient. Outputs are compared outside the
timed functions. The benchmark group ``"<layer> <fwd|bwd> <size>"`` pairs
ours with torch in the report.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.conftest import SIZES
from benchmarks.flops import layer_flops
from tests.tolerances import tol

#: id -> GoogLeNet layer (what each case stands for)
LAYERS = {
    "conv1 7x7/s2": "conv1/7x7_s2",
    "3x3 branch": "inception_3a/3x3",
    "5x5 branch": "inception_3a/5x5",
    "1x1 reduce": "inception_4c/3x3_reduce",
    "maxpool 3x3/s2": "pool1/3x3_s2",
    "maxpool 3x3/s1": "inception_3a/pool",
    "LRN norm1": "pool1/norm1",
    "LRN norm2": "conv2/norm2",
    "concat": "inception_3a/output",
}


def layer_case(net, tnet, rng, layer, hw):
    """Inputs (ours, torch), our op call and torch's, for one layer at ``hw``.

    Inputs are drawn on the host and copied to each side's device (``net``'s
    for ours, ``cuda`` for torch when ours is on the GPU); the torch inputs
    never share memory with ours.
    """
    node = net.graph.nodes[layer]
    shapes = net.graph.shapes((1, 3, *hw))
    host = [
        (rng.standard_normal(shapes[i]) * 10).astype(np.float32) for i in node.inputs
    ]
    ins = [net.xp.asarray(a) for a in host]
    device = "cuda" if net.device == "cuda" else "cpu"
    tins = [
        torch.tensor(a, device=device).requires_grad_(True) for a in host
    ]  # torch.tensor copies
    raw = next(ly for ly in tnet.layers if ly["name"] == layer)

    def ours():
        return node.op.forward(tuple(ins), node.params, net._weights[layer])

    def theirs():
        return tnet._layer(raw, tins)

    flops = layer_flops(node, shapes[node.inputs[0]], shapes[layer])
    return node, ins, tins, ours, theirs, flops


def _close(a, b):
    """float32 agreement relative to the array's scale: a GEMM output is a
    sum of thousands of terms whose cancellation leaves small entries with
    absolute (not relative) float32 error, so atol is rtol * max|b|."""
    rtol = tol(np.float32)["rtol"]
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * float(np.abs(b).max()))


@pytest.mark.parametrize("size", list(SIZES)[::2])  # 224x224, 1024x768
@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("impl", ["ours", "torch"])
def test_forward(benchmark, net, tnet, rng, rounds, impl, layer, size):
    node, ins, tins, ours, theirs, flops = layer_case(
        net, tnet, rng, LAYERS[layer], SIZES[size]
    )
    benchmark.group = f"{layer} fwd {size}"
    benchmark.extra_info.update(kind="kernel", impl=impl, flops=flops)
    run = ours if impl == "ours" else theirs
    result = benchmark.pedantic(run, rounds=3 * rounds, warmup_rounds=1)
    y = result[0][0] if impl == "ours" else result.detach().numpy()
    ref = theirs().detach().numpy() if impl == "ours" else ours()[0][0]
    _close(y, ref)


@pytest.mark.parametrize("size", list(SIZES)[::2])
@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("impl", ["ours", "torch"])
def test_backward(benchmark, net, tnet, rng, rounds, impl, layer, size):
    node, ins, tins, ours, theirs, flops = layer_case(
        net, tnet, rng, LAYERS[layer], SIZES[size]
    )
    (y,), ctx = ours()
    ty = theirs()
    dy = rng.standard_normal(y.shape).astype(np.float32)
    tdy = torch.from_numpy(dy.copy())
    benchmark.group = f"{layer} bwd {size}"
    benchmark.extra_info.update(kind="kernel", impl=impl, flops=flops)
    if impl == "ours":
        dx = benchmark.pedantic(
            node.op.backward, ((dy,), ctx), rounds=3 * rounds, warmup_rounds=1
        )
    else:

        def run():
            return torch.autograd.grad(ty, tins, tdy, retain_graph=True)

        dx = benchmark.pedantic(run, rounds=3 * rounds, warmup_rounds=1)
    ours_dx = node.op.backward((dy,), ctx)
    ref = torch.autograd.grad(ty, tins, tdy, retain_graph=True)
    assert len(dx) == len(ours_dx) == len(ref) == len(ins)
    for a, b in zip(ours_dx, ref):
        _close(a, b.numpy())
