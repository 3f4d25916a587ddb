"""Float32 error of Winograd F(2x2,3x3) and F(4x4,3x3) against direct conv.

    python -m benchmarks.winograd_error

Plain einsum implementations (no speed intended) of both transforms and of
the direct 3x3 convolution, checked exact in float64, then run in float32 at
GoogLeNet widths with weights ~ 1/sqrt(fan-in); prints the max and mean
error relative to the largest output. Decided kernels/_winograd.py's F(2x2):
F(4x4) errs ~10x more than the direct GEMM (measured 5-6e-6 vs 3-5e-7).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view as swv


def wino(x, w, m, dt):
    """F(m x m, 3x3) of x (C, H, W) with w (O, C, 3, 3), padding 1, in dt."""
    if m == 2:
        BT = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        AT = [[1, 1, 1, 0], [0, 1, -1, -1]]
    else:
        BT = [
            [4, 0, -5, 0, 1, 0],
            [0, -4, -4, 1, 1, 0],
            [0, 4, -4, -1, 1, 0],
            [0, -2, -1, 2, 1, 0],
            [0, 2, -1, -2, 1, 0],
            [0, 4, 0, -5, 0, 1],
        ]
        G = [
            [1 / 4, 0, 0],
            [-1 / 6, -1 / 6, -1 / 6],
            [-1 / 6, 1 / 6, -1 / 6],
            [1 / 24, 1 / 12, 1 / 6],
            [1 / 24, -1 / 12, 1 / 6],
            [0, 0, 1],
        ]
        AT = [
            [1, 1, 1, 1, 1, 0],
            [0, 1, -1, 2, -2, 0],
            [0, 1, 1, 4, 4, 0],
            [0, 1, -1, 8, -8, 1],
        ]
    BT, G, AT = (np.array(a, dtype=dt) for a in (BT, G, AT))
    c, h, wd = x.shape
    a = m + 2
    th, tw = -(-h // m), -(-wd // m)
    xp = np.zeros((c, th * m + 2, tw * m + 2), dt)
    xp[:, 1 : 1 + h, 1 : 1 + wd] = x
    d = swv(xp, (a, a), axis=(1, 2))[:, ::m, ::m]  # c,th,tw,a,a
    V = np.einsum("ik,ctukl,jl->ijctu", BT, d, BT, optimize=True)
    U = np.einsum("ik,ockl,jl->ijoc", G, w.astype(dt), G, optimize=True)
    M = np.matmul(U.reshape(a * a, *U.shape[2:]), V.reshape(a * a, c, -1)).reshape(
        a, a, -1, th, tw
    )
    Y = np.einsum("ik,klotu,jl->otiuj", AT, M, AT, optimize=True).reshape(
        -1, th * m, tw * m
    )
    return Y[:, :h, :wd]


def direct(x, w, dt):
    """The 3x3 cross-correlation, padding 1, one einsum in dt."""
    c, h, wd = x.shape
    xp = np.zeros((c, h + 2, wd + 2), dt)
    xp[:, 1:-1, 1:-1] = x
    cols = swv(xp, (3, 3), axis=(1, 2))  # c,h,w,3,3
    return np.einsum("ockl,chwkl->ohw", w.astype(dt), cols.astype(dt), optimize=True)


def main() -> None:
    rng = np.random.default_rng(0)
    for c, h, wd, o in [(96, 28, 28, 128), (480, 14, 14, 208), (64, 56, 56, 192)]:
        x = rng.standard_normal((c, h, wd))
        w = rng.standard_normal((o, c, 3, 3)) / np.sqrt(9 * c)
        ex = direct(x, w, np.float64)
        sc = np.abs(ex).max()
        assert (
            np.abs(wino(x, w, 2, np.float64) - ex).max() < 1e-10
            and np.abs(wino(x, w, 4, np.float64) - ex).max() < 1e-10
        )
        x32 = x.astype(np.float32)
        cells = [f"C={c} {h}x{wd} O={o}: float32 max/mean error"]
        for name, y in (
            ("direct", direct(x32, w, np.float32)),
            ("F(2x2)", wino(x32, w, 2, np.float32)),
            ("F(4x4)", wino(x32, w, 4, np.float32)),
        ):
            err = np.abs(y - ex) / sc
            cells.append(f"{name} {err.max():.1e}/{err.mean():.1e}")
        print("  ".join(cells))


if __name__ == "__main__":
    main()
