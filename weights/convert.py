"""caffemodel [+ prototxt] -> :class:`Model` -> HDF5 weight file.

The topology comes from, in order: ``prototxt`` if given; the registry entry
named by ``model`` or, without one, the registry entry whose SHA-1 matches
the file (so ``convert bvlc_googlenet.caffemodel`` needs nothing else); else
the caffemodel's own net, reduced to its deploy part. Preprocessing and
labels come from the registry entry; without one, the ImageNet BGR mean
(104, 117, 123) is assumed and classes print as indices.
"""

from __future__ import annotations

import os
from pathlib import Path

from inceptionism.weights.caffemodel import read_caffemodel
from inceptionism.weights.files import sha1_file
from inceptionism.weights.hdf5 import save_model
from inceptionism.weights.model import Model
from inceptionism.weights.prototxt import read_prototxt
from inceptionism.weights.registry import MODELS, ModelSpec, get_spec
from inceptionism.weights.shapes import infer_shapes

CONVERTER = "inceptionism.weights.convert 1"


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def build_model(
    caffemodel: str | os.PathLike,
    prototxt: str | os.PathLike | None = None,
    model: str | ModelSpec | None = None,
) -> Model:
    """Read a caffemodel into a :class:`Model` (see module doc for sources)."""
    digest = sha1_file(caffemodel)
    if isinstance(model, str):
        spec: ModelSpec | None = get_spec(model)
    elif model is not None:
        spec = model
    else:
        spec = next((s for s in MODELS.values() if s.sha1 == digest), None)
    if prototxt is not None:
        topology = read_prototxt(prototxt, name=spec.name if spec else None)
    elif spec is not None:
        topology = spec.graph()
    else:
        topology = None
    graph, params = read_caffemodel(caffemodel, topology)
    name = spec.name if spec else graph.get("name") or Path(caffemodel).stem
    graph["name"] = name
    labels = spec.load_labels() if spec else None
    if labels is not None:
        out = list(infer_shapes(graph).values())[-1]
        if len(out) == 2 and out[1] != len(labels):
            raise ValueError(
                f"model {name!r} has {len(labels)} labels but the net outputs "
                f"{out[1]} classes; is --model right?"
            )
    return Model(
        name=name,
        graph=graph,
        params=params,
        preprocess=spec.preprocess()
        if spec
        else {"channel_order": "BGR", "mean": [104.0, 117.0, 123.0], "scale": 255.0},
        labels=labels,
        source={
            "file": Path(caffemodel).name,
            "sha1": digest,
            "prototxt": Path(prototxt).name if prototxt else None,
            "converter": CONVERTER,
        },
    )


def convert(
    caffemodel: str | os.PathLike,
    out: str | os.PathLike,
    prototxt: str | os.PathLike | None = None,
    model: str | ModelSpec | None = None,
) -> Model:
    """Convert ``caffemodel`` to the HDF5 file ``out`` (written atomically).

    Refuses to write over its inputs. On any error no ``out`` is left.
    """
    for src in (caffemodel, prototxt):
        if src is not None and os.path.exists(out) and _same_file(src, out):
            raise ValueError(f"output {os.fspath(out)} is an input; choose another -o")
    if not os.path.isfile(caffemodel):
        raise FileNotFoundError(f"{os.fspath(caffemodel)}: no such caffemodel file")
    m = build_model(caffemodel, prototxt=prototxt, model=model)
    save_model(m, out)
    return m
