"""Throughput of a batch (issue 12): pictures per minute three ways.

1. ``loop``: today's one process per picture (``inceptionism dream IN -o OUT``
   in a shell loop: every call imports, loads the weights and builds the net);
2. ``batch``: ``inceptionism dream FOLDER -o OUT`` (one process, one net);
3. ``dask``: the same with ``--scheduler local:N`` (N worker processes, one
   BLAS thread each on this machine's cores).

Also the cost of one weight load (``load_model`` + ``Net``), which batching
pays once instead of per picture. Seeded synthetic GoogLeNet weights (same
shapes and size as the real file) and random pictures::

    python -m benchmarks.batch_throughput --pictures 8 --size 512x384
    python -m benchmarks.batch_throughput --quick   # 4 pictures, 160x120, 1 octave

Prints a Markdown table; the outputs of the three ways are checked to be the
same pictures (with the workers' BLAS thread count on the others too).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def _cli(*argv: object, env: dict[str, str]) -> None:
    cmd = [sys.executable, "-m", "inceptionism.engine", "dream", *map(str, argv)]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> None:
    from inceptionism.engine.batch_dask import blas_env
    from inceptionism.engine.image import load_image
    from inceptionism.engine.net import Net
    from inceptionism.weights import load_model, save_model
    from inceptionism.weights.synthetic import synthetic_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pictures", type=int, default=8)
    p.add_argument("--size", default="512x384", help="WxH")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    w, h = map(int, args.size.split("x"))
    options = ["--seed", "1", "-q"]
    if args.quick:
        args.pictures, w, h = 4, 160, 120
        options += ["--octaves", "1", "--steps", "5"]
    env = {**os.environ, **blas_env(args.workers)}  # the same pixels every way
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        weights = root / "synth.h5"
        save_model(synthetic_model("bvlc_googlenet", seed=0), weights)
        t0 = time.perf_counter()
        Net(load_model(weights))
        load_s = time.perf_counter() - t0
        photos = root / "photos"
        photos.mkdir()
        rng = np.random.default_rng(0)
        for i in range(args.pictures):
            a = rng.integers(0, 256, size=(h, w, 3)).astype(np.uint8)
            Image.fromarray(a).save(photos / f"p{i}.png")
        common = ["--weights", weights, *options]
        seconds = {}
        t0 = time.perf_counter()
        (root / "loop").mkdir()
        for src in sorted(photos.iterdir()):
            _cli(src, "-o", root / "loop" / f"{src.stem}-dream.png", *common, env=env)
        seconds["loop"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _cli(photos, "-o", root / "batch", *common, env=env)
        seconds["batch"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _cli(photos, "-o", root / "dask", "--scheduler", f"local:{args.workers}",
             *common, env=env)  # fmt: skip
        seconds["dask"] = time.perf_counter() - t0
        for name in sorted(os.listdir(root / "loop")):
            ref = load_image(root / "loop" / name)
            for way in ("batch", "dask"):
                assert np.array_equal(ref, load_image(root / way / name)), (way, name)
    print(f"{args.pictures} pictures of {w}x{h}, {os.cpu_count()} cores, "
          f"weights load + Net: {load_s:.2f} s\n")  # fmt: skip
    print("| way | seconds | pictures/min | vs loop |\n| --- | ---: | ---: | ---: |")
    for way, s in seconds.items():
        rate = 60 * args.pictures / s
        print(f"| {way} | {s:.1f} | {rate:.1f} | {seconds['loop'] / s:.2f}x |")


if __name__ == "__main__":
    main()
