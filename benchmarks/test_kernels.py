"""Kernel by kernel at real GoogLeNet layer shapes, ours vs torch.nn.functional.

Each case is one layer of BVLC GoogLeNet with the shape its input has when
the net runs on a 224x224 or a 1024x768 image. Our side calls the layer's
kernel module with the Params and weights ``Net`` uses; the torch side calls
the same layer of :class:`tests.torch_net.TorchNet` (plain
``torch.nn.functional``). Forward keeps what backward needs on both sides
(our ``ctx``, torch's autograd graph), as in a dream step. Backward is to the
input only, with a random upstream gradient. Outputs are compared outside the
timed functions. The benchmark group ``"<layer> <fwd|bwd> <size>"`` pairs
ours with torch in the report. Two more torch contenders: ``torch CL`` (the
same call on channels_last inputs and weights) and, for the LRNs, ``torch
analytic-LRN`` (:class:`tests.torch_net.CaffeLRN`, Caffe's closed-form
backward: the LRN a careful PyTorch user writes).
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


IMPLS = ["ours", "torch", "torch CL", "torch analytic-LRN"]


def _rival(impl, layer, tnets):
    """The TorchNet of a torch contender; skips analytic-LRN off the LRNs."""
    if impl == "torch analytic-LRN" and not layer.startswith("LRN"):
        pytest.skip("analytic-LRN differs from torch eager only in the LRNs")
    return tnets.get(impl, tnets["torch"])


def layer_case(net, tnet, rng, layer, hw, channels_last=False):
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
    tins = [torch.tensor(a, device=device) for a in host]  # torch.tensor copies
    if channels_last:
        tins = [t.contiguous(memory_format=torch.channels_last) for t in tins]
    tins = [t.requires_grad_(True) for t in tins]
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
@pytest.mark.parametrize("impl", IMPLS)
def test_forward(benchmark, net, tnets, rng, rounds, impl, layer, size):
    tnet = _rival(impl, layer, tnets)
    node, ins, tins, ours, theirs, flops = layer_case(
        net, tnet, rng, LAYERS[layer], SIZES[size], impl == "torch CL"
    )
    benchmark.group = f"{layer} fwd {size}"
    benchmark.extra_info.update(kind="kernel", impl=impl, flops=flops)
    run = ours if impl == "ours" else theirs
    result = benchmark.pedantic(run, rounds=3 * rounds, warmup_rounds=1)
    y = result[0][0] if impl == "ours" else result.detach().contiguous().numpy()
    ref = theirs().detach().numpy() if impl == "ours" else ours()[0][0]
    _close(y, ref)


@pytest.mark.parametrize("size", list(SIZES)[::2])
@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("impl", IMPLS)
def test_backward(benchmark, net, tnets, rng, rounds, impl, layer, size):
    tnet = _rival(impl, layer, tnets)
    node, ins, tins, ours, theirs, flops = layer_case(
        net, tnet, rng, LAYERS[layer], SIZES[size], impl == "torch CL"
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
        _close(a, b.contiguous().numpy())
