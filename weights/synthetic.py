"""Seeded synthetic weights for any registry architecture (tests, offline use).

Weights are He-initialised (He et al. 2015, "Delving deep into rectifiers"):
``w ~ N(0, 2 / fan_in)`` with ``fan_in = C_in/group * kh * kw`` (conv) or the
flattened input size (InnerProduct), which keeps the second moment of the
activations roughly constant through the ReLU stack, so every one of
GoogLeNet's blobs is non-degenerate at 224x224. Biases are small and
positive, ``U(0, 0.1)``, so that a test notices a dropped bias. The final
classifier is scaled down by ``CLASSIFIER_GAIN`` so that ``prob`` is a soft
distribution rather than a one-hot vector for preprocessed images (whose
values are tens of units), keeping the softmax's gradient informative.

Draws come from ``numpy.random.default_rng(seed)`` in graph order (weight then
bias of each layer), always in float64; other dtypes are the float64 values
cast, so the float32 model is the float64 one rounded.
"""

from __future__ import annotations

import math

import numpy as np

from inceptionism.weights.model import Model
from inceptionism.weights.shapes import param_shapes

#: Gain on the last InnerProduct's He std (see module docstring).
CLASSIFIER_GAIN = 0.01


def synthetic_params(graph: dict, seed: int = 0, dtype=np.float32) -> dict:
    """``{layer: {"weight", "bias"}}`` for a graph, seeded (see module doc)."""
    rng = np.random.default_rng(seed)
    shapes = param_shapes(graph)
    last_ip = [lyr["name"] for lyr in graph["layers"] if lyr["type"] == "InnerProduct"][
        -1:
    ]
    params: dict[str, dict[str, np.ndarray]] = {}
    for name, blobs in shapes.items():
        wshape = blobs["weight"]
        fan_in = math.prod(wshape[1:])
        std = math.sqrt(2.0 / fan_in)
        if name in last_ip:
            std *= CLASSIFIER_GAIN
        entry = {"weight": (rng.standard_normal(wshape) * std).astype(dtype)}
        if "bias" in blobs:
            entry["bias"] = rng.uniform(0.0, 0.1, blobs["bias"]).astype(dtype)
        params[name] = entry
    return params


def synthetic_model(name="bvlc_googlenet", seed: int = 0, dtype=np.float32):
    """A :class:`Model` with seeded synthetic weights for a registry model.

    ``name`` is a registry name or a ``ModelSpec`` (e.g. from a plugin).

    Preprocessing and labels are the registry's, so the model behaves like the
    real one in every respect but its weights; ``source`` records the seed.
    """
    from inceptionism.weights.registry import get_spec  # registry imports us

    spec = get_spec(name)
    graph = spec.graph()
    return Model(
        name=spec.name,
        graph=graph,
        params=synthetic_params(graph, seed=seed, dtype=dtype),
        preprocess=spec.preprocess(),
        labels=spec.load_labels(),
        source={"synthetic": True, "seed": int(seed), "converter": "synthetic"},
    )
