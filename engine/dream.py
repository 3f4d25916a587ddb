"""The dream loop: google/deepdream ``dream.ipynb``'s ``deepdream`` and
``make_step``, with objectives, regularizers and priors as plugins.

Per step (defaults = the notebook)::

    x = prior.before_step(x)          # jitter: roll by rng.integers(-32, 33, 2)
    blobs = net.forward(x, end=objective.layers)
    value, seeds = objective(blobs)   # deepdream: 1/2 sum a^2, seed = a
    g = net.backward(seeds)
    value -= sum(reg.weight * reg(x).value)     # regularizers, minimised
    g -= sum(reg.weight * reg(x).grad)
    g = prior.grad(g)                           # smoothing, normalisation, ...
    x += step_size / mean(|g|) * g              # (no update if g == 0)
    x = prior.after_step(x)           # un-roll, then clip to [-mean, scale-mean]

Feature visualisation (:mod:`inceptionism.engine.fvis`: ``--param``,
``--transforms``, ``--mask``) hooks in at four points of this step: the
net's input (a seeded warp; masks follow), the gradient (the warp's
adjoint), the update (through the parameterisation) and the end (an update
mask); with the defaults each hook returns its argument untouched.

Octaves: the preprocessed image is zoomed by ``1 / octave_scale`` ``octaves -
1`` times (:func:`inceptionism.engine.resample.zoom`: align corners, rounded
sizes, as ``scipy.ndimage.zoom(order=1)``); from the smallest up, the dreamed
detail (image minus base) is resized to the next base and added to it. Octaves
too small for the objective's blobs are skipped with an
:class:`OctaveSkippedWarning`. Every random draw comes from one
``numpy.random.Generator`` (``seed``), so the same seed gives the same image.
Everything between preprocess and deprocess stays on the net's device,
the step's value included: it is a 0-d array that only observers turn into
a number (``inceptionism_step_end``), so a step never waits for the GPU.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from inceptionism.engine import fvis
from inceptionism.engine.dream_plugins import _manager, resolve  # noqa: F401
from inceptionism.engine.finite import Watch
from inceptionism.engine.octaves import (  # noqa: F401 - re-exported
    OctaveSkippedWarning,
    octave_bases,
    plan_octaves,
)
from inceptionism.engine.resample import resize, zoom_in
from inceptionism.plugins.base import (
    Objective,
    StepState,
    as_value,
)

#: The notebook's objective: ``objective_L2`` at ``inception_4c/output``.
DEFAULT_OBJECTIVE = "deepdream:inception_4c/output"
#: Largest values of a dream (the command line's ranges too): a recipe
#: with 10**9 octaves hung its replay.
LIMITS = {"octaves": 10_000, "octave_scale": 100.0, "steps": 1_000_000,
          "step_size": 1e6, "jitter": 10_000}  # fmt: skip
#: Most frames of a zoom (``zoom --frames``, a recipe's ``zoom.frames``):
#: 10**12 ran until stopped; 100000 frames are over two hours at 12.5/s.
MAX_FRAMES = 100_000


@dataclass(frozen=True)
class DreamConfig:
    """Every parameter of one dream (defaults = google/deepdream ``dream.ipynb``).

    objective, regularizers, priors : CLI spec strings (``repr`` of objects
        given directly); ``jitter`` and ``clip`` add the built-in priors
        ``jitter:N`` and ``clip`` in front of ``priors``.
    seed : seed of the one ``numpy.random.Generator``; None draws fresh
        entropy (not reproducible).
    """

    objective: str = DEFAULT_OBJECTIVE
    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10
    step_size: float = 1.5
    jitter: int = 32
    clip: bool = True
    seed: int | None = None
    regularizers: tuple[str, ...] = ()
    priors: tuple[str, ...] = ()
    #: feature visualisation (:mod:`inceptionism.engine.fvis`): ``--param``,
    #: ``--transforms``, ``--mask`` (a path), ``--mask-mode``, ``--mask-blur``
    param: str = "pixel"
    transforms: str = ""
    mask: str | None = None
    mask_mode: str = "objective"
    mask_blur: float = 0.0

    def __post_init__(self):
        checks = [
            (self.octaves >= 1, f"octaves must be >= 1, got {self.octaves}"),
            (
                self.octave_scale > 1.0 or self.octaves == 1,
                f"octave scale must be > 1, got {self.octave_scale}",
            ),
            (self.steps >= 0, f"steps must be >= 0, got {self.steps}"),
            (
                0 <= self.step_size < math.inf,
                f"step size must be finite and >= 0, got {self.step_size}",
            ),
            (
                math.isfinite(self.octave_scale),
                f"octave scale must be finite, got {self.octave_scale}",
            ),
            (
                self.seed is None or self.seed >= 0,
                f"seed must be >= 0, got {self.seed}",
            ),
            (self.jitter >= 0, f"jitter must be >= 0, got {self.jitter}"),
        ]
        for name, top in LIMITS.items():
            if getattr(self, name) > top and (
                name != "octave_scale" or self.octaves > 1
            ):
                checks.append((False, f"{name.replace('_', ' ')} must be <= {top:g}"))
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        fvis.check_config(self)

    def to_dict(self) -> dict:
        """JSON-able form (for the recipe); :meth:`from_dict` inverts it."""
        d = dataclasses.asdict(self)
        d["regularizers"], d["priors"] = list(self.regularizers), list(self.priors)
        return fvis.strip_defaults(d)

    @classmethod
    def from_dict(cls, d: dict) -> DreamConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown dream parameters: {', '.join(unknown)}")
        d = dict(d)
        for key in ("regularizers", "priors"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)


# -- resolving plugins -------------------------------------------------------


def _spec(item) -> str:
    return item if isinstance(item, str) else repr(item)


# -- the loop ----------------------------------------------------------------


@np.errstate(over="ignore", invalid="ignore", divide="ignore")  # Watch reports it
def make_step(
    net,
    x,
    objective,
    regularizers,
    priors,
    step_size,
    state,
    watch=None,
    tiles=None,
    on_tile=None,
    extras=None,
):
    """One gradient-ascent step (``dream.ipynb``'s ``make_step``); returns
    ``(x, value)``, both on the net's device: ``value`` is the objective's
    value minus each regularizer's weighted penalty (the quantity the step
    ascends), a 0-d array, never synchronised to the host here. A
    :class:`~inceptionism.engine.finite.Watch` is shown the step's
    ``mean(|g|)``. With ``tiles`` (:func:`inceptionism.engine.tiling.plan`)
    the objective's gradient is computed tile by tile
    (:func:`~inceptionism.engine.tiling.tiled_gradient`, ``on_tile(k, n)``
    after each); everything else is this same step on the whole image.
    ``extras`` (:class:`~inceptionism.engine.fvis.Extras`): parameterisation,
    transforms and masks; None is the notebook's step."""
    extras = extras or fvis.Extras()
    x0 = x
    for p in priors:
        x = p.before_step(x, state)
    xin = extras.net_input(x, state)
    if tiles:
        from inceptionism.engine.tiling import tiled_gradient

        if hasattr(tiles, "draw"):  # approximate halo: tiles move every step
            tiles = tiles.draw(state.rng)
        value, g = tiled_gradient(net, xin, objective, tiles, on_tile)
        value = as_value(value, x)
    else:
        blobs = net.forward(xin, end=list(objective.layers))
        value, seeds = objective(blobs)
        value = as_value(value, x)
        del blobs, xin
        g = net.backward(seeds)
    g = extras.image_grad(g)
    for reg in regularizers:
        penalty, rg = reg(x)
        value = value - reg.weight * as_value(penalty, x)
        g = g - reg.weight * rg
    for p in priors:
        g = p.grad(g, state)
    x = extras.step(x, g, step_size, watch, state.step)
    del g  # before the un-roll's copy (issue 11's memory)
    for p in reversed(priors):
        x = p.after_step(x, state)
    return extras.blend(x0, x), value


def _tile_end(pm, net, state, tile: int, n_tiles: int) -> None:
    state.tile, state.n_tiles = tile, n_tiles
    pm.hook.inceptionism_tile_end(net=net, state=state)


def run(
    net,
    rgb,
    config: DreamConfig = DreamConfig(),  # noqa: B008 - frozen, so shared is fine
    *,
    objective: Objective | None = None,
    regularizers=None,
    priors=None,
    pm=None,
    observers: Iterable = (),
    rng: np.random.Generator | None = None,
    tiling=None,
) -> np.ndarray:
    """Dream ``rgb`` (float (H, W, 3) RGB 0..255, host) with ``config``.

    ``objective``/``regularizers``/``priors`` objects override the config's
    specs; ``observers`` are plugin objects registered on ``pm`` for this call
    (progress bars, frame savers); ``rng`` overrides ``config.seed`` (a zoom
    sequence shares one). ``tiling``: None (untiled), a
    :class:`~inceptionism.engine.tiling_budget.Tiling` or a tile size in
    pixels (:func:`~inceptionism.engine.tiling_budget.tile_plans`).
    Returns float32 (H, W, 3) RGB (in 0..255 when ``clip``; unclipped
    otherwise, as the notebook's ``deprocess``).
    """
    pm = _manager(pm)
    objective, regs, prs = resolve(config, pm, objective, regularizers, priors)
    extras, objective = fvis.Extras.build(config, objective, net, pm)
    rng = np.random.default_rng(config.seed) if rng is None else rng
    layers = [net.resolve(name) for name in objective.layers]
    x = fvis.to_input(net, rgb, objective)
    rgb = np.asarray(rgb, dtype=np.float32)
    todo = plan_octaves(net, x, layers, config.octaves, config.octave_scale)

    plans: list = [None] * len(todo)
    if tiling is not None:
        from inceptionism.engine.tiling_budget import tile_plans

        plans = tile_plans(net, todo, layers, tiling, objective.pointwise)
    octave_tiles = tuple(len(p) if p else 1 for p in plans) if any(plans) else ()
    observers = list(observers)
    for obs in observers:
        pm.register(obs)
    try:
        objective.bind(net)
        pm.hook.inceptionism_dream_start(net=net, config=config, rgb=rgb)
        batch, rgb = rgb.ndim == 4, None  # lean: the observers have had it
        detail = net.xp.zeros_like(todo[0])
        watch = Watch(net.xp, config.objective)
        last = len(todo) - 1
        for octave in range(len(todo)):
            base, todo[octave] = todo[octave], None  # each base only while used
            if octave > 0:
                detail = resize(detail, base.shape[-2:])
            x, detail = detail, None
            x += base  # = base + detail, in the detail's buffer (ours alone)
            base = None if octave == last else base  # no detail after the last
            extras.octave(tuple(x.shape[-2:]), net.xp, x.dtype)
            state = None
            for step in range(config.steps):
                state = StepState(
                    octave=octave,
                    n_octaves=len(todo),
                    step=step,
                    n_steps=config.steps,
                    rng=rng,
                    mean=net.mean,
                    scale=net.scale,
                    octave_tiles=octave_tiles,
                )
                x, value = make_step(
                    net, x, objective, regs, prs, config.step_size, state, watch,
                    plans[octave], functools.partial(_tile_end, pm, net, state),
                    extras,
                )  # fmt: skip
                pm.hook.inceptionism_step_end(net=net, state=state, x=x, value=value)
            watch.check(x, octave, len(todo), config.steps)
            if state is not None:
                pm.hook.inceptionism_octave_end(net=net, state=state, x=x)
            detail = None if base is None else x - base
        out = fvis.from_input(net, x, batch)
        pm.hook.inceptionism_dream_end(net=net, config=config, rgb=out)
    finally:
        for obs in observers:
            pm.unregister(obs)
    return out


def dream(
    net,
    rgb,
    objective=None,
    octaves: int = 4,
    octave_scale: float = 1.4,
    steps: int = 10,
    step_size: float = 1.5,
    jitter: int = 32,
    clip: bool = True,
    seed: int | None = None,
    regularizers: Iterable = (),
    priors: Iterable = (),
    pm=None,
    progress=None,
    observers: Iterable = (),
    rng: np.random.Generator | None = None,
    tiling=None,
    **fv,
) -> np.ndarray:
    """DeepDream ``rgb`` (float (H, W, 3) RGB 0..255) and return the result.

    Defaults are google/deepdream ``dream.ipynb``'s. ``objective`` is None
    (``deepdream:inception_4c/output``), a spec string
    (``"channel:inception_4d/3x3_reduce:139"``) or an
    :class:`~inceptionism.plugins.Objective`; ``regularizers`` and ``priors``
    likewise take specs or objects. ``progress=True`` shows a bar on a
    terminal and log lines on stderr for a long dream elsewhere (or pass a
    :class:`~inceptionism.engine.progress.Progress`).
    ``tiling`` bounds the memory: ``Tiling(memory=2 * 2**30)`` tiles only
    when the untiled dream would need more, ``Tiling(tile=512)`` always cuts
    512-pixel tiles (:class:`~inceptionism.engine.tiling_budget.Tiling`; an
    int is a tile size); tiles take the exact halo, so the result equals the
    untiled dream to float rounding. None (default): untiled.
    ``fv``: feature visualisation, ``param="fft"``, ``transforms="standard"``,
    ``mask="sky.png"``, ``mask_mode="update"``, ``mask_blur=4.0``
    (:mod:`inceptionism.engine.fvis`); ``rgb`` of shape (N, H, W, 3) dreams
    a batch together.
    Returns float32 (H, W, 3) RGB (or (N, H, W, 3)), in 0..255 when ``clip``.
    """
    regularizers, priors = list(regularizers), list(priors)
    config = DreamConfig(
        objective=DEFAULT_OBJECTIVE if objective is None else _spec(objective),
        octaves=octaves,
        octave_scale=octave_scale,
        steps=steps,
        step_size=step_size,
        jitter=jitter,
        clip=clip,
        seed=seed,
        regularizers=tuple(_spec(r) for r in regularizers),
        priors=tuple(_spec(p) for p in priors),
        **fv,
    )
    observers = list(observers)
    if progress:
        from inceptionism.engine.progress import ProgressBar

        observers.append(ProgressBar() if progress is True else progress)
    return run(
        net,
        rgb,
        config,
        objective=objective if isinstance(objective, Objective) else None,
        regularizers=regularizers,
        priors=priors,
        pm=pm,
        observers=observers,
        rng=rng,
        tiling=tiling,
    )


def zoom_frames(
    net,
    rgb,
    frames: int = 100,
    scale: float = 0.05,
    config: DreamConfig = DreamConfig(),  # noqa: B008
    *,
    pm=None,
    observers: Iterable = (),
    rng: np.random.Generator | None = None,
    **overrides,
) -> Iterator[np.ndarray]:
    """The notebook's zoom feedback: dream, yield the frame, zoom in by
    ``1 / (1 - scale)`` about the centre (``affine_transform``, order 1), repeat.

    One generator (``config.seed``, or ``rng`` to continue an interrupted
    sequence) serves the whole sequence, so the same seed gives the same
    frames. ``overrides`` are :func:`run`'s keyword arguments
    (objective/regularizer/prior objects).
    """
    if not 1 <= frames <= MAX_FRAMES:
        raise ValueError(f"frames must be >= 1 and <= {MAX_FRAMES}, got {frames}")
    pm = _manager(pm)
    rng = np.random.default_rng(config.seed) if rng is None else rng
    frame = np.asarray(rgb, dtype=np.float32)
    for i in range(frames):
        frame = run(
            net, frame, config, pm=pm, observers=observers, rng=rng, **overrides
        )
        yield frame
        if i + 1 < frames:
            frame = zoom_in(frame, scale, axes=(0, 1))
