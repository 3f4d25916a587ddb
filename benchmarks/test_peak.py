"""The machine's single-precision GEMM rate: the yardstick for % of peak."""

from __future__ import annotations

import numpy as np

N = 2048


def test_gemm_peak(benchmark, rng, rounds):
    a = rng.standard_normal((N, N), dtype=np.float32)
    b = rng.standard_normal((N, N), dtype=np.float32)
    out = np.empty((N, N), dtype=np.float32)
    benchmark.group = "gemm peak"
    benchmark.extra_info.update(kind="peak", impl="numpy", flops=2 * N**3)
    benchmark.pedantic(
        np.matmul, (a, b), {"out": out}, rounds=rounds * 2, warmup_rounds=1
    )
    np.testing.assert_allclose(out[:4, :4], a[:4] @ b[:, :4], rtol=1e-3, atol=1e-2)
