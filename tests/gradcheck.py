"""Shared kernel checks: loop references, finite differences, PyTorch, CuPy.

Every kernel test checks its backward three ways with the same loops; they
live here once. The test keeps what is its own: the input (away from kinks
and ties), the step and the comment saying why that step is exact or safe.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tests.tolerances import tol


def numerical_grad(
    f: Callable[[np.ndarray], np.ndarray | float],
    x: np.ndarray,
    g: np.ndarray | None,
    eps: float,
    order: int = 2,
) -> np.ndarray:
    """Central-difference estimate of d<g, f(x)>/dx, one element at a time.

    x : ndarray, any shape; f(x) -> ndarray (then contracted with the
    upstream gradient ``g`` of the same shape) or a float (``g`` is None).

    order=2: (f(x + e) - f(x - e)) / 2e, error O(e^2); exact for f linear.
    order=4: (8 (f(x + e) - f(x - e)) - (f(x + 2e) - f(x - 2e))) / 12e,
    error O(e^4). Output differences are taken before the dot with ``g``,
    so untouched outputs cancel exactly.
    """
    if order not in (2, 4):
        raise ValueError(f"order must be 2 or 4, not {order}")

    def dot(d):
        return d if g is None else np.sum(g * d)

    num = np.empty_like(x)
    for idx in np.ndindex(x.shape):

        def at(step, idx=idx):
            xs = x.copy()
            xs[idx] += step
            return f(xs)

        d1 = at(eps) - at(-eps)
        if order == 2:
            num[idx] = dot(d1) / (2 * eps)
        else:
            d2 = at(2 * eps) - at(-2 * eps)
            num[idx] = dot(8 * d1 - d2) / (12 * eps)
    return num


def forward1(op, x, args):
    """``op.forward((x,), params, weights)`` of a single-input op, with
    ``args = (params, *weights)``: ``(y, ctx)``."""
    (y,), ctx = op.forward((x,), args[0], tuple(args[1:]))
    return y, ctx


def backward1(op, dy, ctx):
    """``op.backward((dy,), ctx)`` of a single-input op: ``dx``."""
    (dx,) = op.backward((dy,), ctx)
    return dx


def assert_grad_matches_fd(op, x, args, rng, eps, order=2):
    """``op.backward`` against :func:`numerical_grad` of ``op.forward``.

    op : a single-input kernel module (the op contract of
    :mod:`inceptionism.kernels`); args : ``(params, *weights)``; x : float64
    ndarray; the upstream gradient is random (drawn from ``rng`` after the
    forward).
    """
    y, ctx = forward1(op, x, args)
    g = rng.standard_normal(y.shape)
    dx = backward1(op, g, ctx)
    assert dx.shape == x.shape and dx.dtype == np.float64
    num = numerical_grad(lambda xs: forward1(op, xs, args)[0], x, g, eps, order)
    np.testing.assert_allclose(dx, num, **tol(np.float64))


def assert_forward_matches(op, x, args, want):
    """``op.forward((x,), *args)`` keeps x's dtype, has ``op.output_shapes``
    and equals ``want`` (a reference computed another way) within x's
    tolerance. Returns y."""
    y, _ = forward1(op, x, args)
    assert y.dtype == x.dtype
    assert (y.shape,) == op.output_shapes((x.shape,), args[0])
    np.testing.assert_allclose(y, want, **tol(x.dtype))
    return y


def forward_backward(op, x, args, rng):
    """y, the random upstream gradient g (x's dtype) and dx = backward(g)."""
    y, ctx = forward1(op, x, args)
    g = rng.standard_normal(y.shape).astype(x.dtype)
    return y, g, backward1(op, g, ctx)


def torch_forward_backward(torch_fn, x, g):
    """``torch_fn`` on a copy of x, backpropagating g: (y, dx) as NumPy."""
    torch = pytest.importorskip("torch")
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = torch_fn(xt)
    yt.backward(torch.from_numpy(g))
    return yt.detach().numpy(), xt.grad.numpy()


def assert_matches_torch(op, x, args, rng, torch_fn):
    """``op`` forward and backward against ``torch_fn`` (tensor -> tensor)."""
    y, g, dx = forward_backward(op, x, args, rng)
    yt, dxt = torch_forward_backward(torch_fn, x, g)
    np.testing.assert_allclose(y, yt, **tol(x.dtype))
    np.testing.assert_allclose(dx, dxt, **tol(x.dtype))


def assert_numpy_matches_cupy(op, x, args, rng):
    """``op`` on CuPy arrays gives CuPy results of x's dtype equal to NumPy's.

    Array arguments (weights, biases) go to the device too; others (params,
    None) are passed as they are.
    """
    cp = pytest.importorskip("cupy")
    y, g, dx = forward_backward(op, x, args, rng)
    dargs = [cp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    yd, ctxd = forward1(op, cp.asarray(x), dargs)
    dxd = backward1(op, cp.asarray(g), ctxd)
    assert isinstance(yd, cp.ndarray) and isinstance(dxd, cp.ndarray)
    assert yd.dtype == dxd.dtype == x.dtype
    np.testing.assert_allclose(cp.asnumpy(yd), y, **tol(x.dtype))
    np.testing.assert_allclose(cp.asnumpy(dxd), dx, **tol(x.dtype))
