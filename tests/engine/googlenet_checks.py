"""Whole-GoogLeNet comparisons shared by test_net_torch.py and test_net_gpu.py.

"Relative" is normwise per blob: ``max|ours - ref| <= rtol * max|ref|``
(elementwise relative error is meaningless at the zeros ReLU makes).
"""

from __future__ import annotations

import numpy as np

#: Seed targets: pre-/post-ReLU pairs, an inception output, several at once
#: (a blob that feeds another seeded blob included: 3b/5x5_reduce -> 4c).
TARGETS = {
    "conv1-pre-relu": ["conv1/7x7_s2"],
    "conv1-post-relu": ["conv1/relu_7x7"],
    "3b-5x5-reduce-pre-relu": ["inception_3b/5x5_reduce"],
    "3b-5x5-reduce-post-relu": ["inception_3b/relu_5x5_reduce"],
    "4c-output": ["inception_4c/output"],
    "multi": [
        "inception_3b/5x5_reduce",
        "inception_4c/output",
        "inception_4d/relu_3x3",
    ],
}

#: float32 input gradients, measured against the float64 torch gradient of
#: the same float32 data and weights (the exact answer), over 6 random
#: 224x224 images x 3 seed sets: where no decision flips, ours and torch's
#: float32 gradients are within 7e-7 of it. But forward values carry ~1e-6
#: relative rounding, and where two values in a max-pool window are that
#: close, float32 may route the gradient to the other one (float64 and the
#: two float32 builds each pick their own; we counted 2 such swaps, and no
#: ReLU sign flip, behind one 6e-3 difference). The whole gradient through
#: that pool element moves to a neighbour, so the max error jumps to
#: 1e-3..7e-2 (torch float32 itself: up to 6.9e-2; ours: up to 2.1e-2), but
#: only inside that element's receptive field: the 90th percentile of the
#: error stayed <= 3e-4 in every case. So: the bulk of the gradient must
#: match to 1e-3 (a wrong backward anywhere moves it by O(1)), and the worst
#: element only within what a few near-tie swaps can do.
GRAD32_BULK = 1e-3
GRAD32_MAX = 1e-1


def rel_err(a, b) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def assert_blobs_close(got: dict, want: dict, rtol: float) -> None:
    """Every blob of ``got`` (NumPy arrays) within ``rtol`` normwise of ``want``."""
    errs = {k: rel_err(got[k], want[k]) for k in want}
    bad = {k: e for k, e in errs.items() if not e <= rtol}
    assert not bad, f"blobs off by more than {rtol} (relative): {bad}"


def assert_grad32_close(got, want) -> None:
    """A float32 input gradient against the exact one: see :data:`GRAD32_MAX`."""
    err = np.abs(got - want) / np.abs(want).max()
    assert np.quantile(err, 0.9) <= GRAD32_BULK
    assert err.max() <= GRAD32_MAX
