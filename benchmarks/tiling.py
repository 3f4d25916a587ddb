"""Exact tiling against untiled: time of one DeepDream step, and peak memory.

    python -m benchmarks.tiling H W END TILE [REPEAT]

Runs in this process: one untiled step and one step in TILE-pixel tiles
(exact halo) of an H x W picture, best of REPEAT (default 2), on the seeded
synthetic GoogLeNet (CPU, float32), and checks they agree. Prints one JSON
line: the times, their ratio, the tile count and the crops' total area
against the picture's (the work tiling repeats). Peak memory: see
``benchmarks/memstep.py`` and ``tests/engine/test_tiling.py``'s budget test.
"""

from __future__ import annotations

import json
import sys
import time


def main(argv=None) -> int:
    h, w, end, tile, *rest = argv if argv is not None else sys.argv[1:]
    h, w, tile, repeat = int(h), int(w), int(tile), int(rest[0]) if rest else 2
    import numpy as np

    from inceptionism.engine import Net, tiling
    from inceptionism.plugins import get_plugin_manager
    from inceptionism.plugins.spec import parse_objective
    from inceptionism.weights.synthetic import synthetic_model

    net = Net(synthetic_model("bvlc_googlenet", seed=0))
    obj = parse_objective(f"deepdream:{end}", get_plugin_manager())
    x = (np.random.default_rng(0).standard_normal((1, 3, h, w)) * 40).astype(np.float32)
    tiles = [t for t in tiling.plan(net.graph, (h, w), [end], tile) if not t.empty]

    def untiled():
        blobs = net.forward(x, end=end)
        return net.backward(obj(blobs)[1])

    def tiled():
        return tiling.tiled_gradient(net, x, obj, tiles)[1]

    times, grads = {}, {}
    for name, fn in (("untiled", untiled), ("tiled", tiled)):
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            grads[name] = fn()
            best = min(best, time.perf_counter() - t0)
        times[name] = best
    g, g2 = grads["untiled"], grads["tiled"]
    area = sum(
        (c[0][1] - c[0][0]) * (c[1][1] - c[1][0]) for c in (t.crop for t in tiles)
    )
    print(json.dumps({
        "size": f"{w}x{h}", "end": end, "tile": tile, "tiles": len(tiles),
        "untiled_s": round(times["untiled"], 3), "tiled_s": round(times["tiled"], 3),
        "ratio": round(times["tiled"] / times["untiled"], 3),
        "crop_area_ratio": round(area / (h * w), 3),
        "rel_l2_diff": float(np.linalg.norm(g2 - g) / np.linalg.norm(g)),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
