"""One full default dream (4 octaves x 10 steps, dream.ipynb's defaults) at
1024x768 on our NumPy engine. Ours only: a torch twin of the whole loop
(jitter, octave zooms, clipping) would mostly re-time the step benchmarks,
which already pair us with torch."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.conftest import SIZES
from benchmarks.flops import step_flops
from inceptionism.engine import dream
from inceptionism.engine.dream import octave_bases


@pytest.mark.slow
@pytest.mark.parametrize("size", ["1024x768"])
def test_dream(benchmark, net, rng, size):
    h, w = SIZES[size]
    rgb = rng.uniform(0, 255, (h, w, 3)).astype(np.float32)
    end = "inception_4c/output"
    sizes = [b.shape[2:] for b in octave_bases(net.preprocess(rgb), 4, 1.4)]
    flops = 10 * sum(step_flops(net.graph, hw, end) for hw in sizes)
    benchmark.group = f"dream {size}"
    benchmark.extra_info.update(kind="dream", impl="ours", flops=flops)
    out = benchmark.pedantic(dream, (net, rgb), {"seed": 0}, rounds=1, iterations=1)
    assert out.shape == (h, w, 3) and np.isfinite(out).all()
    assert 0 <= out.min() and out.max() <= 255 and np.abs(out - rgb).mean() > 1
