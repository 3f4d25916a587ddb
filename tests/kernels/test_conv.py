"""Convolution: loop reference, finite differences, PyTorch, CuPy; errors."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from inceptionism.kernels import _conv_cpu, _im2col, conv
from tests.gradcheck import (
    assert_forward_matches,
    assert_grad_matches_fd,
    assert_matches_torch,
    assert_numpy_matches_cupy,
)
from tests.tolerances import tol


class Case(NamedTuple):
    x_shape: tuple  # (N, C, H, W)
    num_output: int
    kernel: tuple
    stride: tuple = (1, 1)
    pad: tuple = (0, 0)
    dilation: tuple = (1, 1)
    group: int = 1
    bias_term: bool = True

    def params(self) -> conv.Params:
        return conv.Params(
            self.num_output,
            self.kernel,
            self.stride,
            self.pad,
            self.dilation,
            self.group,
            self.bias_term,
        )


CASES = [
    pytest.param(Case((2, 3, 7, 9), 4, (3, 3), pad=(1, 1)), id="3x3_pad1_batch2"),
    pytest.param(Case((2, 5, 5, 6), 3, (1, 1)), id="1x1"),
    pytest.param(Case((1, 4, 7, 6), 3, (1, 1), stride=(2, 2)), id="1x1_stride2"),
    pytest.param(Case((1, 3, 6, 5), 2, (1, 1), pad=(1, 0)), id="1x1_pad"),
    pytest.param(
        Case((2, 2, 9, 8), 3, (5, 3), stride=(2, 1), pad=(2, 1)),
        id="5x3_stride2x1_pad2x1",
    ),
    pytest.param(
        Case((1, 4, 9, 7), 6, (3, 3), stride=(2, 2), pad=(1, 1), group=2),
        id="group2_stride2",
    ),
    pytest.param(
        Case((2, 6, 5, 7), 3, (2, 3), group=3, bias_term=False),
        id="group3_2x3_nobias",
    ),
    pytest.param(
        Case((1, 2, 9, 10), 3, (3, 3), pad=(2, 2), dilation=(2, 2)),
        id="dilation2",
    ),
    pytest.param(
        Case((2, 2, 8, 9), 2, (2, 3), stride=(1, 2), pad=(1, 0), dilation=(3, 1)),
        id="dilation3x1_2x3",
    ),
    pytest.param(
        Case((1, 3, 11, 13), 4, (7, 7), stride=(2, 2), pad=(3, 3)),
        id="7x7_stride2_pad3",
    ),
    pytest.param(
        Case((3, 2, 10, 11), 2, (4, 4), stride=(3, 3), bias_term=False),
        id="4x4_stride3_unused_border_batch3",
    ),
    pytest.param(Case((1, 2, 3, 3), 2, (3, 3)), id="kernel_equals_input"),
    pytest.param(Case((2, 2, 6, 5), 3, (3, 1)), id="3x1_nopad"),
]
DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]


@pytest.fixture(params=["cpu", "reference"])
def path(request, monkeypatch) -> str:
    """NumPy arrays through the CPU fast paths (:mod:`._conv_cpu`, as they
    run) or through the reference im2col/col2im code (as CuPy ones do)."""
    if request.param == "reference":

        def off(*args) -> bool:
            return False

        monkeypatch.setattr(_conv_cpu, "forward_takes", off)
        monkeypatch.setattr(_conv_cpu, "backward_takes", off)
    return request.param


def make(case: Case, dtype, rng):
    x = rng.standard_normal(case.x_shape).astype(dtype)
    c = case.x_shape[1]
    w = rng.standard_normal((case.num_output, c // case.group, *case.kernel))
    b = rng.standard_normal(case.num_output) if case.bias_term else None
    return x, w.astype(dtype), None if b is None else b.astype(dtype)


def reference_forward(x, params: conv.Params, w, b):
    """One output element at a time, padding by bounds checks (float64)."""
    n, c, h, wd = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (
        params.kernel,
        params.stride,
        params.pad,
        params.dilation,
    )
    o_total, cg = params.num_output, c // params.group
    og = o_total // params.group
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o_total, ho, wo))
    for b_ in range(n):
        for o in range(o_total):
            g = o // og
            for oh in range(ho):
                for ow in range(wo):
                    acc = 0.0 if b is None else float(b[o])
                    for ci in range(cg):
                        for i in range(kh):
                            for j in range(kw):
                                r = oh * sh - ph + i * dh
                                q = ow * sw - pw + j * dw
                                if 0 <= r < h and 0 <= q < wd:
                                    acc += float(w[o, ci, i, j]) * float(
                                        x[b_, g * cg + ci, r, q]
                                    )
                    y[b_, o, oh, ow] = acc
    return y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_forward_matches_loop_reference(case, dtype, rng, path):
    x, w, b = make(case, dtype, rng)
    p = case.params()
    assert_forward_matches(conv, x, (p, w, b), reference_forward(x, p, w, b))


@pytest.mark.parametrize("case", CASES)
def test_backward_matches_finite_differences(case, rng, path):
    x, w, b = make(case, np.float64, rng)
    # Conv is linear in x, so the central difference has no truncation error
    # at any step; a unit step keeps the rounding error near 1e-14. The
    # difference of outputs is taken before the dot with g, so untouched
    # outputs cancel exactly.
    assert_grad_matches_fd(conv, x, (case.params(), w, b), rng, eps=1.0)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_forward_backward_match_torch(case, dtype, rng):
    torch = pytest.importorskip("torch")
    x, w, b = make(case, dtype, rng)
    p = case.params()
    wt, bt = torch.from_numpy(w), None if b is None else torch.from_numpy(b)
    assert_matches_torch(
        conv,
        x,
        (p, w, b),
        rng,
        lambda xt: torch.nn.functional.conv2d(
            xt, wt, bt, p.stride, p.pad, p.dilation, p.group
        ),
    )


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_numpy_matches_cupy(case, dtype, rng):
    x, w, b = make(case, dtype, rng)
    assert_numpy_matches_cupy(conv, x, (case.params(), w, b), rng)


@pytest.mark.parametrize("case", CASES)
def test_results_do_not_share_work_arrays(case, rng, path):
    # im2col/col2im reuse work arrays between calls; results must not.
    x, w, b = make(case, np.float64, rng)
    p = case.params()
    (y1,), ctx = conv.forward((x,), p, (w, b))
    g1 = rng.standard_normal(y1.shape)
    dx1 = conv.backward((g1,), ctx)[0]
    y1_copy, dx1_copy = y1.copy(), dx1.copy()
    (y2,), _ = conv.forward((-x,), p, (w, b))
    dx2 = conv.backward((-g1,), ctx)[0]
    np.testing.assert_array_equal(y1, y1_copy)
    np.testing.assert_array_equal(dx1, dx1_copy)
    np.testing.assert_allclose(dx2, -dx1, **tol(np.float64))


@pytest.mark.parametrize("case", CASES)
def test_col2im_is_the_adjoint_of_im2col(case, rng):
    # <im2col(x), c> == <x, col2im(c)>
    x = rng.standard_normal(case.x_shape)
    p = case.params()
    out_hw = conv.output_shapes((x.shape,), p)[0][2:]
    cols = _im2col.im2col(x, p.kernel, p.stride, p.pad, p.dilation, out_hw).copy()
    c = rng.standard_normal(cols.shape)
    dx = _im2col.col2im(c, x.shape[2:], p.stride, p.pad, p.dilation)
    np.testing.assert_allclose(np.sum(x * dx), np.sum(cols * c), **tol(np.float64))


def test_release_scratch_frees_and_remakes(rng):
    case = Case((1, 2, 5, 5), 2, (3, 3), pad=(1, 1))
    x, w, b = make(case, np.float64, rng)
    (y1,), _ = conv.forward((x,), case.params(), (w, b))
    _im2col.release_scratch()
    (y2,), _ = conv.forward((x,), case.params(), (w, b))
    np.testing.assert_array_equal(y1, y2)


def test_float32_stays_float32_with_float64_weights(rng):
    case = Case((1, 2, 5, 5), 3, (3, 3), pad=(1, 1))
    x, w, b = make(case, np.float32, rng)
    (y,), ctx = conv.forward(
        (x,), case.params(), (w.astype(np.float64), b.astype(np.float64))
    )
    dx = conv.backward((rng.standard_normal(y.shape).astype(np.float32),), ctx)[0]
    assert y.dtype == np.float32 and dx.dtype == np.float32


def test_backward_accepts_non_contiguous_gradient(rng):
    case = Case((2, 4, 6, 6), 4, (3, 3), pad=(1, 1), group=2)
    x, w, b = make(case, np.float64, rng)
    (_,), ctx = conv.forward((x,), case.params(), (w, b))
    wide = rng.standard_normal((2, 8, 6, 6))
    g = wide[:, 2:6]  # as a Concat backward would hand it over
    np.testing.assert_array_equal(
        conv.backward((g,), ctx)[0], conv.backward((np.ascontiguousarray(g),), ctx)[0]
    )


# --- Caffe parameters -------------------------------------------------------


# --- bad arguments ----------------------------------------------------------


def _args(rng, x_shape=(1, 4, 6, 6), w_shape=(4, 4, 3, 3), bias_shape=(4,)):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = None if bias_shape is None else rng.standard_normal(bias_shape)
    return x, w, b


@pytest.mark.parametrize(
    "x_shape, w_shape, bias_shape, params, match",
    [
        pytest.param(
            (4, 6, 6), (4, 4, 3, 3), (4,), conv.Params(4, (3, 3)), "4-d",
            id="rank3_input",
        ),
        pytest.param(
            (1, 1, 4, 6, 6), (4, 4, 3, 3), (4,), conv.Params(4, (3, 3)), "4-d",
            id="rank5_input",
        ),
        pytest.param(
            (1, 5, 6, 6), (4, 4, 3, 3), (4,), conv.Params(4, (3, 3)),
            "channel mismatch", id="channels",
        ),
        pytest.param(
            (1, 4, 6, 6), (4, 4, 3, 3), (4,), conv.Params(4, (3, 3), group=2),
            "channel mismatch", id="channels_group",
        ),
        pytest.param(
            (1, 4, 6, 6), (5, 4, 3, 3), (4,), conv.Params(4, (3, 3)),
            "weight shape", id="weight_num_output",
        ),
        pytest.param(
            (1, 4, 6, 6), (4, 4, 3, 2), (4,), conv.Params(4, (3, 3)),
            "weight shape", id="weight_kernel",
        ),
        pytest.param(
            (1, 4, 2, 6), (4, 4, 3, 3), (4,), conv.Params(4, (3, 3)),
            "larger than the padded input", id="kernel_too_big",
        ),
        pytest.param(
            (1, 4, 6, 6), (4, 4, 3, 3), (4,),
            conv.Params(4, (3, 3), pad=(1, 1), dilation=(4, 1)),
            "larger than the padded input", id="dilated_kernel_too_big",
        ),
        pytest.param(
            (1, 4, 6, 6), (4, 4, 3, 3), (3,), conv.Params(4, (3, 3)),
            "bias shape", id="bias_shape",
        ),
        pytest.param(
            (1, 4, 6, 6), (4, 4, 3, 3), None, conv.Params(4, (3, 3)),
            "no bias", id="bias_missing",
        ),
        pytest.param(
            (1, 4, 6, 6), (4, 4, 3, 3), (4,), conv.Params(4, (3, 3), bias_term=False),
            "bias_term is false", id="bias_unexpected",
        ),
    ],
)  # fmt: skip
def test_forward_rejects_bad_arguments(
    x_shape, w_shape, bias_shape, params, match, rng
):
    x, w, b = _args(rng, x_shape, w_shape, bias_shape)
    with pytest.raises(ValueError, match=match):
        conv.forward((x,), params, (w, b))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        pytest.param({"stride": (0, 1)}, "stride must be >= 1", id="zero_stride"),
        pytest.param({"kernel": (0, 3)}, "kernel must be >= 1", id="zero_kernel"),
        pytest.param({"pad": (-1, 0)}, "pad must be >= 0", id="negative_pad"),
        pytest.param({"dilation": (1, 0)}, "dilation", id="zero_dilation"),
        pytest.param({"group": 3}, "not divisible by group", id="num_output_group"),
    ],
)
def test_params_reject_bad_values(kwargs, match):
    args = {"num_output": 4, "kernel": (3, 3)} | kwargs
    with pytest.raises(ValueError, match=match):
        conv.Params(**args)


def test_output_shape_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        conv.output_shapes(((4, 6, 6),), conv.Params(4, (3, 3)))[0]
    with pytest.raises(ValueError, match="not divisible by group"):
        conv.output_shapes(((1, 3, 6, 6),), conv.Params(4, (3, 3), group=2))[0]
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv.output_shapes(((1, 4, 6, 2),), conv.Params(4, (3, 3)))[0]


def test_backward_rejects_wrong_gradient_shape(rng):
    x, w, b = _args(rng)
    (y,), ctx = conv.forward((x,), conv.Params(4, (3, 3)), (w, b))
    with pytest.raises(ValueError, match="upstream gradient shape"):
        conv.backward((y[:, :, :-1],), ctx)[0]


@pytest.mark.parametrize(
    "geometry",
    [
        {"kernel": (1, 1)},
        {"kernel": (3, 3), "pad": (1, 1)},
        {"kernel": (3, 2), "stride": (2, 1), "pad": (1, 0)},
    ],
    ids=["1x1", "3x3", "3x2-s2"],
)
def test_shared_siblings_equal_the_layers_one_by_one(geometry, rng):
    """forward_shared/backward_shared (stacked filters, one GEMM) against
    each layer's own forward and the sum of their backwards (float64)."""
    x = rng.standard_normal((2, 5, 9, 8))
    params = (
        conv.Params(4, **geometry),
        conv.Params(3, **geometry, bias_term=False),
        conv.Params(2, **geometry),
    )
    weights = tuple(
        tuple(
            rng.standard_normal(s) for s in conv.weight_shapes((x.shape,), p).values()
        )
        for p in params
    )
    assert len({conv.share_key(p) for p in params}) == 1
    ys, ctx = conv.forward_shared(x, params, weights)
    alone = [conv.forward((x,), p, w) for p, w in zip(params, weights)]
    dys = [rng.standard_normal(y.shape) for y in ys]
    for y, ((want,), _) in zip(ys, alone):
        np.testing.assert_allclose(y, want, **tol(np.float64))
    for drop in (None, 0, 1, 2):  # a layer without a gradient is left out
        given = tuple(None if i == drop else d for i, d in enumerate(dys))
        want = sum(
            conv.backward((d,), c)[0]
            for d, (_, c) in zip(given, alone)
            if d is not None
        )
        np.testing.assert_allclose(
            conv.backward_shared(given, ctx), want, **tol(np.float64)
        )
    with pytest.raises(ValueError, match="no gradient"):
        conv.backward_shared((None, None, None), ctx)


def test_shared_siblings_need_equal_keys(rng):
    x = rng.standard_normal((1, 4, 6, 6))
    a, b = conv.Params(2, (1, 1)), conv.Params(2, (3, 3), pad=(1, 1))
    w = [rng.standard_normal((2, 4, *p.kernel)) for p in (a, b)]
    with pytest.raises(ValueError, match="equal share_key"):
        conv.forward_shared(x, (a, b), ((w[0], None), (w[1], None)))
    assert conv.share_key(conv.Params(4, (1, 1), group=2)) is None
