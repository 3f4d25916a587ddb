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
    p = dropout.params_from_caffe({"dropout_ratio": 0.7})
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


def test_params_from_caffe():
    assert dropout.params_from_caffe({}) == dropout.Params(0.5, True)
    assert dropout.params_from_caffe({"dropout_ratio": 0.4}).dropout_ratio == 0.4


@pytest.mark.parametrize(
    "d, match",
    [({"dropout_ratio": 1.0}, "dropout_ratio"), ({"ratio": 0.5}, "unknown")],
    ids=["ratio1", "unknown_key"],
)
def test_bad_params_raise(d, match):
    with pytest.raises(ValueError, match=match):
        dropout.params_from_caffe(d)
