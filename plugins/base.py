"""Base classes shared by objectives, regularizers and image priors.

These are the contract between the plugins and the dream loop
(``inceptionism.engine.dream``); third-party plugins subclass them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inceptionism.kernels.backend import get_array_module


def as_value(value: Any, like: Any) -> Any:
    """``value`` as a 0-d array on the device of the array ``like``.

    Objective and regularizer values stay on the device (turning them into a
    Python float is a GPU synchronisation); a plugin may still return a
    Python float or a NumPy scalar, which this wraps with ``xp.asarray``.
    A 0-d array already on that device (or a subclass of one) is returned
    as it is.
    """
    xp = get_array_module(like)
    if isinstance(value, xp.ndarray) and value.ndim == 0:
        return value
    return xp.asarray(value)


class Objective:
    """Something to maximise, read from network blobs.

    Subclasses set ``layers`` (the blob names they read; ``Net.forward`` is
    asked for exactly these) and implement ``__call__(blobs) -> (value,
    grads)`` where ``value`` is a 0-d array on the blobs' device (never
    converted to a Python float: observers do that if they need a number;
    a plain float is accepted and wrapped, see :func:`as_value`) and
    ``grads`` maps each blob name to dvalue/dblob, an array of that blob's
    shape on the blob's device (the seeds of ``Net.backward``).

    Objectives compose like numbers (as in lucid's ``objectives.py``):
    ``a + b``, ``a - b``, ``2.0 * a``, ``sum([a, b])``, ``a * b``
    (:class:`Product`).

    ``value_map(blobs)`` (optional) gives, for a one-blob objective whose
    value is a sum over positions, that sum's terms as an (N, H, W) map, so
    that a spatial mask can weight the value exactly
    (:class:`inceptionism.plugins.masks.Masked`); None where it is not.

    ``pointwise`` (default False) promises that the value is a sum over blob
    positions and each position's gradient depends on that position's
    values alone, so that tiled dreaming (:mod:`inceptionism.engine.tiling`)
    may evaluate it on each tile's share of the blobs and add the values;
    otherwise tiling first assembles the whole blobs (one more forward pass).
    """

    layers: tuple[str, ...] = ()
    pointwise: bool = False

    def __init__(self, layers=()):
        self.layers = tuple(layers)

    def bind(self, net) -> None:
        """Called once by the dream loop before the first step.

        Objectives that need the network (weights, or features of a guide
        image) fetch them here; the default does nothing.
        """

    def __call__(self, blobs: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        raise NotImplementedError

    def value_map(self, blobs: Mapping[str, Any]) -> Any:
        return None

    # -- composition -----------------------------------------------------
    def __add__(self, other):
        if isinstance(other, (int, float)) and other == 0:
            return self
        if not isinstance(other, Objective):
            return NotImplemented
        return Sum((self, other), (1.0, 1.0))

    __radd__ = __add__  # so that sum([...]) works from its start value 0

    def __sub__(self, other):
        if not isinstance(other, Objective):
            return NotImplemented
        return Sum((self, other), (1.0, -1.0))

    def __mul__(self, scale):
        if isinstance(scale, Objective):
            return Product((self, scale))
        if not isinstance(scale, (int, float)):
            return NotImplemented
        return Sum((self,), (float(scale),))

    __rmul__ = __mul__

    def __neg__(self):
        return self * -1.0


class Sum(Objective):
    """A weighted sum of objectives; gradients add up at shared blobs."""

    def __init__(self, terms, weights):
        flat_terms, flat_weights = [], []
        for term, w in zip(terms, weights):
            if type(term) is Sum:  # flatten nested plain sums (not subclasses)
                flat_terms += term.terms
                flat_weights += [w * v for v in term.weights]
            else:
                flat_terms.append(term)
                flat_weights.append(float(w))
        layers = dict.fromkeys(name for t in flat_terms for name in t.layers)
        super().__init__(layers)
        bad = [w for w in flat_weights if not math.isfinite(w)]
        if bad:
            raise ValueError(f"objective weight must be a finite number, got {bad[0]}")
        self.terms = tuple(flat_terms)
        self.weights = tuple(flat_weights)
        self.pointwise = all(t.pointwise for t in self.terms)

    def bind(self, net) -> None:
        for term in self.terms:
            term.bind(net)

    def _term_scale(self, weight: float, grads: dict) -> Any:
        """The factor on one term's value and gradient (here its weight)."""
        return weight

    def __call__(self, blobs: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        like = blobs[self.layers[0]] if self.layers else np.zeros(())
        total: Any = 0.0
        grads: dict[str, Any] = {}
        for term, w in zip(self.terms, self.weights):
            value, g = term(blobs)
            s = self._term_scale(w, g)
            total = total + s * as_value(value, like)
            for name, gi in g.items():
                grads[name] = grads[name] + s * gi if name in grads else s * gi
        return as_value(total, like), grads

    def __repr__(self):
        return " + ".join(f"{w:g}*{t!r}" for t, w in zip(self.terms, self.weights))


class Product(Objective):
    """The product of objectives (lucid's ``a * b``): value ``prod_i v_i``,
    gradient ``sum_i (prod_{j != i} v_j) g_i``, added up at shared blobs.
    Spec: ``channel:LAYER:1*channel:LAYER:2``."""

    def __init__(self, terms):
        flat: list = []
        for t in terms:
            flat += t.terms if type(t) is Product else [t]
        super().__init__(dict.fromkeys(n for t in flat for n in t.layers))
        self.terms = tuple(flat)

    def bind(self, net) -> None:
        for term in self.terms:
            term.bind(net)

    def __call__(self, blobs: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        like = blobs[self.layers[0]] if self.layers else np.zeros(())
        parts = [term(blobs) for term in self.terms]
        values = [as_value(v, like) for v, _ in parts]
        grads: dict[str, Any] = {}
        for i, (_, g) in enumerate(parts):
            others: Any = 1.0
            for j, v in enumerate(values):
                if j != i:
                    others = others * v
            for name, gi in g.items():
                s = others * gi
                grads[name] = grads[name] + s if name in grads else s
        total: Any = 1.0
        for v in values:
            total = total * v
        return as_value(total, like), grads

    def __repr__(self):
        return " * ".join(f"({t!r})" for t in self.terms)


class Regularizer:
    """A penalty on the (preprocessed) image, minimised by the dream loop.

    ``__call__(x) -> (value, grad)`` with ``x`` of shape (1, 3, H, W) on the
    image's device, ``value`` the unweighted penalty as a 0-d array on that
    device (a Python float is accepted, see :func:`as_value`) and ``grad``
    of the shape of ``x``. The loop adds ``-weight * grad`` to the
    objective's image gradient and subtracts ``weight * value`` from the
    step's value.
    """

    weight: float = 1.0

    def __call__(self, x) -> tuple[Any, Any]:
        raise NotImplementedError


@dataclass
class StepState:
    """Where the dream loop is, handed to priors and observers.

    octave and step count from 0; ``mean`` is the per-channel mean (in the
    network's channel order, on the image's device) and ``scale`` the pixel
    range, so the valid range of channel c is ``[-mean[c], scale - mean[c]]``.
    ``rng`` is the dream's one seeded generator. ``extras`` lets priors keep
    per-step values (e.g. jitter's shift) without module state. A tiled step
    sets ``tile`` / ``n_tiles`` as its tiles finish (``tile = n_tiles - 1``
    at the step's end).
    """

    octave: int
    n_octaves: int
    step: int
    n_steps: int
    rng: np.random.Generator
    mean: Any
    scale: float
    extras: dict = field(default_factory=dict)
    #: the roll (rows, columns) priors applied to the image this step
    #: (jitter), so that spatial masks follow the picture's content
    roll: tuple[int, int] = (0, 0)
    #: tiled dreaming: the tile just finished (0-based) of ``n_tiles`` in
    #: this step, and every octave's tile count (empty when untiled)
    tile: int = 0
    n_tiles: int = 1
    octave_tiles: tuple[int, ...] = ()


class Prior:
    """Shapes each step of the dream. All three methods default to identity.

    Order within a step: ``before_step`` (e.g. jitter) on the image, forward,
    backward, ``grad`` on the image gradient (smoothing, normalisation,
    decorrelation), the normalised update, then ``after_step`` on the image
    (un-jitter, clipping). Priors run in list order for ``before_step`` and
    ``grad`` and in reverse order for ``after_step``.
    """

    def before_step(self, x, state: StepState):
        return x

    def grad(self, g, state: StepState):
        return g

    def after_step(self, x, state: StepState):
        return x
