"""Feature visualisation in the one dream loop: parameterisation, transforms,
spatial masks and batches (issue 15).

:class:`Extras` is what :func:`inceptionism.engine.dream.make_step` calls at
four points of every step; with the defaults (pixels, no transforms, no
masks) each call returns its argument untouched, so the notebook's dream is
bit for bit what it was::

    x0 = x
    x = prior.before_step(x)                 # jitter (records state.roll)
    xin = extras.net_input(x, state)         # warp drawn from state.rng;
                                             # masks follow (roll, warp)
    g = net.backward(objective(net.forward(xin)))
    g = extras.image_grad(g)                 # the warp's adjoint
    g -= regularizers; g = prior.grad(g)
    x = extras.step(x, g, ...)               # through the parameterisation
    x = prior.after_step(x)                  # un-roll, clip
    x = extras.blend(x0, x)                  # update mask: x0 + m (x - x0)

**Octaves with a parameterisation.** The image is converted to the
parameter and back at every step
(:mod:`inceptionism.plugins.params`), so octaves keep their meaning: the
picture is dreamed coarse to fine, the parameterisation only shapes each
step. lucid optimises one scale; ``--octaves 1`` does the same here.

**Masks.** ``--mask FILE`` (grey levels as weights 0..1, resized to the
picture, and then with every octave; ``mask_blur`` softens the edges)
weights the objective (``mask_mode="objective"``: the objective becomes
``Masked(objective)``, whose gradient at each blob is the mask resized to
that blob times the term's), the update (``"update"``: the step moves pixel
``i`` by ``m_i`` of its full step, so nothing changes where the mask is 0),
or ``"both"``. Per-term masks come from the spec (``TERM@MASK``). Masks
follow the content: they are rolled with the jitter and warped with the
transforms. Tiling evaluates masked objectives on whole blobs.

**Batches.** ``run`` takes (N, H, W, 3) and dreams N pictures together (one
forward/backward on an (N, 3, H, W) input) so that batch objectives such as
``diversity`` can compare them; it returns (N, H, W, 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from inceptionism.engine.resample import resize
from inceptionism.plugins.base import Objective
from inceptionism.plugins.fvis import Masked, load_mask, masked_terms
from inceptionism.plugins.params import Parameterization, Pixel, step
from inceptionism.plugins.transforms import Transform, Warp, make_transform

MaskMode = Literal["objective", "update", "both"]
MASK_MODES = ("objective", "update", "both")


@dataclass
class Extras:
    """The parameterisation, transform and masks of one dream."""

    param: Parameterization = field(default_factory=Pixel)
    transform: Transform | None = None
    masked: list[Masked] = field(default_factory=list)
    update_mask: np.ndarray | None = None  # host (H, W), 0..1
    _octave: dict = field(default_factory=dict)  # id -> mask at octave size
    _warp: Warp | None = None

    @property
    def plain(self) -> bool:
        return (
            type(self.param) is Pixel
            and self.transform is None
            and not self.masked
            and self.update_mask is None
        )

    # -- set-up ------------------------------------------------------------
    @classmethod
    def build(cls, config: Any, objective: Objective, net: Any, pm: Any):
        """``(extras, objective)`` for a :class:`DreamConfig`; the objective
        is wrapped in :class:`Masked` for an objective mask."""
        from inceptionism.plugins.spec import build

        param = build("params", config.param, pm) if config.param else Pixel()
        param.bind(net.mean, net.scale, net.channel_order)
        update_mask = None
        if config.mask:
            mask = load_mask(config.mask, config.mask_blur)
            if config.mask_mode in ("objective", "both"):
                objective = Masked(objective, config.mask, mask)
            if config.mask_mode in ("update", "both"):
                update_mask = mask
        masked = masked_terms(objective)
        for term in masked:
            if term.mask is None and term.path is not None:
                term.mask = load_mask(term.path, config.mask_blur)
        transform = make_transform(config.transforms, pm)
        return cls(param, transform, masked, update_mask), objective

    def octave(self, hw: tuple[int, int], xp: Any, dtype: Any) -> None:
        """Resize every mask to the octave's picture size ``hw``."""
        self._octave = {}
        for m in [*self.masked, self.update_mask]:
            if m is None:
                continue
            host = m.mask if isinstance(m, Masked) else m
            self._octave[id(m)] = resize(xp.asarray(host, dtype=dtype), hw)

    # -- per step -------------------------------------------------------------
    def net_input(self, x: Any, state: Any) -> Any:
        """The network's input for the step's image ``x``; draws the warp."""
        if self.plain:
            return x
        hw = tuple(x.shape[-2:])
        self._warp = None
        if self.transform is not None:
            self._warp = self.transform.draw(state.rng, hw)
        for term in self.masked:
            m = self._octave[id(term)]
            if state.roll != (0, 0):
                m = _roll(m, state.roll)
            term.frame = m if self._warp is None else self._warp.apply(m, 0.0)
        if self._warp is None:
            return x
        grey = (0.5 * state.scale - _column(state.mean, x)).astype(x.dtype)
        return self._warp.apply(x, grey)

    def image_grad(self, g: Any) -> Any:
        return g if self._warp is None else self._warp.adjoint(g)

    def step(self, x, g, step_size: float, watch: Any, n: int) -> Any:
        return step(self.param, x, g, step_size, watch, n)

    def blend(self, x0: Any, x: Any) -> Any:
        if self.update_mask is None:
            return x
        m = self._octave[id(self.update_mask)]
        return x0 + m * (x - x0)


def _column(mean: Any, like: Any) -> Any:
    from inceptionism.kernels.backend import get_array_module

    xp = get_array_module(like)
    return xp.asarray(mean, dtype=like.dtype).reshape(-1, 1, 1)


def _roll(m: Any, roll: tuple[int, int]) -> Any:
    from inceptionism.kernels.backend import get_array_module

    xp = get_array_module(m)
    return xp.roll(xp.roll(m, roll[1], -1), roll[0], -2)


# -- batches -----------------------------------------------------------------


def _needs_batch(objective: Any) -> bool:
    if getattr(objective, "needs_batch", False):
        return True
    inner = [getattr(objective, "term", None), *getattr(objective, "terms", ())]
    return any(_needs_batch(t) for t in inner if t is not None)


def to_input(net: Any, rgb: Any, objective: Any = None) -> Any:
    """(H, W, 3) or (N, H, W, 3) RGB -> the net's (N, 3, H, W) input;
    ValueError for one picture and an objective that compares a batch's."""
    rgb = np.asarray(rgb, dtype=np.float32)
    single = rgb.ndim == 3 or (rgb.ndim == 4 and rgb.shape[0] == 1)
    if single and _needs_batch(objective):
        raise ValueError(
            "diversity compares the pictures of a batch, and this dream has one; "
            "dream several together in Python: dream(net, rgbs) with rgbs of "
            "shape (N, H, W, 3)"
        )
    if rgb.ndim == 3 and rgb.shape[2] == 3:
        return net.preprocess(rgb)
    if rgb.ndim == 4 and rgb.shape[3] == 3 and rgb.shape[0] >= 1:
        return net.xp.concatenate([net.preprocess(im) for im in rgb])
    raise ValueError(
        f"expected an RGB image of shape (H, W, 3) or a batch (N, H, W, 3), "
        f"got {rgb.shape}"
    )


def from_input(net: Any, x: Any, batch: bool) -> np.ndarray:
    """The inverse of :func:`to_input`."""
    if not batch:
        return net.deprocess(x)
    return np.stack([net.deprocess(x[i : i + 1]) for i in range(x.shape[0])])


def check_config(config: Any) -> None:
    """ValueError for feature-visualisation settings that make no sense."""
    if config.mask_mode not in MASK_MODES:
        raise ValueError(
            f"mask mode must be one of {', '.join(MASK_MODES)}, "
            f"got {config.mask_mode!r}"
        )
    if not 0.0 <= config.mask_blur <= 1000.0:
        raise ValueError(f"mask blur must be in [0, 1000], got {config.mask_blur}")


#: DreamConfig fields of this module, with their defaults (left out of a
#: recipe when at the default, so plain recipes stay as they were).
FIELDS = {
    "param": "pixel",
    "transforms": "",
    "mask": None,
    "mask_mode": "objective",
    "mask_blur": 0.0,
}


def strip_defaults(d: dict) -> dict:
    return {k: v for k, v in d.items() if not (k in FIELDS and v == FIELDS[k])}
