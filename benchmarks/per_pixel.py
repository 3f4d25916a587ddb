"""Seconds per megapixel of one DeepDream step, untiled or in tiles.

    python -m benchmarks.per_pixel 1024x768 2048x1536 4000x3000:1024 ...

Each argument is WIDTHxHEIGHT, optionally ``:TILE`` for a tiled step with
the exact halo (:func:`inceptionism.engine.tiling.tiled_gradient` over
:func:`~inceptionism.engine.tiling.plan`'s tiles). One step = forward to
``inception_4c/output`` and backward of ``deepdream`` (seeded synthetic
GoogLeNet, CPU, float32), best of 2 after a warm-up. Prints one JSON line
per argument: does tiling keep the kernels' per-pixel speed (issue 17)?
"""

from __future__ import annotations

import json
import sys
import time

END = "inception_4c/output"


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from inceptionism.engine import Net, tiling
    from inceptionism.plugins import get_plugin_manager
    from inceptionism.plugins.spec import parse_objective
    from inceptionism.weights.synthetic import synthetic_model

    net = Net(synthetic_model("bvlc_googlenet", seed=0))
    obj = parse_objective(f"deepdream:{END}", get_plugin_manager())
    for arg in sys.argv[1:] if argv is None else argv:
        size, _, tile = arg.partition(":")
        w, h = (int(v) for v in size.lower().split("x"))
        x = (np.random.default_rng(0).standard_normal((1, 3, h, w)) * 40).astype(
            np.float32
        )
        if tile:
            plan = tiling.plan(net.graph, (h, w), [END], int(tile))
            tiles = [t for t in plan if not t.empty]

            def step(x=x, tiles=tiles):
                return tiling.tiled_gradient(net, x, obj, tiles)
        else:

            def step(x=x):
                return net.backward(obj(net.forward(x, end=END))[1])

        step()
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            step()
            best = min(best, time.perf_counter() - t)
        row = {"size": size, "tile": int(tile) if tile else None, "s": round(best, 2)}
        row["s_per_mp"] = round(best / (w * h / 1e6), 2)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
