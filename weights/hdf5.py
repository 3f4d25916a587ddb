"""HDF5 weight files, format 1 (design section 4): ``save_model``, ``load_model``.

Layout: root attributes ``format`` = "inceptionism-weights",
``format_version`` = 1, ``name``, ``graph`` / ``preprocess`` / ``source``
(JSON strings); datasets ``/layers/<layer name>/weight`` and ``/bias``
(float32; conv OIHW, InnerProduct (out, in), bias (out,)); Caffe layer names
contain ``/``, which simply nests groups; optional ``/labels`` (UTF-8 strings).

The reader accepts any file following that page (attributes as variable- or
fixed-length strings, bytes or str, datasets of any float type, which are
cast to float32) and checks every parameter against the graph, naming the
layer on any disagreement. A file is untrusted: it is read in a child process
first (:mod:`inceptionism.weights.untrusted`), so one that would hang or
crash libhdf5 is refused, and anything wrong with it is a
:class:`~inceptionism.weights.errors.WeightsFileError` naming the file.
"""

from __future__ import annotations

import json
import math
import os

import h5py
import numpy as np

from inceptionism.weights.errors import MALFORMED, WeightsFileError, describe
from inceptionism.weights.files import atomic_path
from inceptionism.weights.model import Model
from inceptionism.weights.shapes import infer_shapes, param_shapes
from inceptionism.weights.untrusted import check_in_child

FORMAT = "inceptionism-weights"
FORMAT_VERSION = 1
_DEFAULT = object()
_ADVICE = "re-download it, or re-convert it with `inceptionism weights convert`"
#: Most values a blob may have at the graph's nominal input size (8 GiB as
#: float32); beyond it the geometry is a hostile file's, not a net's.
MAX_BLOB_VALUES = 2**31


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
        raise WeightsFileError(f"{where}root attribute {key!r} is missing")
    try:
        return json.loads(_text(f.attrs[key]))
    except json.JSONDecodeError as exc:
        raise WeightsFileError(
            f"{where}root attribute {key!r} is not JSON: {exc}; {_ADVICE}"
        ) from None


def _check_graph(graph) -> None:
    """The graph's structure (design section 4), before any layer is read:
    ``ValueError`` naming the part that is wrong."""
    if not isinstance(graph, dict):
        raise ValueError(f"graph must be a JSON object, got {type(graph).__name__}")
    inp = graph.get("input")
    shape = inp.get("shape") if isinstance(inp, dict) else None
    if (
        not isinstance(inp.get("name") if isinstance(inp, dict) else None, str)
        or not isinstance(shape, list)
        or len(shape) != 4
        or not all(type(d) is int and 0 < d < 2**31 for d in shape)
    ):
        raise ValueError(
            f'graph input must be {{"name": ..., "shape": [N, C, H, W]}} with '
            f"positive integer dims, got {inp!r:.100}"
        )
    layers = graph.get("layers")
    if not isinstance(layers, list):
        raise ValueError("graph layers must be a JSON list")
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not all(
            isinstance(layer.get(k), str) for k in ("name", "type")
        ):
            raise ValueError(f"graph layer {i} must have a string name and type")
        for key in ("bottom", "top"):
            blobs = layer.get(key)
            if not isinstance(blobs, list) or not all(
                isinstance(b, str) for b in blobs
            ):
                raise ValueError(
                    f"layer {layer['name']!r}: {key} must be a list of blob names"
                )
        if not isinstance(layer.get("params", {}), dict):
            raise ValueError(
                f"layer {layer['name']!r}: params must be a JSON object, got "
                f"{layer['params']!r:.60}"
            )


def _check_sizes(graph) -> None:
    for name, shape in infer_shapes(graph).items():
        if math.prod(shape) > MAX_BLOB_VALUES:
            raise ValueError(
                f"layer {name!r}: output {list(shape)} at the nominal input "
                f"has more than {MAX_BLOB_VALUES} values"
            )


def _check_preprocess(pre) -> None:
    if not isinstance(pre, dict):
        raise ValueError("root attribute 'preprocess' must be a JSON object")
    mean, scale = pre.get("mean", [0.0] * 3), pre.get("scale", 255.0)
    numbers = [*mean, scale] if isinstance(mean, list) else [None]
    if not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in numbers
    ):
        raise ValueError(
            f"preprocess mean and scale must be finite numbers, got mean={mean!r:.60}"
            f", scale={scale!r:.20}"
        )
    if not isinstance(mean, list) or len(mean) != 3:
        raise ValueError(f"preprocess mean must have 3 values, got {mean!r:.60}")
    if scale <= 0:  # a negative scale dreamed a blank picture, 0 divided by it
        raise ValueError(f"preprocess scale must be > 0, got {scale!r:.20}")
    order = pre.get("channel_order", "BGR")
    if not isinstance(order, str) or order.upper() not in ("RGB", "BGR"):
        raise ValueError(
            f"preprocess channel_order must be 'RGB' or 'BGR', got {order!r:.20}"
        )


def load_model(path: str | os.PathLike) -> Model:
    """Read an HDF5 format 1 weight file into a :class:`Model`.

    The file is first read in a child process under a time limit
    (:func:`~inceptionism.weights.untrusted.check_in_child`; remembered per
    file), so a file that would hang libhdf5 is refused and Ctrl-C works.

    Raises ``FileNotFoundError`` for a missing file and
    :class:`~inceptionism.weights.errors.WeightsFileError` (a ``ValueError``)
    naming the file and the problem for anything else: not HDF5, truncated or
    corrupt, not an inceptionism weight file, another ``format_version``, a
    malformed graph, a missing dataset, or a parameter shape that disagrees
    with the graph.
    """
    check_file(path)
    return read_model(path)


def check_file(path: str | os.PathLike) -> None:
    """:func:`load_model`'s checks, same errors, without loading the weights
    here: the whole read runs in the child (and is remembered, so the later
    :func:`load_model` of the file skips it). For a command that takes weight
    files now and loads them later (``studio --weights``)."""
    where = os.fspath(path)
    if not os.path.exists(where):
        raise FileNotFoundError(f"{where}: no such weight file")
    if os.path.isdir(where):
        raise WeightsFileError(f"{where}: is a directory, not a weight file")
    check_in_child(where, "inceptionism.weights.hdf5:read_model", _ADVICE)


def read_model(path: str | os.PathLike) -> Model:
    """:func:`load_model` without the child-process check: what the child
    runs, and what a caller may use on a file it wrote itself."""
    where = f"{os.fspath(path)}: "
    try:
        return _read(path, where)
    except (WeightsFileError, FileNotFoundError):
        raise
    except (OSError, RuntimeError, ValueError, *MALFORMED) as exc:
        raise WeightsFileError(f"{where}{describe(exc)}; {_ADVICE}") from None


def _read(path, where: str) -> Model:
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}no such weight file") from None
    except OSError as exc:
        raise WeightsFileError(
            f"{where}cannot be read as HDF5 (truncated or corrupt file?): "
            f"{describe(exc)}. Re-download or re-convert it."
        ) from None
    with f:
        fmt = _text(f.attrs.get("format", ""))
        if fmt != FORMAT:
            raise WeightsFileError(
                f"{where}not an inceptionism weight file (root attribute format="
                f"{fmt!r:.60}, expected {FORMAT!r}); convert Caffe models with "
                "`inceptionism weights convert`"
            )
        try:
            version = int(f.attrs.get("format_version"))
        except (TypeError, ValueError):
            version = f.attrs.get("format_version")
        if version != FORMAT_VERSION:
            raise WeightsFileError(
                f"{where}format_version {version!r:.40} is not supported (this "
                f"version of inceptionism reads format_version {FORMAT_VERSION}); "
                "upgrade inceptionism or re-convert the model"
            )
        if "name" not in f.attrs:
            raise WeightsFileError(f"{where}root attribute 'name' is missing")
        name = _text(f.attrs["name"])
        graph = _json_attr(f, "graph", where)
        preprocess = _json_attr(f, "preprocess", where, default=_DEFAULT)
        if preprocess is _DEFAULT:  # absent: the Model's default (ImageNet BGR)
            preprocess = Model(name, graph, {}).preprocess
        source = _json_attr(f, "source", where, default={})
        params: dict[str, dict[str, np.ndarray]] = {}
        try:
            _check_graph(graph)
            expected = param_shapes(graph)
            _check_sizes(graph)
            _check_preprocess(preprocess)
            if not isinstance(source, dict):
                raise ValueError("root attribute 'source' must be a JSON object")
        except (KeyError, TypeError, ValueError) as exc:
            raise WeightsFileError(
                f"{where}invalid graph: {describe(exc)}; {_ADVICE}"
            ) from None
        for layer, blobs in expected.items():
            params[layer] = {}
            for kind, shape in blobs.items():
                key = f"layers/{layer}/{kind}"
                try:
                    ds = f[key]
                except KeyError:
                    raise WeightsFileError(
                        f"{where}layer {layer!r}: dataset /{key} is missing "
                        f"(expected shape {shape}); the file is incomplete, "
                        "re-convert it"
                    ) from None
                if not isinstance(ds, h5py.Dataset) or ds.shape != shape:
                    got = getattr(ds, "shape", "a group")
                    raise WeightsFileError(
                        f"{where}layer {layer!r}: /{key} has shape {got}, the "
                        f"graph needs {shape}"
                    )
                try:
                    params[layer][kind] = ds[()].astype(np.float32, copy=False)
                except (OSError, TypeError, ValueError) as exc:
                    raise WeightsFileError(
                        f"{where}layer {layer!r}: /{key} cannot be read "
                        f"(truncated or corrupt file?): {describe(exc)}"
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
