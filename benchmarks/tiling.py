"""Tiling against untiled: time of one DeepDream step, and the seams.

    python -m benchmarks.tiling H W END TILE [REPEAT] [HALO] [SEAM_STEPS]

Runs in this process: one untiled step and one step in TILE-pixel tiles of
an H x W picture, best of REPEAT (default 2), on the seeded synthetic
GoogLeNet (CPU, float32). HALO is ``--tile-halo``'s value (default exact);
an approximate halo cuts tiles that move every step
(:class:`~inceptionism.engine.tiling_budget.Shifting`), drawn afresh for
each repeat. Prints one JSON line: the times, their ratio, the tile count,
the crops' total area against the picture's (the work tiling repeats) and
the gradient's relative L2 error. With SEAM_STEPS > 0 it also runs that
many jittered steps (32 px, at the same picture) and reports the seam
measure of ``tests/engine/seams.py`` (the worst row/column of the steps'
accumulated normalised gradient error) for tiles that stay put and tiles
that move. Peak memory: ``benchmarks/tiling_peak.py``.
"""

from __future__ import annotations

import json
import sys
import time


def _area(tiles) -> int:
    return sum((y1 - y0) * (x1 - x0) for (y0, y1), (x0, x1) in (t.crop for t in tiles))


def main(argv=None) -> int:
    h, w, end, tile, *rest = argv if argv is not None else sys.argv[1:]
    h, w, tile = int(h), int(w), int(tile)
    repeat = int(rest[0]) if rest else 2
    halo_arg = rest[1] if len(rest) > 1 else "exact"
    seam_steps = int(rest[2]) if len(rest) > 2 else 0
    import numpy as np

    from inceptionism.engine import Net, tiling
    from inceptionism.engine.tiling_budget import Shifting, Tiling, parse_halo
    from inceptionism.plugins import get_plugin_manager
    from inceptionism.plugins.spec import parse_objective
    from inceptionism.weights.synthetic import synthetic_model
    from tests.engine.seams import normalised_error, seam

    net = Net(synthetic_model("bvlc_googlenet", seed=0))
    obj = parse_objective(f"deepdream:{end}", get_plugin_manager())
    x = (np.random.default_rng(0).standard_normal((1, 3, h, w)) * 40).astype(np.float32)
    halo = Tiling(halo=parse_halo(halo_arg)).halo_px(net, [end])
    rng = np.random.default_rng(1)
    if halo is None:
        fixed = [t for t in tiling.plan(net.graph, (h, w), [end], tile) if not t.empty]
        draw = lambda: fixed  # noqa: E731
    else:
        plan = Shifting(net.graph, (h, w), [end], tile, halo)
        fixed = plan.tiles((0, 0))
        draw = lambda: plan.draw(rng)  # noqa: E731

    def untiled(x=x):
        blobs = net.forward(x, end=end)
        return net.backward(obj(blobs)[1])

    areas, counts = [], []

    def tiled(x=x, tiles=None):
        if tiles is None:  # a timed step: count what it cut
            tiles = draw()
            counts.append(len(tiles))
            areas.append(_area(tiles))
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
    result = {
        "size": f"{w}x{h}", "end": end, "tile": tile, "halo": halo_arg,
        "halo_px": halo, "tiles": round(float(np.mean(counts)), 1),
        "untiled_s": round(times["untiled"], 3), "tiled_s": round(times["tiled"], 3),
        "ratio": round(times["tiled"] / times["untiled"], 3),
        "crop_area_ratio": round(float(np.mean(areas)) / (h * w), 3),
        "rel_l2_diff": float(np.linalg.norm(g2 - g) / np.linalg.norm(g)),
    }  # fmt: skip
    if seam_steps:
        errors: dict = {"fixed": [], "moving": []}
        for _ in range(seam_steps):
            oy, ox = (int(v) for v in rng.integers(-32, 33, 2))
            xr = np.roll(x, (oy, ox), (-2, -1))
            gr = untiled(xr)
            for kind, tiles in (("fixed", fixed), ("moving", draw())):
                e = normalised_error(tiled(xr, tiles), gr)
                errors[kind].append(np.roll(e, (-oy, -ox), (-2, -1)))
        result["seam_fixed"] = round(seam(errors["fixed"]), 4)
        result["seam_moving"] = round(seam(errors["moving"]), 4)
        result["seam_one_step"] = round(seam(errors["fixed"][:1]), 4)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
