"""The op contract of kernels/__init__.py, the same for every op module."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inceptionism.kernels import OP_MODULES, concat, conv, get_op, linear, pool

#: One valid (params, input shapes) per Caffe type.
CASES = {
    "Convolution": (conv.Params(6, (3, 3), pad=(1, 1), group=2), ((2, 4, 7, 5),)),
    "Pooling": (pool.Params(pool.Pool.MAX, (3, 3), (2, 2)), ((2, 3, 7, 5),)),
    "LRN": (get_op("LRN").Params(3, 0.5), ((2, 4, 3, 3),)),
    "ReLU": (get_op("ReLU").Params(), ((2, 3, 4),)),
    "Concat": (concat.Params(1), ((2, 3, 4, 4), (2, 5, 4, 4))),
    "InnerProduct": (linear.Params(4), ((2, 3, 2, 2),)),
    "Dropout": (get_op("Dropout").Params(), ((2, 3),)),
    "Softmax": (get_op("Softmax").Params(), ((2, 5),)),
}


def test_every_op_has_a_case():
    assert set(CASES) == set(OP_MODULES)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_surface(kind):
    op = get_op(kind)
    for name in ("Params", "WEIGHTS", "output_shapes", "weight_shapes"):
        assert hasattr(op, name), f"{kind}: no {name}"
    for name in ("forward", "backward"):
        assert callable(getattr(op, name))
    weighted = kind in ("Convolution", "InnerProduct")
    assert op.WEIGHTS == (("weight", "bias") if weighted else ())


@pytest.mark.parametrize("kind", sorted(CASES))
def test_forward_backward_follow_the_shapes(kind, rng):
    """weight_shapes makes weights forward accepts; ys match output_shapes;
    backward gives one gradient per input, each the input's shape."""
    op = get_op(kind)
    params, shapes = CASES[kind]
    wshapes = op.weight_shapes(shapes, params)
    assert tuple(wshapes) == op.WEIGHTS  # bias_term is on in every case
    weights = tuple(rng.standard_normal(wshapes[k]) for k in op.WEIGHTS)
    xs = tuple(rng.standard_normal(s) for s in shapes)
    ys, ctx = op.forward(xs, params, weights)
    out = op.output_shapes(shapes, params)
    assert isinstance(ys, tuple) and tuple(y.shape for y in ys) == out
    dxs = op.backward(tuple(rng.standard_normal(s) for s in out), ctx)
    assert isinstance(dxs, tuple)
    assert tuple(d.shape for d in dxs) == shapes


def test_weight_shapes():
    grouped = conv.Params(6, (3, 2), group=3, bias_term=False)
    assert conv.weight_shapes(((1, 9, 8, 8),), grouped) == {"weight": (6, 3, 3, 2)}
    # only the channels matter: an input smaller than the kernel is fine here
    assert conv.weight_shapes(((1, 9, 1, 1),), grouped) == {"weight": (6, 3, 3, 2)}
    p = linear.Params(5, axis=2)
    k = math.prod((3, 4))
    assert linear.weight_shapes(((2, 7, 3, 4),), p) == {
        "weight": (5, k),
        "bias": (5,),
    }
    t = linear.Params(5, bias_term=False, transpose=True)
    assert linear.weight_shapes(((2, 7, 3),), t) == {"weight": (21, 5)}
    assert pool.weight_shapes(((1, 1, 4, 4),), pool.Params(kernel=(2, 2))) == {}


def test_bias_may_be_left_out_without_bias_term(rng):
    p = conv.Params(2, (1, 1), bias_term=False)
    x = rng.standard_normal((1, 3, 2, 2))
    w = rng.standard_normal((2, 3, 1, 1))
    (a,), _ = conv.forward((x,), p, (w,))
    (b,), _ = conv.forward((x,), p, (w, None))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", sorted(set(CASES) - {"Concat"}))
def test_single_input_ops_refuse_two(kind, rng):
    op = get_op(kind)
    params, shapes = CASES[kind]
    x = rng.standard_normal(shapes[0])
    with pytest.raises(ValueError, match=r"takes exactly 1 input, got 2"):
        op.output_shapes((shapes[0], shapes[0]), params)
    with pytest.raises(ValueError, match=r"takes exactly 1 input, got 2"):
        op.forward((x, x), params, ())


@pytest.mark.parametrize("kind", sorted(CASES))
def test_weights_count_is_checked(kind, rng):
    op = get_op(kind)
    params, shapes = CASES[kind]
    xs = tuple(rng.standard_normal(s) for s in shapes)
    w = rng.standard_normal((1,))
    if op.WEIGHTS:
        with pytest.raises(ValueError, match=r"weights must be \(weight, bias\)"):
            op.forward(xs, params, ())
        with pytest.raises(ValueError, match=r"weights must be \(weight, bias\)"):
            op.forward(xs, params, (w, w, w))
    else:
        with pytest.raises(ValueError, match=r"takes no weights, got 1"):
            op.forward(xs, params, (w,))
