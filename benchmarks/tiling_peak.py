"""Peak memory and time of a whole tiled dream, in a fresh process.

    python -m benchmarks.tiling_peak H W MEMORY [OCTAVES] [STEPS] [HALO] [DEVICE]

Dreams a seeded random H x W picture with the dream loop itself
(:func:`inceptionism.engine.dream.dream`: octave pyramid, jitter, clip,
``deepdream:inception_4c/output``) on the synthetic GoogLeNet (CPU,
float32) with ``tiling=Tiling(memory=MEMORY, halo=HALO)`` (the CLI's
``--memory MEMORY --tile-halo HALO``; defaults 4 octaves, 1 step, the
default halo). Prints one JSON line: the tile size the budget chose, the
tiles of the full-size octave, wall time, and the process's peak RSS
(VmHWM, MiB) before and after dreaming. Run it in its own process: the
peak is a high-water mark of the whole process. With DEVICE ``cuda`` the
budget is device memory and ``device_peak_mib`` is what CuPy's memory pool
held at the end (it keeps every block it ever reserved, so that is its
high-water mark); HALO ``-`` keeps the default.
"""

from __future__ import annotations

import json
import sys
import time

from benchmarks.memstep import _mib


def main(argv=None) -> int:
    h, w, memory, *rest = argv if argv is not None else sys.argv[1:]
    octaves = int(rest[0]) if rest else 4
    steps = int(rest[1]) if len(rest) > 1 else 1
    import numpy as np

    from inceptionism.engine import Net
    from inceptionism.engine.dream import DEFAULT_OBJECTIVE, dream
    from inceptionism.engine.tiling_budget import Tiling, parse_halo, parse_memory
    from inceptionism.weights.synthetic import synthetic_model

    halo = parse_halo(rest[2]) if len(rest) > 2 and rest[2] != "-" else Tiling().halo
    device = rest[3] if len(rest) > 3 else "cpu"
    tiling = Tiling(memory=parse_memory(memory), halo=halo)
    net = Net(synthetic_model("bvlc_googlenet", seed=0), device=device)
    rgb = np.random.default_rng(0).uniform(0, 255, (int(h), int(w), 3))
    rgb = rgb.astype(np.float32)
    tiles: dict = {}

    class Count:  # the full-size octave's tile count, from the loop's hook
        from inceptionism.plugins import hookimpl

        @hookimpl
        def inceptionism_tile_end(self, net, state):
            tiles[state.octave] = state.n_tiles

    base = _mib()
    t0 = time.perf_counter()
    out = dream(
        net, rgb, DEFAULT_OBJECTIVE, octaves=octaves, steps=steps, seed=0,
        tiling=tiling, observers=[Count()],
    )  # fmt: skip
    wall = time.perf_counter() - t0
    assert np.isfinite(out).all()
    extra = {}
    if device == "cuda":
        import cupy

        held = cupy.get_default_memory_pool().total_bytes()
        extra = {"device": cupy.cuda.runtime.getDeviceProperties(0)["name"].decode(),
                 "device_peak_mib": round(held / 2**20)}  # fmt: skip
    print(json.dumps({
        "size": f"{w}x{h}", "memory": memory, "halo": str(halo), **extra,
        "octaves": octaves, "steps": steps,
        "full_octave_tiles": tiles.get(max(tiles), 1) if tiles else 1,
        "wall_s": round(wall, 1), "base_mib": round(base),
        "peak_mib": round(_mib()), "budget_mib": round(tiling.memory / 2**20),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
