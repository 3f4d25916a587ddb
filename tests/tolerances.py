"""The one table of test tolerances, keyed by dtype."""

from __future__ import annotations

import numpy as np

#: Tolerances keyed by dtype: (rtol, atol). The only place they live.
TOL = {
    np.dtype(np.float32): (1e-4, 1e-5),
    np.dtype(np.float64): (1e-9, 1e-12),
}


def tol(dtype):
    rtol, atol = TOL[np.dtype(dtype)]
    return {"rtol": rtol, "atol": atol}
