"""InnerProduct: loop reference, finite differences, PyTorch, CuPy; errors."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pytest

from inceptionism.kernels import linear
from tests.gradcheck import (
    assert_forward_matches,
    assert_grad_matches_fd,
    assert_matches_torch,
    assert_numpy_matches_cupy,
)


class Case(NamedTuple):
    x_shape: tuple
    num_output: int
    axis: int = 1
    bias_term: bool = True
    transpose: bool = False

    def params(self) -> linear.Params:
        return linear.Params(self.num_output, self.bias_term, self.axis, self.transpose)

    def split(self) -> tuple[int, int]:
        a = self.axis % len(self.x_shape)
        return math.prod(self.x_shape[:a]), math.prod(self.x_shape[a:])


CASES = [
    pytest.param(Case((3, 7), 5), id="2d_batch3"),
    pytest.param(Case((1, 7), 4), id="2d_batch1"),
    pytest.param(Case((2, 3, 5, 3), 6), id="4d_flatten_batch2"),
    pytest.param(Case((2, 3, 1, 1), 4, bias_term=False), id="4d_1x1_nobias"),
    pytest.param(Case((2, 3, 4, 5), 3, axis=2), id="axis2"),
    pytest.param(Case((2, 3, 4), 2, axis=-1), id="axis_minus1"),
    pytest.param(Case((2, 3, 2, 2), 5, transpose=True), id="transpose"),
]
DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]


def make(case: Case, dtype, rng):
    _, k = case.split()
    x = rng.standard_normal(case.x_shape).astype(dtype)
    w_shape = (k, case.num_output) if case.transpose else (case.num_output, k)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(case.num_output).astype(dtype) if case.bias_term else None
    return x, w, b


def reference_forward(x, case: Case, w, b):
    """Caffe's definition, one output element at a time (float64)."""
    m, k = case.split()
    x2 = x.reshape(m, k)
    y = np.zeros((m, case.num_output))
    for i in range(m):
        for o in range(case.num_output):
            acc = 0.0 if b is None else float(b[o])
            for j in range(k):
                wj = w[j, o] if case.transpose else w[o, j]
                acc += float(x2[i, j]) * float(wj)
            y[i, o] = acc
    a = case.axis % len(case.x_shape)
    return y.reshape(*case.x_shape[:a], case.num_output)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_forward_matches_loop_reference(case, dtype, rng):
    x, w, b = make(case, dtype, rng)
    want = reference_forward(x, case, w, b)
    assert_forward_matches(linear, x, (case.params(), w, b), want)


@pytest.mark.parametrize("case", CASES)
def test_backward_matches_finite_differences(case, rng):
    x, w, b = make(case, np.float64, rng)
    # Linear in x: the central difference is exact at any step, and a unit
    # step keeps the rounding error near 1e-14.
    assert_grad_matches_fd(linear, x, (case.params(), w, b), rng, eps=1.0)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_forward_backward_match_torch(case, dtype, rng):
    torch = pytest.importorskip("torch")
    x, w, b = make(case, dtype, rng)
    a = case.axis % len(case.x_shape)
    wt = torch.from_numpy(w.T.copy() if case.transpose else w)
    bt = None if b is None else torch.from_numpy(b)
    assert_matches_torch(
        linear,
        x,
        (case.params(), w, b),
        rng,
        lambda xt: torch.nn.functional.linear(torch.flatten(xt, start_dim=a), wt, bt),
    )


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_numpy_matches_cupy(case, dtype, rng):
    x, w, b = make(case, dtype, rng)
    assert_numpy_matches_cupy(linear, x, (case.params(), w, b), rng)


def test_float32_stays_float32_with_float64_weights(rng):
    case = Case((2, 3, 2, 2), 4)
    x, w, b = make(case, np.float32, rng)
    p = case.params()
    (y,), ctx = linear.forward((x,), p, (w.astype(np.float64), b.astype(np.float64)))
    dx = linear.backward((rng.standard_normal(y.shape).astype(np.float32),), ctx)[0]
    assert y.dtype == np.float32 and dx.dtype == np.float32


@pytest.mark.parametrize(
    "x_shape, w_shape, bias_shape, params, match",
    [
        pytest.param(
            (2, 3, 2, 2), (4, 11), (4,), linear.Params(4),
            "in-features mismatch", id="in_features",
        ),
        pytest.param(
            (2, 12), (5, 12), (4,), linear.Params(4),
            "in-features mismatch", id="weight_num_output",
        ),
        pytest.param(
            (2, 12), (4, 12), (4,), linear.Params(4, transpose=True),
            "in-features mismatch", id="transpose_layout",
        ),
        pytest.param(
            (2, 12), (4, 12, 1), (4,), linear.Params(4),
            "in-features mismatch", id="weight_rank",
        ),
        pytest.param(
            (2, 12), (4, 12), (5,), linear.Params(4), "bias shape", id="bias_shape",
        ),
        pytest.param(
            (2, 12), (4, 12), None, linear.Params(4), "no bias", id="bias_missing",
        ),
        pytest.param(
            (2, 12), (4, 12), (4,), linear.Params(4, bias_term=False),
            "bias_term is false", id="bias_unexpected",
        ),
        pytest.param(
            (2, 12), (4, 12), (4,), linear.Params(4, axis=2),
            "axis 2 is out of range", id="axis_out_of_range",
        ),
    ],
)  # fmt: skip
def test_forward_rejects_bad_arguments(
    x_shape, w_shape, bias_shape, params, match, rng
):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = None if bias_shape is None else rng.standard_normal(bias_shape)
    with pytest.raises(ValueError, match=match):
        linear.forward((x,), params, (w, b))


def test_backward_rejects_wrong_gradient_shape(rng):
    x, w, b = make(Case((2, 3, 2, 2), 4), np.float64, rng)
    (y,), ctx = linear.forward((x,), linear.Params(4), (w, b))
    with pytest.raises(ValueError, match="upstream gradient shape"):
        linear.backward((y[:, :-1],), ctx)[0]
