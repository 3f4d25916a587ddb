"""A channel visualisation of a known unit converges to its pattern.

The unit is one 7x7 convolution whose filter is an oriented edge (-1 on one
side, +1 on the other, the same in every colour), followed by a ReLU.
Maximising its mean activation from grey noise must draw stripes of that
orientation: the mean |d/dx| of the result over its mean |d/dy| is far
above 1 for a vertical edge and far below for a horizontal one (noise
gives 1).
"""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.engine import Net, dream
from inceptionism.weights.model import Model

PROFILE = np.array([-1, -1, -1, 0, 1, 1, 1], np.float32)


def edge_unit(orientation: str) -> Model:
    k = np.zeros((1, 3, 7, 7), np.float32)
    k[0] = PROFILE[None, :] if orientation == "vertical" else PROFILE[:, None]
    graph = {
        "name": "edge",
        "input": {"name": "data", "shape": [1, 3, 48, 48]},
        "layers": [
            {"name": "edge", "type": "Convolution", "bottom": ["data"],
             "top": ["edge"], "params": {"num_output": 1, "kernel_size": 7}},
            {"name": "edge/relu", "type": "ReLU", "bottom": ["edge"],
             "top": ["edge"], "params": {}},
        ],
    }  # fmt: skip
    params = {"edge": {"weight": k / 100, "bias": np.zeros(1, np.float32)}}
    return Model("edge", graph, params)


def orientation(rgb: np.ndarray) -> float:
    """mean |d/dx| / mean |d/dy| of the grey picture."""
    g = rgb.mean(axis=-1)
    return float(np.abs(np.diff(g, axis=1)).mean() / np.abs(np.diff(g, axis=0)).mean())


@pytest.mark.parametrize(
    "settings",
    [dict(jitter=8), dict(jitter=0, param="fft", transforms="standard")],
    ids=["pixel+jitter", "fft+standard"],
)
@pytest.mark.parametrize("edge", ["vertical", "horizontal"])
def test_channel_visualisation_draws_the_units_edge(edge, settings):
    rng = np.random.default_rng(0)
    noise = (128 + 10 * rng.standard_normal((48, 48, 3))).astype(np.float32)
    assert 0.8 < orientation(noise) < 1.25  # chance
    net = Net(edge_unit(edge))
    out = dream(net, noise, "channel:edge/relu:0", octaves=1, steps=30, seed=0,
                **settings)  # fmt: skip
    ratio = orientation(out)
    assert ratio > 2.5 if edge == "vertical" else ratio < 0.4, ratio
    act = net.forward(net.preprocess(out), end="edge/relu")["edge/relu"].mean()
    before = net.forward(net.preprocess(noise), end="edge/relu")["edge/relu"].mean()
    assert act > 5 * before
