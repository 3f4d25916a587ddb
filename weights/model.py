"""The in-memory model: topology, parameters, preprocessing, labels."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Model:
    """A network as loaded from a weight file (design section 4).

    name : str
        e.g. ``"bvlc_googlenet"``.
    graph : dict
        The deploy topology in Caffe's vocabulary:
        ``{"name", "input": {"name", "shape"}, "layers": [{"name", "type",
        "bottom", "top", "params"}, ...]}``.
    params : dict[str, dict[str, np.ndarray]]
        ``{layer name: {"weight": array, "bias": array}}`` (float32; conv OIHW,
        InnerProduct (out, in)).
    preprocess : dict
        ``{"channel_order": "BGR", "mean": [b, g, r], "scale": 255.0}``.
    labels : tuple[str, ...] | None
        Class names in output order, if known.
    source : dict
        Provenance: original file name, its SHA-1, converter version.
    """

    name: str
    graph: dict
    params: dict[str, dict[str, np.ndarray]]
    preprocess: dict = field(
        default_factory=lambda: {
            "channel_order": "BGR",
            "mean": [104.0, 117.0, 123.0],
            "scale": 255.0,
        }
    )
    labels: tuple[str, ...] | None = None
    source: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_finite(self.params)


def check_finite(params: dict) -> None:
    """Raise ``ValueError`` naming the first layer and array holding NaN or
    infinity, and how many: such a weight dreams an all-black picture.

    One vectorised pass per array (GoogLeNet: ~7M values, a few ms).
    """
    for layer, blobs in params.items():
        for kind, arr in blobs.items():
            a = np.asarray(arr)
            if a.dtype.kind not in "fc":
                continue
            finite = np.isfinite(a)
            if not finite.all():
                bad = int(a.size - np.count_nonzero(finite))
                raise ValueError(
                    f"layer {layer!r}: {kind} holds {bad} NaN or infinite "
                    f"value(s) of {a.size}; the weights are corrupt, re-download "
                    "or re-convert them"
                )
