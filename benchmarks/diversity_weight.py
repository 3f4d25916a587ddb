"""How much diverse channel renders differ for several diversity weights W
(issue 15: the default of ``atlas --channels LAYER --diverse N``).

For each W: N=3 pictures of a channel dreamed together with
``channel:L:K+W*diversity:L`` from the seeded noise; prints the mean
pairwise absolute pixel difference (0..255) between the N pictures, the
ratio to W=0, and the channel's mean activation on the pictures (relative
to W=0: how much of the channel objective diversity costs).

    python benchmarks/diversity_weight.py [LAYER] [SIZE]
"""

from __future__ import annotations

import itertools
import sys
import time

import numpy as np

from inceptionism.engine import atlas_diverse as ad
from inceptionism.engine.dream import DreamConfig
from inceptionism.engine.net import Net
from inceptionism.weights.synthetic import synthetic_model


def spread(images: list[np.ndarray]) -> float:
    pairs = itertools.combinations(images, 2)
    return float(np.mean([np.abs(a - b).mean() for a, b in pairs]))


def activation(net: Net, images: list[np.ndarray], layer: str, k: int) -> float:
    return float(
        np.mean([net.forward(net.preprocess(im), end=layer)[layer][0, k].mean()
                 for im in images])
    )  # fmt: skip


def similarity(net: Net, images: list[np.ndarray], layer: str) -> float:
    """lucid's diversity: mean Gram cosine similarity of the pictures."""
    from inceptionism.plugins.fvis import Diversity

    x = np.concatenate([net.preprocess(im.astype(np.float32)) for im in images])
    value, _ = Diversity(layer)(net.forward(x, end=layer))
    return -float(value) / (len(images) - 1)


def main() -> None:
    layer = sys.argv[1] if len(sys.argv) > 1 else "inception_3a/output"
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    net = Net(synthetic_model("bvlc_googlenet", seed=0))
    base = DreamConfig(octaves=2, steps=10, seed=0)
    n = 3
    print(f"{layer}, {size} px, N={n}, octaves 2, steps 10, synthetic GoogLeNet")
    for k in (1, 5):
        ref = None
        for w in (0.0, 30.0, 100.0, 300.0, 1000.0):
            t = time.perf_counter()
            got = ad.render(net, "bench", layer, [k], base, size, n, w, root=None)
            dt = time.perf_counter() - t
            imgs = [im.astype(np.float64) for im in got.images]
            s, a = spread(imgs), activation(net, got.images, layer, k)
            g = similarity(net, got.images, layer)
            ref = ref or (s, a)
            print(
                f"ch {k} W={w:6g}: spread {s:7.2f} ({s / ref[0]:5.1f}x W=0), "
                f"Gram cos {g:.3f}, activation {a:.4g} (W=0: {ref[1]:.4g}), {dt:.1f} s"
            )


if __name__ == "__main__":
    main()
