"""Dropout at inference: identity forward and backward; parameters."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.kernels import dropout

DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 7)], ids=["nchw", "2d"])
def test_identity_forward_and_backward(shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    p = dropout.Params(0.7)
    (y,), ctx = dropout.forward((x,), p)
    assert y is x  # Caffe's TEST phase copies nothing (scale_train: true)
    assert dropout.output_shapes((x.shape,), p)[0] == shape
    g = rng.standard_normal(shape).astype(dtype)
    assert dropout.backward((g,), ctx)[0] is g


@pytest.mark.gpu
def test_cupy_arrays_pass_through(rng):
    cp = pytest.importorskip("cupy")
    x = cp.asarray(rng.standard_normal((2, 3)))
    (y,), ctx = dropout.forward((x,), dropout.Params())
    assert y is x and dropout.backward((x,), ctx)[0] is x
