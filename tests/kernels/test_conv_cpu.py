"""kernels/_conv_cpu.py, NumPy's long-run layouts, against conv's reference.

The reference (im2col, a GEMM per group, col2im, as on CuPy) is the oracle:
with the fast paths switched off (``_conv_cpu.*_takes`` false) conv.forward
and conv.backward must give what they give with them on, on every case of
test_conv.py and on GoogLeNet's conv1 and an inception 3x3.
"""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.kernels import _conv_cpu, _im2col, conv
from tests.kernels.test_conv import CASES, DTYPES, Case, make
from tests.tolerances import tol

GOOGLENET = [
    pytest.param(Case((1, 3, 35, 41), 8, (7, 7), (2, 2), (3, 3)), id="conv1"),
    pytest.param(Case((1, 16, 14, 14), 8, (3, 3), pad=(1, 1)), id="3x3"),
]


def _run(case, dtype, rng):
    x, w, b = make(case, dtype, rng)
    (y,), ctx = conv.forward((x,), case.params(), (w, b))
    g = rng.standard_normal(y.shape).astype(dtype)
    return x, w, b, g, y.copy(), conv.backward((g,), ctx)[0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES + GOOGLENET)
def test_fast_paths_match_the_reference(case, dtype, rng, monkeypatch):
    x, w, b, g, y, dx = _run(case, dtype, rng)
    p = case.params()
    for name in ("forward_takes", "backward_takes"):
        monkeypatch.setattr(_conv_cpu, name, lambda *args: False)
    (y_ref,), ctx = conv.forward((x,), p, (w, b))
    dx_ref = conv.backward((g,), ctx)[0]
    assert y.dtype == dx.dtype == dtype
    np.testing.assert_allclose(y, y_ref, **tol(dtype))
    np.testing.assert_allclose(dx, dx_ref, **tol(dtype))


def test_cases_cover_both_fast_paths():
    x = np.zeros((1, 1, 1, 1))
    params = [c.values[0].params() for c in CASES + GOOGLENET]
    assert any(_conv_cpu.forward_takes(x, p.stride, p.dilation) for p in params)
    stride1 = [p for p in params if p.stride == (1, 1) and p.kernel != (1, 1)]
    assert any(_conv_cpu.backward_takes(x, p.stride, p.dilation) for p in stride1)


@pytest.mark.parametrize("case", [c for c in CASES if c.values[0].stride == (1, 1)])
def test_col2im_stride1_is_col2im_in_the_padded_width_layout(case, rng):
    p = case.params()
    (_, _, ho, wo) = conv.output_shapes((case.x_shape,), p)[0]
    n, c, h, w = case.x_shape
    cols = rng.standard_normal((n, c, *p.kernel, ho, wo))
    want = _im2col.col2im(cols, (h, w), p.stride, p.pad, p.dilation)
    wp = w + 2 * p.pad[1]
    padded = np.zeros((n, c, *p.kernel, ho, wp))
    padded[..., :wo] = cols
    flat = padded.reshape(n, c, *p.kernel, ho * wp)
    got = _conv_cpu.col2im_stride1(flat, (h, w), p.kernel, p.pad, p.dilation)
    np.testing.assert_allclose(got, want, **tol(np.float64))
