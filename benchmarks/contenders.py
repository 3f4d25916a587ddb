"""The DeepDream step against every PyTorch we know how to write, interleaved.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 \\
        python -m benchmarks.contenders --label real-blas --rounds 6 \\
        [--baseline /tmp/main] [--compile 224x224,1024x768]
    python -m benchmarks.contenders --report   # results/contenders-*.json -> .md

One step = forward to ``inception_4c/output`` + backward of ``1/2 sum a^2``
to the input (seeded synthetic GoogLeNet, float32). Contenders, each a
long-lived worker process (imports and first-call allocations untimed):

- ``ours``: this checkout's ``Net``; ``ours@base``: another checkout's
  (``--baseline``, e.g. ``git worktree add /tmp/main main``);
- ``torch eager``: ``tests/torch_net.TorchNet``, LRN from
  ``F.local_response_norm`` (autograd through avg_pool3d);
- ``torch analytic-LRN``: ``TorchNet(lrn="analytic")``, Caffe's LRN as an
  ``autograd.Function`` with its closed-form backward (the strongest eager
  PyTorch we know); ``torch analytic-LRN CL``: the same in channels_last;
- ``torch.compile`` (``--compile SIZES``): inductor over the eager net (compile
  time excluded);
- ``gemm``: a 2048^3 ``numpy.matmul``, the GEMM peak of this run.

One round times one call of every worker, the order rotating per round, so
that a shared, loaded machine slows all of them alike; the report is the best
round of each and ratios to ours. Input gradients of ours and of each torch
are compared (the whole-net float32 criterion of test_step.py) after timing.
Each worker records the BLAS threadpoolctl reports and the OPENBLAS_*
variables it ran with; the load average is recorded before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.compare_revisions import _package

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
END = "inception_4c/output"
SIZES = {"224x224": (224, 224), "512x512": (512, 512), "1024x768": (768, 1024)}

WORKER = r"""
import json, os, sys, time
import numpy as np
impl, h, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
END = "inception_4c/output"
threads = int(os.environ.get("THREADS", "2"))
if impl == "gemm":
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2048, 2048), dtype=np.float32)
    b = rng.standard_normal((2048, 2048), dtype=np.float32)
    out = np.empty_like(a)
    def step():
        np.matmul(a, b, out=out)
        return None
else:
    from inceptionism.engine import Net
    from inceptionism.weights.synthetic import synthetic_model
    model = synthetic_model("bvlc_googlenet", seed=0)
    rgb = np.random.default_rng(0).uniform(0, 255, (h, w, 3)).astype(np.float32)
    x = Net(model, dtype=np.float32).preprocess(rgb)
if impl.startswith("torch"):
    import warnings
    import torch
    from tests.torch_net import TorchNet
    torch.set_num_threads(threads)
    lrn = "analytic" if "analytic" in impl else "autograd"
    tnet = TorchNet(model.graph, model.params, dtype=torch.float32, lrn=lrn)
    xt = torch.from_numpy(x)
    cl = impl.endswith("-cl")
    if cl:
        for d in tnet.w.values():
            if d["weight"].ndim == 4:
                d["weight"] = d["weight"].contiguous(memory_format=torch.channels_last)
        xt = xt.contiguous(memory_format=torch.channels_last)
    fwd = lambda v: tnet(v, end=[END])[END]
    if impl == "torch-compile":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fwd = torch.compile(fwd)
    def step():
        xx = xt.detach().requires_grad_(True)
        a = fwd(xx)
        (0.5 * (a * a).sum()).backward()
        return xx.grad.contiguous().numpy()
elif impl == "ours":
    net = Net(model, dtype=np.float32)
    def step():
        a = net.forward(x, end=END)[END]
        return net.backward({END: a})
t0 = time.perf_counter()
step()
warm = time.perf_counter() - t0
from threadpoolctl import threadpool_info
blas = [
    {k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                           "threading_layer", "filepath")}
    for d in threadpool_info()
]
info = {"blas": blas, "first_call_s": warm,
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("OPENBLAS", "OMP_", "MKL_"))}}
if impl.startswith("torch"):
    info["torch_threads"] = torch.get_num_threads()
    info["torch_config"] = torch.__config__.parallel_info().splitlines()[:8]
print("ready", json.dumps(info), flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "dx":
        np.save(cmd[1], step())
        print("saved", flush=True)
        continue
    t, c = time.perf_counter(), time.process_time()
    step()
    print(time.perf_counter() - t, time.process_time() - c, flush=True)
"""


def _start(script, impl, hw, checkout, root, env):
    p = subprocess.Popen(
        [sys.executable, str(script), impl, str(hw[0]), str(hw[1])],
        cwd=ROOT, env=dict(env, PYTHONPATH=f"{root}{os.pathsep}{ROOT}"),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    ready = p.stdout.readline()
    if not ready.startswith("ready "):
        raise RuntimeError(f"worker {impl} ({checkout}) failed to start: {ready!r}")
    return p, json.loads(ready[6:])


def _ask(p, line: str) -> str:
    p.stdin.write(line + "\n")
    p.stdin.flush()
    return p.stdout.readline()


def run_size(size, a, env, tmp: Path) -> dict:
    from benchmarks.flops import step_flops
    from inceptionism.weights.synthetic import synthetic_model

    hw = SIZES[size]
    script = tmp / "worker.py"
    script.write_text(WORKER)
    here = _package(ROOT, tmp / f"new-{size}")
    jobs = {"ours": ("ours", ROOT, here)}
    if a.baseline:
        base = _package(a.baseline, tmp / f"base-{size}")
        jobs["ours@base"] = ("ours", a.baseline, base)
    jobs["torch eager"] = ("torch", ROOT, here)
    jobs["torch analytic-LRN"] = ("torch-analytic", ROOT, here)
    jobs["torch analytic-LRN CL"] = ("torch-analytic-cl", ROOT, here)
    if size in a.compile.split(","):
        jobs["torch.compile"] = ("torch-compile", ROOT, here)
    jobs["gemm"] = ("gemm", ROOT, here)
    procs, info = {}, {}
    for name, (impl, checkout, root) in jobs.items():
        procs[name], info[name] = _start(script, impl, hw, checkout, root, env)
        print(f"  {size} {name}: ready", file=sys.stderr, flush=True)
    times: dict[str, list[list[float]]] = {k: [] for k in procs}
    keys = list(procs)
    for r in range(a.rounds):
        for k in keys[r % len(keys) :] + keys[: r % len(keys)]:
            times[k].append([float(v) for v in _ask(procs[k], "go").split()])
    # gradients, after timing: each torch against ours
    checks = {}
    grads = {}
    for k in procs:
        if k != "gemm":
            path = tmp / f"dx-{size}-{k.replace(' ', '_')}.npy"
            assert _ask(procs[k], f"dx {path}").startswith("saved")
            grads[k] = path
    import numpy as np

    from tests.engine.googlenet_checks import GRAD32_BULK, GRAD32_MAX

    ref = np.load(grads["ours"])
    for k, path in grads.items():
        err = np.abs(np.load(path) - ref) / np.abs(ref).max()
        q90, mx = float(np.quantile(err, 0.9)), float(err.max())
        checks[k] = {"q90": q90, "max": mx,
                     "ok": q90 <= GRAD32_BULK and mx <= 2 * GRAD32_MAX}  # fmt: skip
    for p in procs.values():
        p.stdin.close()
        p.wait()
    model = synthetic_model("bvlc_googlenet", seed=0)
    return {
        "size": size,
        "flops": step_flops(model.graph, hw, END),
        "gemm_flops": 2 * 2048**3,
        "times": times,
        "info": info,
        "grad_check": checks,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--label", default="default", help="results/contenders-LABEL")
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--baseline", type=Path, default=None)
    ap.add_argument(
        "--compile", default="", help="sizes with torch.compile (e.g. 224x224)"
    )
    ap.add_argument("--report", action="store_true", help="only write the .md")
    a = ap.parse_args(argv)
    out = HERE / "results"
    if not a.report:
        t = str(a.threads)
        env = dict(os.environ, THREADS=t, OMP_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t)
        run = {
            "label": a.label,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "threads": a.threads,
            "openblas_env": {k: os.environ.get(k) for k in
                             ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
            "loadavg_before": os.getloadavg(),
            "cpu_count": os.cpu_count(),
            "sizes": [],
        }  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            for size in a.sizes.split(","):
                run["sizes"].append(run_size(size, a, env, Path(tmp)))
        run["loadavg_after"] = os.getloadavg()
        (out / f"contenders-{a.label}.json").write_text(json.dumps(run, indent=1))
    md = report(sorted(out.glob("contenders-*.json")))
    (out / "contenders.md").write_text(md)
    print(md)
    return 0


def _fmt(s: float) -> str:
    return f"{s * 1e3:,.0f}" if s >= 0.1 else f"{s * 1e3:,.1f}"


def report(paths) -> str:
    lines = [
        "# The step against every PyTorch (interleaved, best round)",
        "",
        "Written by `python -m benchmarks.contenders` (raw rounds in the",
        "`contenders-*.json` beside this file). One step: forward to",
        "`inception_4c/output` + backward to the input, float32. Ratios are",
        "ours / contender (< 1: ours faster); GFLOP/s counts GEMM work only",
        "(benchmarks/flops.py) over our best time; % peak is that over the",
        "2048^3 numpy sgemm measured interleaved in the same run. The machine",
        "was shared with other jobs (load average recorded), so times are",
        "inflated and only the ratios of one run are meaningful. CPU time",
        "(process time of the worker, all its threads) is less exposed to",
        "waiting for a core but counts BLAS/OpenMP threads spinning.",
        "",
    ]
    for path in paths:
        run = json.loads(Path(path).read_text())
        env = run["openblas_env"]
        first = run["sizes"][0]["info"]
        blas = first["ours"]["blas"][0]
        lines += [
            f"## {run['label']} ({run['when']})",
            "",
            f"- OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']!s}, "
            f"OPENBLAS_L2_SIZE={env['OPENBLAS_L2_SIZE']!s} (None: unset); "
            f"{run['threads']} threads on {run['cpu_count']} logical CPUs",
            f"- numpy BLAS (threadpoolctl): {blas['internal_api']} "
            f"{blas['version']}, kernel **{blas['architecture']}**, "
            f"{blas['num_threads']} threads",
            f"- torch: {first['torch eager'].get('torch_config', [''])[-1].strip()}",
            f"- load average before/after: {run['loadavg_before'][0]:.1f} / "
            f"{run['loadavg_after'][0]:.1f}",
            "",
        ]
        for sz in run["sizes"]:
            best = {k: min(t[0] for t in v) for k, v in sz["times"].items()}
            cpu = {k: min(t[1] for t in v) for k, v in sz["times"].items()}
            rounds = len(sz["times"]["ours"])
            peak = sz["gemm_flops"] / best.pop("gemm") / 1e9
            ours = best["ours"]
            rate = sz["flops"] / ours / 1e9
            lines += [
                f"### {sz['size']}: ours {rate:.1f} GFLOP/s = "
                f"{100 * rate / peak:.0f}% of the {peak:.0f} GFLOP/s sgemm "
                f"(best of {rounds} rounds)",
                "",
                "| contender | best wall (ms) | ours / it | best CPU (ms) | "
                "ours / it (CPU) | grad check (q90, max) |",
                "| --- | ---: | ---: | ---: | ---: | --- |",
            ]
            for k, s in best.items():
                c = sz["grad_check"].get(k, {})
                ok = "ok" if c.get("ok") else "FAIL"
                lines.append(
                    f"| {k} | {_fmt(s)} | **{ours / s:.2f}** | {_fmt(cpu[k])} | "
                    f"{cpu['ours'] / cpu[k]:.2f} | "
                    f"{ok} ({c.get('q90', 0):.1e}, {c.get('max', 0):.1e}) |"
                )
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
