"""HDF5 weight files, format 1 (design section 4): ``save_model``, ``load_model``.

Layout: root attributes ``format`` = "inceptionism-weights",
``format_version`` = 1, ``name``, ``graph`` / ``preprocess`` / ``source``
(JSON strings); datasets ``/layers/<layer name>/weight`` and ``/bias``
(float32; conv OIHW, InnerProduct (out, in), bias (out,)); Caffe layer names
contain ``/``, which simply nests groups; optional ``/labels`` (UTF-8 strings).

The reader accepts any file following that page (attributes as variable- or
fixed-length strings, bytes or str, datasets of any float type, which are
cast to float32) and checks every parameter against the graph, naming the
layer on any disagreement.
"""

from __future__ import annotations

import json
import os

import h5py
import numpy as np

from inceptionism.weights.files import atomic_path
from inceptionism.weights.model import Model
from inceptionism.weights.shapes import param_shapes

FORMAT = "inceptionism-weights"
FORMAT_VERSION = 1
_DEFAULT = object()


def check_params(graph: dict, params: dict, where: str = "") -> None:
    """Raise ``ValueError`` naming the layer if ``params`` disagree with ``graph``."""
    for layer, blobs in param_shapes(graph).items():
        have = params.get(layer)
        for kind, shape in blobs.items():
            if have is None or kind not in have:
                raise ValueError(
                    f"{where}layer {layer!r} has no {kind} (expected shape {shape})"
                )
            got = tuple(np.shape(have[kind]))
            if got != shape:
                raise ValueError(
                    f"{where}layer {layer!r}: {kind} has shape {got}, the graph "
                    f"needs {shape}"
                )


def save_model(model: Model, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` (HDF5 format 1), atomically.

    The parameters are checked against the graph first and written as
    float32.
    """
    check_params(model.graph, model.params)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["name"] = model.name
        f.attrs["graph"] = json.dumps(model.graph)
        f.attrs["preprocess"] = json.dumps(model.preprocess)
        f.attrs["source"] = json.dumps(model.source)
        layers = f.create_group("layers")
        for layer, blobs in model.params.items():
            g = layers.require_group(layer)
            for kind, arr in blobs.items():
                g.create_dataset(kind, data=np.asarray(arr, dtype=np.float32))
        if model.labels is not None:
            f.create_dataset(
                "labels",
                data=list(model.labels),
                dtype=h5py.string_dtype("utf-8"),
            )


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return str(value)


def _json_attr(f: h5py.File, key: str, where: str, default=None):
    if key not in f.attrs:
        if default is not None:
            return default
        raise ValueError(f"{where}root attribute {key!r} is missing")
    try:
        return json.loads(_text(f.attrs[key]))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}root attribute {key!r} is not JSON: {exc}") from None


def load_model(path: str | os.PathLike) -> Model:
    """Read an HDF5 format 1 weight file into a :class:`Model`.

    Errors (``ValueError``) name the file and the problem: not HDF5 or
    truncated, not an inceptionism weight file, another ``format_version``,
    a missing dataset, or a parameter shape that disagrees with the graph.
    """
    where = f"{os.fspath(path)}: "
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}no such weight file") from None
    except OSError as exc:
        raise ValueError(
            f"{where}cannot be read as HDF5 (truncated or corrupt file?): {exc}. "
            "Re-download or re-convert it."
        ) from None
    with f:
        fmt = _text(f.attrs.get("format", ""))
        if fmt != FORMAT:
            raise ValueError(
                f"{where}not an inceptionism weight file (root attribute format="
                f"{fmt!r}, expected {FORMAT!r}); convert Caffe models with "
                "`inceptionism weights convert`"
            )
        try:
            version = int(f.attrs.get("format_version"))
        except (TypeError, ValueError):
            version = f.attrs.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"{where}format_version {version!r} is not supported (this "
                f"version of inceptionism reads format_version {FORMAT_VERSION}); "
                "upgrade inceptionism or re-convert the model"
            )
        if "name" not in f.attrs:
            raise ValueError(f"{where}root attribute 'name' is missing")
        name = _text(f.attrs["name"])
        graph = _json_attr(f, "graph", where)
        preprocess = _json_attr(f, "preprocess", where, default=_DEFAULT)
        if preprocess is _DEFAULT:  # absent: the Model's default (ImageNet BGR)
            preprocess = Model(name, graph, {}).preprocess
        source = _json_attr(f, "source", where, default={})
        params: dict[str, dict[str, np.ndarray]] = {}
        try:
            expected = param_shapes(graph)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}invalid graph: {exc}") from None
        for layer, blobs in expected.items():
            params[layer] = {}
            for kind, shape in blobs.items():
                key = f"layers/{layer}/{kind}"
                try:
                    ds = f[key]
                except KeyError:
                    raise ValueError(
                        f"{where}layer {layer!r}: dataset /{key} is missing "
                        f"(expected shape {shape}); the file is incomplete, "
                        "re-convert it"
                    ) from None
                if not isinstance(ds, h5py.Dataset) or ds.shape != shape:
                    got = getattr(ds, "shape", "a group")
                    raise ValueError(
                        f"{where}layer {layer!r}: /{key} has shape {got}, the "
                        f"graph needs {shape}"
                    )
                try:
                    params[layer][kind] = ds[()].astype(np.float32, copy=False)
                except OSError as exc:
                    raise ValueError(
                        f"{where}layer {layer!r}: /{key} cannot be read "
                        f"(truncated or corrupt file?): {exc}"
                    ) from None
        labels = None
        if "labels" in f:
            labels = tuple(_text(v) for v in f["labels"][()])
    return Model(
        name=name,
        graph=graph,
        params=params,
        preprocess=preprocess,
        labels=labels,
        source=source,
    )
