"""Built-in objectives, registered like any third-party plugin.

Each objective reads named blobs (Caffe layer names, design section 3) and
returns its value and the gradient at each blob it reads; the dream loop
ascends it. All array code runs on the blobs' device through
``xp = get_array_module(blob)``.

CLI specs (``dream --objective``): ``deepdream[:LAYER]``, ``channel:LAYER:C``,
``neuron:LAYER:C[:Y:X]``, ``guide:LAYER:IMAGE_PATH``,
``class:INDEX[:CLASSIFIER:FEATURES]``, ``layers:LAYER,LAYER,...``; terms
combine as ``0.5*deepdream:inception_3b/output+channel:inception_4c/output:7``
(see :mod:`inceptionism.plugins.spec`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from inceptionism.kernels.backend import get_array_module
from inceptionism.plugins.base import Objective, Sum
from inceptionism.plugins.hookspecs import hookimpl

#: The notebook's default ``end`` blob.
DEFAULT_LAYER = "inception_4c/output"


def _as_int(value, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an integer, got {value!r}") from None


def _blob(blobs: Mapping[str, Any], name: str):
    try:
        return blobs[name]
    except KeyError:
        raise KeyError(
            f"objective reads blob {name!r}, which the forward pass did not return"
        ) from None


def _check_index(i: int, size: int, what: str, layer: str) -> None:
    if not 0 <= i < size:
        raise ValueError(
            f"{what} {i} is out of range for {layer!r} (valid: 0..{size - 1})"
        )


class DeepDream(Objective):
    """Maximise ``1/2 sum a^2`` of one blob; gradient ``a``.

    The original DeepDream objective: google/deepdream ``dream.ipynb``'s
    ``objective_L2`` (``dst.diff[:] = dst.data``).
    """

    usage = "deepdream[:LAYER]"
    pointwise = True

    def __init__(self, layer: str = DEFAULT_LAYER):
        super().__init__((layer,))

    def __call__(self, blobs):
        a = _blob(blobs, self.layers[0])
        xp = get_array_module(a)
        return xp.asarray(0.5 * (a * a).sum()), {self.layers[0]: a.copy()}

    def value_map(self, blobs):
        a = _blob(blobs, self.layers[0])
        return 0.5 * (a * a).sum(axis=1) if a.ndim == 4 else None

    def __repr__(self):
        return f"deepdream:{self.layers[0]}"


class Channel(Objective):
    """Maximise the mean of channel ``c`` of a blob (N, C, ...).

    value = mean(a[:, c]); the gradient is ``1/size`` on that channel and 0
    elsewhere. The channel objective of the notebooks' "visualising feature
    channels" (lucid ``objectives.channel``).
    """

    usage = "channel:LAYER:C"

    def __init__(self, layer: str, channel):
        super().__init__((layer,))
        self.channel = _as_int(channel, "channel")

    def __call__(self, blobs):
        layer = self.layers[0]
        a = _blob(blobs, layer)
        _check_index(self.channel, a.shape[1], "channel", layer)
        xp = get_array_module(a)
        sel = a[:, self.channel]
        g = xp.zeros_like(a)
        g[:, self.channel] = 1.0 / sel.size
        return xp.asarray(sel.mean()), {layer: g}

    def value_map(self, blobs):
        a = _blob(blobs, self.layers[0])
        sel = a[:, self.channel]
        return sel / sel.size if a.ndim == 4 else None

    def __repr__(self):
        return f"channel:{self.layers[0]}:{self.channel}"


class Neuron(Objective):
    """Maximise one unit: channel ``c`` at row ``y``, column ``x``.

    Without ``y``/``x`` the centre unit ``(H // 2, W // 2)`` (lucid
    ``objectives.neuron``); blobs of shape (N, C) (fully connected) take no
    position. Averaged over the batch.
    """

    usage = "neuron:LAYER:C[:Y:X]"

    def __init__(self, layer: str, channel, y=None, x=None):
        super().__init__((layer,))
        if (y is None) != (x is None):
            raise ValueError("neuron needs both Y and X, or neither (the centre)")
        self.channel = _as_int(channel, "channel")
        self.y = None if y is None else _as_int(y, "row Y")
        self.x = None if x is None else _as_int(x, "column X")

    def _index(self, a):
        layer = self.layers[0]
        _check_index(self.channel, a.shape[1], "channel", layer)
        if a.ndim == 2:
            if self.y is not None:
                raise ValueError(f"{layer!r} has no spatial axes: drop Y and X")
            return (slice(None), self.channel)
        h, w = a.shape[-2:]
        y = h // 2 if self.y is None else self.y
        x = w // 2 if self.x is None else self.x
        _check_index(y, h, "row", layer)
        _check_index(x, w, "column", layer)
        return (slice(None), self.channel, y, x)

    def __call__(self, blobs):
        a = _blob(blobs, self.layers[0])
        idx = self._index(a)
        xp = get_array_module(a)
        g = xp.zeros_like(a)
        g[idx] = 1.0 / a.shape[0]
        return xp.asarray(a[idx].mean()), {self.layers[0]: g}

    def __repr__(self):
        pos = "" if self.y is None else f":{self.y}:{self.x}"
        return f"neuron:{self.layers[0]}:{self.channel}{pos}"


class Guide(Objective):
    """Steer toward the features of a guide image (the notebook's ``objective_guide``).

    With ``x`` the current features (C, HW) and ``y`` the guide's (C, HW'),
    ``A = x.T @ y``; the gradient at each position i is the guide feature
    with the largest dot product, ``y[:, argmax_j A[i, j]]``. That is the
    exact gradient of ``value = sum_i max_j A[i, j]`` (away from ties), the
    value reported here; google/deepdream ``dream.ipynb`` seeds the same
    gradient.

    The guide's features come from :meth:`bind`: the image at ``image_path``
    is loaded (lazily importing ``inceptionism.engine.image.load_image``, so
    this module does not depend on the engine at import), preprocessed and
    run forward to ``layer`` at its own size, as in the notebook. Python
    users (and ``dream --guide``) may pass features directly with
    :meth:`from_features`.
    """

    usage = "guide:LAYER:IMAGE_PATH"
    pointwise = True  # each position matches the guide on its own

    def __init__(self, layer: str, *image_path: str):
        super().__init__((layer,))
        # The CLI splits specs at ':', so a path holding ':' arrives in parts.
        self.image_path: str | None = ":".join(image_path)
        if not self.image_path:
            raise ValueError(f"guide needs an image: {self.usage}")
        self.features: Any = None

    @classmethod
    def from_features(cls, layer: str, features) -> Guide:
        """A guide from precomputed features at ``layer``.

        features : array, shape (1, C, H', W'), (C, H', W') or (C, H'W'),
            e.g. ``net.forward(net.preprocess(rgb), end=layer)[layer]``.
        """
        obj = cls.__new__(cls)
        Objective.__init__(obj, (layer,))
        obj.image_path = None
        obj.features = features
        return obj

    def bind(self, net) -> None:
        layer = self.layers[0]
        if self.image_path is not None:
            from inceptionism.engine.image import load_image

            rgb: Any = load_image(self.image_path)
            try:
                blobs = net.forward(net.preprocess(rgb), end=layer)
            except ValueError as exc:  # an empty blob: say it is the guide
                h, w = rgb.shape[:2]
                raise ValueError(
                    f"the guide {self.image_path} ({w}x{h}) is too small for "
                    f"{layer} ({exc}); use a larger guide or a shallower layer"
                ) from None
            self.features = blobs[layer].copy()  # outlives the forward pass
        else:
            self.features = net.xp.asarray(self.features)

    def _guide_matrix(self, a):
        if self.features is None:
            raise RuntimeError("guide objective used before bind(net)")
        xp = get_array_module(a)
        f = xp.asarray(self.features)
        y = f.reshape(f.shape[-3] if f.ndim >= 3 else f.shape[0], -1)
        if y.shape[0] != a.shape[1]:
            raise ValueError(
                f"guide features have {y.shape[0]} channels but "
                f"{self.layers[0]!r} has {a.shape[1]}: use the same layer"
            )
        return y.astype(a.dtype, copy=False)

    def __call__(self, blobs):
        layer = self.layers[0]
        a = _blob(blobs, layer)
        xp = get_array_module(a)
        y = self._guide_matrix(a)  # (C, HW')
        n, c = a.shape[:2]
        x = a.reshape(n, c, -1)  # (N, C, HW)
        dots = xp.matmul(x.transpose(0, 2, 1), y)  # (N, HW, HW')
        best = dots.argmax(axis=-1)  # (N, HW)
        g = y[:, best].transpose(1, 0, 2)  # (C, N, HW) -> (N, C, HW)
        value = xp.asarray(dots.max(axis=-1).sum())
        return value, {layer: xp.ascontiguousarray(g).reshape(a.shape)}

    def __repr__(self):
        return f"guide:{self.layers[0]}:{self.image_path or '<features>'}"


class ClassLogit(Objective):
    """Maximise the logit of class ``index``, at any image size.

    BVLC GoogLeNet classifies with an InnerProduct ``loss3/classifier`` over
    the 1x1 ``pool5/7x7_s1`` map of a 224x224 input. Applying its weights as
    a 1x1 convolution instead (Caffe's "net surgery" example,
    ``net_surgery.ipynb``) gives a logit map over the (h, w) ``pool5/7x7_s1``
    map of a larger image; the value is its mean plus the bias:

        value = mean_{n,y,x} sum_c w[index, c] p[n, c, y, x] + b[index]

    and the gradient, seeded at ``pool5/7x7_s1``, is ``w[index, c] / (N h w)``
    at every position. :meth:`bind` fetches ``net.params[classifier]``.
    """

    usage = "class:INDEX[:CLASSIFIER:FEATURES]"

    def __init__(
        self,
        index,
        classifier: str = "loss3/classifier",
        features: str = "pool5/7x7_s1",
    ):
        super().__init__((features,))
        self.index = _as_int(index, "class index")
        self.classifier = classifier
        self._w: Any = None
        self._b = 0.0

    def bind(self, net) -> None:
        try:
            p = net.params[self.classifier]
        except KeyError:
            raise ValueError(
                f"class objective: the model has no layer {self.classifier!r}; "
                "pass the classifier and feature layer names "
                "(class:INDEX:CLASSIFIER:FEATURES)"
            ) from None
        w = p["weight"]
        w = w.reshape(w.shape[0], -1)  # (K, C): Caffe InnerProduct (out, in)
        _check_index(self.index, w.shape[0], "class index", self.classifier)
        self._w = w[self.index]
        bias = p.get("bias")
        self._b = 0.0 if bias is None else float(bias[self.index])

    def __call__(self, blobs):
        if self._w is None:
            raise RuntimeError("class objective used before bind(net)")
        layer = self.layers[0]
        p = _blob(blobs, layer)  # (N, C, h, w)
        xp = get_array_module(p)
        w = xp.asarray(self._w).astype(p.dtype, copy=False)
        if w.shape[0] != p.shape[1]:
            raise ValueError(
                f"{self.classifier!r} takes {w.shape[0]} inputs but {layer!r} "
                f"has {p.shape[1]} channels"
            )
        wb = w.reshape((1, -1) + (1,) * (p.ndim - 2))
        logits = (p * wb).sum(axis=1)  # (N, h, w): the 1x1 convolution
        g = xp.empty_like(p)
        g[...] = wb / logits.size
        return xp.asarray(logits.mean() + self._b), {layer: g}

    def __repr__(self):
        return f"class:{self.index}"


class Balanced(Sum):
    """Terms whose gradients are each scaled to unit L2 norm, then summed.

    For multi-layer dreams: a blob's gradient norm grows with its size and
    depth, so a plain sum is dominated by one layer. Here term i contributes
    ``w_i g_i / ||g_i||`` (norm over all blobs the term reads; ``eps`` guards
    a zero gradient), so each layer pulls equally (the per-layer
    normalisation of e.g. Mordvintsev et al., "Differentiable Image
    Parameterizations", 2018, and many multi-layer DeepDream scripts).

    The scale is treated as a constant, like the dream loop's step
    normalisation: the gradient is that of ``sum_i w_i f_i / c_i`` with
    ``c_i = ||g_i||`` held fixed, and that is the value reported.
    """

    usage = "layers:LAYER,LAYER,..."

    def __init__(
        self,
        terms: Sequence[Objective],
        weights: Sequence[float] | None = None,
        eps: float = 1e-8,
    ):
        terms = tuple(terms)
        if not terms:
            raise ValueError("a balanced objective needs at least one term")
        weights = (1.0,) * len(terms) if weights is None else tuple(weights)
        if len(weights) != len(terms):
            raise ValueError("give one weight per term")
        # Not Sum.__init__: a nested sum stays one term, balanced as a whole.
        Objective.__init__(self, dict.fromkeys(n for t in terms for n in t.layers))
        self.terms, self.weights, self.eps = terms, tuple(map(float, weights)), eps

    def _term_scale(self, weight, grads):
        if not grads:
            return weight / self.eps
        # On the device, a 0-d array: no host synchronisation per step.
        xp = get_array_module(next(iter(grads.values())))
        norm = xp.sqrt(sum((gi * gi).sum() for gi in grads.values()))
        return weight / xp.maximum(norm, self.eps)

    def __repr__(self):
        return f"balanced({', '.join(map(repr, self.terms))})"


def balanced(
    objectives: Iterable[Objective], weights: Sequence[float] | None = None
) -> Balanced:
    """Combine objectives with each gradient normalised to unit norm."""
    return Balanced(tuple(objectives), weights)


def layers(*names: str) -> Balanced:
    """DeepDream at several layers, each layer's gradient at unit norm.

    Spec ``layers:A,B,...``; the factory of :class:`Balanced` for the CLI.
    """
    split = [n.strip() for arg in names for n in arg.split(",") if n.strip()]
    if not split:
        raise ValueError(f"name at least one layer: {Balanced.usage}")
    return Balanced([DeepDream(n) for n in split])


layers.usage = Balanced.usage  # type: ignore[attr-defined]


@hookimpl
def inceptionism_objectives():
    # feature-visualisation objectives live in their own module, which
    # imports this one
    from inceptionism.plugins.fvis import Direction, Diversity

    return {
        "direction": Direction,
        "diversity": Diversity,
        "deepdream": DeepDream,
        "channel": Channel,
        "neuron": Neuron,
        "guide": Guide,
        "class": ClassLogit,
        "layers": layers,
    }
