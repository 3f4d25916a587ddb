"""Merged sibling convolutions against layers one by one, in one process.

    python -m benchmarks.siblings 1024x768 [ROUNDS]

Two ``Net`` objects on the same seeded synthetic GoogLeNet, one with
``merge_siblings=True`` (an inception module's 1x1 convolutions as one
GEMM) and one with False, alternate step by step (forward to
``inception_4c/output`` and backward to the input, float32, CPU); prints the
best and median wall and CPU time of each (issue 17).
"""

from __future__ import annotations

import sys
import time

END = "inception_4c/output"


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from inceptionism.engine import Net
    from inceptionism.weights.synthetic import synthetic_model

    args = sys.argv[1:] if argv is None else argv
    w, h = (int(v) for v in args[0].lower().split("x"))
    rounds = int(args[1]) if len(args) > 1 else 8
    model = synthetic_model("bvlc_googlenet", seed=0)
    nets = {"merged": Net(model), "separate": Net(model, merge_siblings=False)}
    rgb = np.random.default_rng(0).uniform(0, 255, (h, w, 3)).astype(np.float32)
    x = nets["merged"].preprocess(rgb)

    def step(net):
        net.backward({END: net.forward(x, end=END)[END]})

    times: dict[str, list[tuple[float, float]]] = {k: [] for k in nets}
    for net in nets.values():
        step(net)
    for r in range(rounds):
        for k in list(nets) if r % 2 == 0 else list(nets)[::-1]:
            c, t = time.process_time(), time.perf_counter()
            step(nets[k])
            times[k].append((time.perf_counter() - t, time.process_time() - c))
    for k, v in times.items():
        wall, cpu = sorted(a for a, _ in v), sorted(b for _, b in v)
        print(
            f"{w}x{h} {k}: wall best {wall[0] * 1e3:.0f} median "
            f"{wall[len(wall) // 2] * 1e3:.0f} ms; CPU best {cpu[0] * 1e3:.0f} "
            f"median {cpu[len(cpu) // 2] * 1e3:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
