"""Where one DeepDream step's time goes, op type by op type.

    python -m benchmarks.op_profile --size 1024x768 [--device cuda] [--rounds 5]

Wraps every op module's ``forward`` and ``backward`` with a timer (on CUDA
the device is synchronised before each clock read, so each op is charged its
own kernels), runs one step (forward to ``inception_4c/output``, backward of
``1/2 sum a^2`` to the input, seeded synthetic GoogLeNet) ``--rounds`` times,
and prints the best time of each ``op.forward``/``op.backward`` with its
share of the step. The per-op synchronisation costs a little on a GPU: the
sum of the ops is a bit more than an unprofiled step, which is printed too.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from inceptionism.engine import Net
from inceptionism.kernels import OP_MODULES
from inceptionism.weights.synthetic import synthetic_model

END = "inception_4c/output"


def _sync_for(device: str) -> Callable[[], None]:
    if device == "cpu":
        return lambda: None
    import cupy

    return cupy.cuda.Device().synchronize


def instrument(sync: Callable[[], None]) -> dict[str, float]:
    """Wrap every op's forward/backward; returns the dict they add into."""
    acc: dict[str, float] = collections.defaultdict(float)
    for mod_name in OP_MODULES.values():
        mod = importlib.import_module(f"inceptionism.kernels.{mod_name}")
        for fn in ("forward", "backward"):
            orig = getattr(mod, fn)

            def timed(*a: Any, _f: Any = orig, _k: str = f"{mod_name}.{fn}") -> Any:
                sync()
                t = time.perf_counter()
                out = _f(*a)
                sync()
                acc[_k] += time.perf_counter() - t
                return out

            setattr(mod, fn, timed)
    return acc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="1024x768", help="WIDTHxHEIGHT")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args(argv)
    w, h = (int(v) for v in a.size.lower().split("x"))
    sync = _sync_for(a.device)
    net = Net(synthetic_model("bvlc_googlenet", seed=0), device=a.device)
    rgb = np.random.default_rng(0).uniform(0, 255, (h, w, 3)).astype(np.float32)
    x = net.preprocess(rgb)

    def step() -> None:
        act = net.forward(x, end=END)[END]
        net.backward({END: act})
        sync()

    step()  # warm-up: compilation, memory pool
    plain = []
    for _ in range(a.rounds):
        t = time.perf_counter()
        step()
        plain.append(time.perf_counter() - t)
    acc = instrument(sync)
    best: dict[str, float] = {}
    for _ in range(a.rounds):
        acc.clear()
        step()
        for k, v in acc.items():
            best[k] = min(best.get(k, float("inf")), v)
    total = sum(best.values())
    print(f"{w}x{h} on {a.device}: step {min(plain) * 1e3:.1f} ms unprofiled; ops")
    for k, v in sorted(best.items(), key=lambda kv: -kv[1]):
        print(f"  {k:18s} {v * 1e3:9.2f} ms  {100 * v / total:5.1f} %")
    print(f"  {'sum':18s} {total * 1e3:9.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
