"""GPU: ours on CuPy against PyTorch eager with cuDNN, same graph and weights.

- One dream step (forward to ``inception_4c/output`` + backward of
  ``1/2 sum a^2`` to the input) at 1024x768 and 3840x2160, float32, first with
  TF32 off on both sides (CuPy GEMMs in ``COMPUTE_TYPE_FP32``, torch matmul and
  cuDNN convolutions at ``"ieee"`` precision), then with TF32 allowed on both.
- Kernel by kernel at GoogLeNet layer shapes (the layers of
  ``benchmarks/test_kernels.py``), forward and backward, TF32 off.

Contenders: ``ours`` (CUDA kernels on), ``ours-xp`` (the switch off: every op
through the ``xp`` code, which shows what the kernels buy) and ``torch``
(``tests.torch_net.TorchNet`` with its weights moved to the GPU). Every timed
function synchronises the device before it returns; results are compared
outside it. ``extra_info`` holds the FLOPs (``benchmarks.flops``) and the peak
GPU memory of one step: torch's ``max_memory_allocated``, and for us the
CuPy memory pool's size after one step from an empty pool (blocks are cached,
so this is the high-water mark of what the step held at once, rounded up to
the pool's block sizes).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from benchmarks.conftest import image
from benchmarks.flops import step_flops
from benchmarks.test_kernels import LAYERS, _close, layer_case
from inceptionism.engine import Net
from inceptionism.kernels import _im2col, backend
from tests.engine.googlenet_checks import GRAD32_BULK, GRAD32_MAX
from tests.torch_net import TorchNet

cp = pytest.importorskip("cupy")
pytestmark = pytest.mark.gpu

END = "inception_4c/output"
#: (H, W) by id, width x height as image sizes are written.
GPU_SIZES = {"1024x768": (768, 1024), "3840x2160": (2160, 3840)}
IMPLS = ["ours", "ours-xp", "torch"]
PRECISIONS = [pytest.param(False, id="fp32"), pytest.param(True, id="tf32")]


@contextlib.contextmanager
def precision(tf32: bool):
    """TF32 allowed or not, on both sides, restored after."""
    from cupy._core import _routines_linalg as linalg

    f32 = np.dtype(np.float32)
    old_cupy = linalg.get_compute_type(f32)
    linalg.set_compute_type(
        f32, linalg.COMPUTE_TYPE_TF32 if tf32 else linalg.COMPUTE_TYPE_FP32
    )
    mm, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv
    old_torch = (mm.fp32_precision, conv.fp32_precision)
    mm.fp32_precision = conv.fp32_precision = "tf32" if tf32 else "ieee"
    try:
        yield
    finally:
        linalg.set_compute_type(f32, old_cupy)
        mm.fp32_precision, conv.fp32_precision = old_torch


def sync():
    cp.cuda.Device().synchronize()
    torch.cuda.synchronize()


@pytest.fixture(scope="module")
def gnet(model):
    # the gpu marker's skip lives in tests/conftest.py, not loaded here
    if not backend.gpu_available():
        pytest.skip("no CUDA GPU (CuPy) available")
    if not torch.cuda.is_available():
        pytest.skip("this torch build has no CUDA")
    return Net(model, device="cuda", dtype=np.float32)


@pytest.fixture(scope="module")
def gtnet(model, gnet):
    tnet = TorchNet(model.graph, model.params, dtype=torch.float32)
    for weights in tnet.w.values():
        for k, v in weights.items():
            weights[k] = v.cuda()
    return tnet


def _ours_step(net, x):
    a = net.forward(x, end=END)[END]
    return net.backward({END: a})


def _torch_step(tnet, xt):
    xx = xt.detach().requires_grad_(True)
    a = tnet(xx, end=[END])[END]
    (0.5 * (a * a).sum()).backward()
    return xx.grad


def _peak_bytes(impl, step, net) -> int:
    """Peak GPU memory of one ``step()`` (see the module docstring)."""
    sync()
    # ``net`` (module-scoped) keeps its last forward's backward state until
    # the next forward: after a 3840x2160 case that is gigabytes the pool
    # cannot free, and the next 1024x768 case would report them as its peak
    net._ctx, net._blob_shapes = {}, {}
    if impl == "torch":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        step()
        sync()
        return int(torch.cuda.max_memory_allocated())
    pool = cp.get_default_memory_pool()
    _im2col.release_scratch()
    pool.free_all_blocks()
    step()
    sync()
    return int(pool.total_bytes())


@pytest.mark.parametrize("tf32", PRECISIONS)
@pytest.mark.parametrize("size", list(GPU_SIZES))
@pytest.mark.parametrize("impl", IMPLS)
def test_gpu_step(benchmark, gnet, gtnet, rng, rounds, impl, size, tf32):
    hw = GPU_SIZES[size]
    x = image(gnet, rng, hw)
    xt = torch.as_tensor(x, device="cuda")

    def step():
        return _torch_step(gtnet, xt) if impl == "torch" else _ours_step(gnet, x)

    def run():
        dx = step()
        sync()
        return dx

    benchmark.group = (
        f"gpu step {END.split('/')[0]} {size} {'tf32' if tf32 else 'fp32'}"
    )
    benchmark.extra_info.update(
        kind="gpu-step", impl=impl, tf32=tf32, flops=step_flops(gnet.graph, hw, END)
    )
    with precision(tf32), backend.custom_kernels(impl != "ours-xp"):
        benchmark.extra_info["peak_gpu_bytes"] = _peak_bytes(impl, step, gnet)
        dx = benchmark.pedantic(run, rounds=max(2, rounds - 2), warmup_rounds=1)
    got = cp.asnumpy(dx) if impl != "torch" else dx.cpu().numpy()
    with precision(False), backend.custom_kernels(True):  # the reference: TF32 off
        ref = _torch_step(gtnet, xt).cpu().numpy() if impl != "torch" else None
        ref = cp.asnumpy(_ours_step(gnet, x)) if ref is None else ref
    assert got.shape == (1, 3, *hw) and np.isfinite(got).all()
    err = np.abs(got - ref) / np.abs(ref).max()
    benchmark.extra_info.update(err_p90=float(np.quantile(err, 0.9)),
                                err_max=float(err.max()))  # fmt: skip
    if not tf32:  # the whole-net float32 criterion (benchmarks/test_step.py)
        assert np.quantile(err, 0.9) <= GRAD32_BULK
        assert err.max() <= 2 * GRAD32_MAX


def _host(a):
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else cp.asnumpy(a)


@pytest.mark.parametrize("size", list(GPU_SIZES))
@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("impl", IMPLS)
def test_gpu_kernel(benchmark, gnet, gtnet, rng, rounds, impl, layer, size):
    """Forward + backward of one layer (backward needs the forward's state)."""
    node, _, tins, ours, theirs, flops = layer_case(
        gnet, gtnet, rng, LAYERS[layer], GPU_SIZES[size]
    )
    with precision(False), backend.custom_kernels(impl != "ours-xp"):
        (y,), ctx = ours()
        ty = theirs()
        dy_host = rng.standard_normal(tuple(y.shape)).astype(np.float32)
        dy, tdy = cp.asarray(dy_host), torch.as_tensor(dy_host, device="cuda")

        if impl == "torch":

            def fwd():
                out = theirs()
                sync()
                return out

            def bwd():
                out = torch.autograd.grad(ty, tins, tdy, retain_graph=True)
                sync()
                return out
        else:

            def fwd():
                out = ours()
                sync()
                return out

            def bwd():
                out = node.op.backward((dy,), ctx)
                sync()
                return out

        def run():
            fwd()
            return bwd()

        benchmark.group = f"gpu {layer} fwd+bwd {size}"
        benchmark.extra_info.update(kind="gpu-kernel", impl=impl, flops=2 * flops)
        dx = benchmark.pedantic(run, rounds=rounds, warmup_rounds=1)
        ref_y = _host(ty) if impl != "torch" else _host(ours()[0][0])
        ref_dx = (
            torch.autograd.grad(ty, tins, tdy, retain_graph=True)
            if impl != "torch"
            else node.op.backward((dy,), ctx)
        )
    got_y = _host(y) if impl != "torch" else _host(ty)
    _close(got_y, ref_y)
    assert len(dx) == len(ref_dx)  # one gradient per input, both sides
    for a, b in zip(dx, ref_dx):
        _close(_host(a), _host(b))
