"""The DeepDream step, ours vs a PyTorch build of the same graph and weights.

One step = forward to ``end`` + backward of ``1/2 sum a^2`` (seed ``a``) to
the input: what ``dream`` does per iteration, minus the cheap image update.
Contenders: our NumPy ``Net``; ``TorchNet`` eager (the same graph through
``torch.nn.functional``, weights not requiring grad); ``torch.compile`` of
the same forward (inductor; compile time excluded, the case skips if it does
not compile here). Input gradients are compared outside the timed function.
Peak memory of a 1024x768 step is measured in fresh processes
(:mod:`benchmarks.memstep`) and stored in ``extra_info``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.conftest import ENDS, SIZES, image
from benchmarks.flops import step_flops
from tests.engine.googlenet_checks import GRAD32_BULK, GRAD32_MAX

ROOT = Path(__file__).resolve().parents[1]
_compiled: dict = {}


def _torch_step(fn, xt):
    xx = xt.detach().requires_grad_(True)
    a = fn(xx)
    (0.5 * (a * a).sum()).backward()
    return xx.grad


def _check(dx, ref):
    """The whole-net float32 criterion of tests/engine/googlenet_checks.py:
    max-pool near-ties may route a gradient to a neighbour, so the bulk
    (90th percentile) of the normwise error must be tiny, the worst element
    only within what a few such swaps do. Both sides here are float32, each
    within GRAD32_MAX of the exact gradient, hence twice that between them."""
    err = np.abs(dx - ref) / np.abs(ref).max()
    assert np.quantile(err, 0.9) <= GRAD32_BULK
    assert err.max() <= 2 * GRAD32_MAX


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("end", ENDS)
@pytest.mark.parametrize("impl", ["ours", "torch", "torch.compile"])
def test_step(benchmark, net, tnet, rng, rounds, quick, impl, end, size):
    hw = SIZES[size]
    x = image(net, rng, hw)
    xt = torch.from_numpy(x)
    short = end.split("/")[0]
    benchmark.group = f"step {short} {size}"
    benchmark.extra_info.update(
        kind="step", impl=impl, flops=step_flops(net.graph, hw, end)
    )

    def eager(xx):
        return tnet(xx, end=[end])[end]

    if impl == "ours":

        def run():
            a = net.forward(x, end=end)[end]
            return net.backward({end: a})
    elif impl == "torch":

        def run():
            return _torch_step(eager, xt)
    else:
        if quick:
            pytest.skip("torch.compile is not in --quick (compiling takes minutes)")
        if end != "inception_4c/output" or size == "512x512":
            pytest.skip("torch.compile: only the targets (4c at 224x224, 1024x768)")
        key = (end, size)
        if key not in _compiled:
            t0 = time.perf_counter()
            try:
                # inductor's own deprecation warnings are not ours to fail on
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fn = torch.compile(eager)
                    _torch_step(fn, xt)  # compiles forward and backward
            except Exception as exc:  # inductor needs a working C++ toolchain
                _compiled[key] = exc
            else:
                _compiled[key] = (fn, time.perf_counter() - t0)
        if isinstance(_compiled[key], Exception):
            pytest.skip(f"torch.compile failed here: {_compiled[key]!r:.200}")
        fn, seconds = _compiled[key]
        benchmark.extra_info["compile_s"] = seconds

        def run():
            return _torch_step(fn, xt)

    # cheap cases get more rounds: the best of many shrugs off other jobs
    rounds = 3 * rounds if size == "224x224" else max(2, rounds - 2)
    dx = benchmark.pedantic(run, rounds=rounds, warmup_rounds=1)
    dx = dx if impl == "ours" else dx.numpy()
    ref = _torch_step(eager, xt).numpy() if impl == "ours" else None
    if ref is None:
        a = net.forward(x, end=end)[end]
        ref = net.backward({end: a})
    _check(dx, ref)


@pytest.mark.parametrize("size", ["1024x768"])
@pytest.mark.parametrize("end", ["inception_4c/output"])
@pytest.mark.parametrize("impl", ["ours", "torch"])
def test_peak_memory(benchmark, impl, end, size):
    """Peak RSS of a process doing two steps (see benchmarks.memstep)."""
    h, w = SIZES[size]
    cmd = [sys.executable, "-m", "benchmarks.memstep", impl, str(h), str(w), end]
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def run():
        out = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    benchmark.group = f"memory {end.split('/')[0]} {size}"
    mem = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(kind="memory", impl=impl, **mem)
    assert mem["peak_mib"] >= mem["base_mib"] > 0
