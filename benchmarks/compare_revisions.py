"""One DeepDream step of two revisions of this repository and of PyTorch,
interleaved in one run: is a refactor free?

    git worktree add /tmp/old <rev>
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python -m benchmarks.compare_revisions /tmp/old . --size 1024x768 --rounds 8

Each contender is a long-lived worker process (``old``, ``new``: our
``Net`` from that checkout; ``torch``: ``tests/torch_net.TorchNet`` of the
new checkout, Caffe's LRN as torch eager writes it), so imports and the first
call's allocations are outside the timing. One round times one step
(forward to ``inception_4c/output`` and backward to the input, seeded
synthetic GoogLeNet weights) in each worker, the order rotating per round;
the report is the best wall and CPU time of each and the ratios. The
checkouts are imported through a throwaway ``inceptionism`` package of
symlinks, so neither needs installing. Wall time on a shared machine is
noisy: compare ratios from one run, and repeat.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

WORKER = r"""
import os, sys, time
import numpy as np
impl, h, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
END = "inception_4c/output"
from inceptionism.engine import Net
from inceptionism.weights.synthetic import synthetic_model
model = synthetic_model("bvlc_googlenet", seed=0)
rgb = np.random.default_rng(0).uniform(0, 255, (h, w, 3)).astype(np.float32)
x = Net(model, dtype=np.float32).preprocess(rgb)
if impl == "torch":
    import torch
    from tests.torch_net import TorchNet
    torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count() or 1)))
    tnet = TorchNet(model.graph, model.params, dtype=torch.float32)
    xt = torch.from_numpy(x)
    def step():
        xx = xt.detach().requires_grad_(True)
        a = tnet(xx, end=[END])[END]
        (0.5 * (a * a).sum()).backward()
else:
    net = Net(model, dtype=np.float32)
    def step():
        a = net.forward(x, end=END)[END]
        net.backward({END: a})
step()
import inceptionism.kernels as k
print("ready", k.__file__, flush=True)
for line in sys.stdin:
    t, c = time.perf_counter(), time.process_time()
    step()
    print(time.perf_counter() - t, time.process_time() - c, flush=True)
"""


def _package(checkout: Path, into: Path) -> Path:
    """``into/inceptionism`` -> the checkout's four folders; returns ``into``."""
    pkg = into / "inceptionism"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for name in ("engine", "kernels", "plugins", "weights"):
        (pkg / name).symlink_to(checkout.resolve() / name)
    return into


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", type=Path, help="checkout of the old revision")
    ap.add_argument("new", type=Path, help="checkout of the new revision")
    ap.add_argument("--size", default="1024x768", help="WIDTHxHEIGHT")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="0: the default")
    a = ap.parse_args(argv)
    w, h = (int(v) for v in a.size.lower().split("x"))
    env = dict(os.environ)
    if a.threads:
        env.update(
            THREADS=str(a.threads),
            OMP_NUM_THREADS=str(a.threads),
            OPENBLAS_NUM_THREADS=str(a.threads),
        )
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "worker.py"
        script.write_text(WORKER)
        roots = {
            k: _package(c, Path(tmp) / k) for k, c in (("old", a.old), ("new", a.new))
        }
        jobs = {"old": "old", "new": "new", "torch": "new"}
        procs = {}
        for name, src in jobs.items():
            checkout = a.old if src == "old" else a.new
            p = subprocess.Popen(
                [sys.executable, str(script), "torch" if name == "torch" else "ours",
                 str(h), str(w)],
                cwd=checkout,
                env=dict(env, PYTHONPATH=f"{roots[src]}{os.pathsep}{checkout}"),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            ready = p.stdout.readline().split()
            assert ready[:1] == ["ready"], ready
            print(f"{name}: kernels from {ready[1]}", file=sys.stderr)
            procs[name] = p
        wall: dict[str, list[float]] = {k: [] for k in procs}
        cpu: dict[str, list[float]] = {k: [] for k in procs}
        keys = list(procs)
        for r in range(a.rounds):
            for k in keys[r % 3 :] + keys[: r % 3]:
                procs[k].stdin.write("go\n")
                procs[k].stdin.flush()
                t, c = map(float, procs[k].stdout.readline().split())
                wall[k].append(t)
                cpu[k].append(c)
        for p in procs.values():
            p.stdin.close()
            p.wait()
    for label, times in (("wall", wall), ("cpu", cpu)):
        b = {k: min(v) for k, v in times.items()}
        print(
            f"{w}x{h} {label} best of {a.rounds} (ms): old {b['old'] * 1e3:.1f} "
            f"new {b['new'] * 1e3:.1f} torch {b['torch'] * 1e3:.1f} | old/torch "
            f"{b['old'] / b['torch']:.3f} new/torch {b['new'] / b['torch']:.3f} "
            f"new/old {b['new'] / b['old']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
