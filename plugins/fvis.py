"""Feature-visualisation objectives: direction, diversity, and spatial masks.

After lucid's ``objectives.py`` (Olah, Mordvintsev & Schubert, "Feature
Visualization", Distill 2017); registered by
:mod:`inceptionism.plugins.objectives`. CLI specs: ``direction:LAYER:VEC``
(VEC a comma list of numbers or a ``.npy`` file), ``diversity:LAYER``; any
term takes a mask, ``deepdream:inception_4c/output@sky.png``
(:class:`Masked`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.kernels.backend import get_array_module
from inceptionism.plugins.base import Objective
from inceptionism.plugins.objectives import _blob


def read_vector(text: str) -> tuple[np.ndarray, str | None]:
    """``(vector, path)`` from ``"0.5,-1,2"`` or ``"v.npy"`` (path None for a
    list). A ``.npy`` file is read without pickle and must hold numbers."""
    if text.strip().lower().endswith(".npy"):
        path = Path(text.strip())
        if not path.is_file():
            raise ValueError(f"{path}: no such direction file")
        v = np.load(path, allow_pickle=False)
        if v.dtype.kind not in "fiu":
            raise ValueError(f"{path} holds {v.dtype}, not numbers")
        return v.astype(np.float64), str(path)
    try:
        v = np.array([float(t) for t in text.split(",") if t.strip()])
    except ValueError:
        raise ValueError(
            f"direction {text!r} is neither a comma list of numbers nor a .npy file"
        ) from None
    return v, None


class Direction(Objective):
    """Maximise the mean dot product of a blob's channel vectors with ``v``:

        value = mean_{n,y,x} sum_c a[n, c, y, x] v[c]

    gradient ``v[c] / (N H W)`` everywhere (lucid ``objectives.direction``
    with ``cossim_pow=0``). ``v`` needs one entry per channel.
    """

    usage = "direction:LAYER:VEC"

    def __init__(self, layer: str, vector):
        super().__init__((layer,))
        if isinstance(vector, str):
            self.vector, self.path = read_vector(vector)
        else:
            self.vector, self.path = np.asarray(vector, np.float64), None
        if self.vector.ndim != 1:  # a (2, 256) array is not 512 channels' worth
            raise ValueError(
                f"{self._source()} has shape {self.vector.shape}; a direction is "
                f"a 1-D vector, shape (C,), one number per channel of {layer}"
            )
        if self.vector.size == 0 or not np.isfinite(self.vector).all():
            raise ValueError("direction needs a finite, non-empty vector")

    def _source(self) -> str:
        return self.path or "the direction"

    def bind(self, net) -> None:
        """Refuse a vector whose length is not the layer's channel count,
        before the first step (from the topology's shapes at its own input
        size: channels do not depend on the picture's)."""
        layer = net.resolve(self.layers[0])
        nominal = net.graph.input_shape or (1, 3, 224, 224)
        shape = net.graph.shapes((1, 3, *nominal[2:])).get(layer)
        if shape is not None and len(shape) > 1 and shape[1] != self.vector.size:
            raise ValueError(
                f"{self._source()} has shape {self.vector.shape}; {layer} has "
                f"{shape[1]} channels: give shape ({shape[1]},)"
            )

    def _v(self, a):
        xp = get_array_module(a)
        if self.vector.size != a.shape[1]:
            raise ValueError(
                f"direction has {self.vector.size} entries but {self.layers[0]!r} "
                f"has {a.shape[1]} channels"
            )
        shape = (1, -1) + (1,) * (a.ndim - 2)
        return xp.asarray(self.vector, dtype=a.dtype).reshape(shape)

    def value_map(self, blobs):
        a = _blob(blobs, self.layers[0])
        dots = (a * self._v(a)).sum(axis=1)
        return dots / dots.size if a.ndim == 4 else None

    def __call__(self, blobs):
        a = _blob(blobs, self.layers[0])
        xp = get_array_module(a)
        v = self._v(a)
        dots = (a * v).sum(axis=1)
        g = xp.empty_like(a)
        g[...] = v / dots.size
        return xp.asarray(dots.mean()), {self.layers[0]: g}

    def __repr__(self):
        text = self.path or ",".join(f"{x:g}" for x in self.vector)
        return f"direction:{self.layers[0]}:{text}"


class Diversity(Objective):
    """Make the images of a batch differ (lucid ``objectives.diversity``).

    With ``G_i`` the Gram matrix of image i's channels at the blob
    (``a_i a_i^T``, a_i of shape (C, HW)) scaled to unit Frobenius norm,
    ``value = -1/N sum_{i != j} <G_i, G_j>``: minus lucid's cross-similarity,
    so that, objectives being maximised here, ``channel:L:7+100*diversity:L``
    is lucid's ``channel(L, 7) - 1e2 * diversity(L)``. Needs a batch: dream N
    pictures together (``dream(net, rgbs)`` with rgbs of shape
    (N, H, W, 3)); for N = 1 the value and gradient are 0, and the dream
    loop refuses to start.
    """

    usage = "diversity:LAYER"
    eps = 1e-10
    needs_batch = True  # the dream loop refuses a single picture

    def __init__(self, layer: str):
        super().__init__((layer,))

    def __call__(self, blobs):
        layer = self.layers[0]
        a = _blob(blobs, layer)
        xp = get_array_module(a)
        n, c = a.shape[:2]
        f = a.reshape(n, c, -1)
        gram = xp.matmul(f, f.transpose(0, 2, 1))  # (N, C, C)
        norm = xp.sqrt(xp.maximum((gram * gram).sum(axis=(1, 2)), self.eps))
        hat = gram / norm[:, None, None]
        total = hat.sum(axis=0)
        value = -((total * total).sum() - (hat * hat).sum()) / n
        # d value / d hat_i = -2/N sum_{j != i} hat_j
        dhat = -2.0 / n * (total[None] - hat)
        inner = (dhat * hat).sum(axis=(1, 2))[:, None, None]
        dgram = (dhat - hat * inner) / norm[:, None, None]
        df = xp.matmul(dgram + dgram.transpose(0, 2, 1), f)
        return xp.asarray(value), {layer: df.reshape(a.shape)}

    def __repr__(self):
        return f"diversity:{self.layers[0]}"


def load_mask(path: str | Path, blur: float = 0.0) -> np.ndarray:
    """A mask file's grey levels as weights in 0..1, float32 (H, W); ``blur``
    softens its edges (Gaussian, sigma in the file's pixels)."""
    from inceptionism.engine.image import load_image
    from inceptionism.plugins.priors import smooth

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such mask image")
    rgb = np.asarray(load_image(path), dtype=np.float64)
    m = rgb.mean(axis=-1) / 255.0
    if blur:
        m = smooth(m, blur)
    return np.clip(m, 0.0, 1.0).astype(np.float32)


class Masked(Objective):
    """An objective weighted over space by a mask: ``TERM@MASK.png``.

    The loop gives the mask at the network input's size every step
    (:attr:`frame`: resized with the octave, rolled with the jitter and
    warped with the transforms, so it follows the picture's content); here it
    is resized (bilinear, align corners) to each blob's size ``m`` and the
    term's gradient becomes ``m * g``. When the term gives a
    :meth:`~Objective.value_map` (deepdream, channel, direction) the value is
    ``sum m * map`` and ``m * g`` is its exact gradient; otherwise the value
    is the unmasked term's. Not pointwise: tiling evaluates it on whole blobs.
    """

    usage = "TERM@MASK"

    def __init__(self, term: Objective, path: str | None = None, mask=None):
        super().__init__(term.layers)
        self.term, self.path = term, path
        self.mask = None if mask is None else np.asarray(mask, np.float32)
        self.frame: Any = None

    def bind(self, net) -> None:
        self.term.bind(net)
        if self.mask is None and self.path is not None:
            self.mask = load_mask(self.path)

    def _at(self, hw, like):
        from inceptionism.engine.resample import resize

        xp = get_array_module(like)
        m = self.frame if self.frame is not None else self.mask
        if m is None:
            raise RuntimeError("masked objective used before bind(net)")
        return resize(xp.asarray(m, dtype=like.dtype), hw)

    def __call__(self, blobs):
        value, grads = self.term(blobs)
        out = {}
        for name, g in grads.items():
            out[name] = g * self._at(g.shape[-2:], g) if g.ndim == 4 else g
        vmap = self.term.value_map(blobs)
        if vmap is not None:
            xp = get_array_module(vmap)
            value = xp.asarray((vmap * self._at(vmap.shape[-2:], vmap)).sum())
        return value, out

    def __repr__(self):
        return f"{self.term!r}@{self.path or '<array>'}"


def masked_terms(objective: Objective) -> list[Masked]:
    """Every :class:`Masked` in an objective's tree of sums and products."""
    if isinstance(objective, Masked):
        return [objective, *masked_terms(objective.term)]
    found: list[Masked] = []
    for term in getattr(objective, "terms", ()):
        found += masked_terms(term)
    return found
