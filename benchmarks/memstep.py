"""Peak memory of DeepDream steps, in a fresh process (VmHWM / ru_maxrss).

    python -m benchmarks.memstep ours|torch H W END [STEPS]

Prints one JSON line: ``base_mib`` (peak RSS after imports, weights and the
net are built, before any step), ``peak_mib`` (after the steps) and
``step_mib`` (their difference: what the steps themselves add). Run in its
own process because the peak RSS is a high-water mark for the whole process.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path


def _mib() -> float:
    """Peak RSS of this process in MiB. Linux's ru_maxrss survives fork and
    exec (a child of a 2 GB pytest starts at 2 GB), so read the address
    space's own high-water mark, VmHWM, where there is one."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv=None) -> int:
    impl, h, w, end, *rest = argv if argv is not None else sys.argv[1:]
    steps = int(rest[0]) if rest else 2
    h, w = int(h), int(w)
    import numpy as np

    from inceptionism.weights.synthetic import synthetic_model

    model = synthetic_model("bvlc_googlenet", seed=0)
    x = (np.random.default_rng(0).standard_normal((1, 3, h, w)) * 40).astype(np.float32)
    if impl == "ours":
        from inceptionism.engine import Net

        net = Net(model)

        def step():
            a = net.forward(x, end=end)[end]
            return net.backward({end: a})
    elif impl == "torch":
        import torch

        from tests.torch_net import TorchNet

        torch.set_num_threads(os.cpu_count() or 1)
        tnet = TorchNet(model.graph, model.params)
        xt = torch.from_numpy(x)

        def step():
            xx = xt.detach().requires_grad_(True)
            a = tnet(xx, end=[end])[end]
            (0.5 * (a * a).sum()).backward()
            return xx.grad
    else:
        raise SystemExit(f"impl must be ours or torch, got {impl!r}")
    base = _mib()
    for _ in range(steps):
        step()
    peak = _mib()
    print(json.dumps({"base_mib": base, "peak_mib": peak, "step_mib": peak - base}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
