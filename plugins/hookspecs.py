"""Hook specifications: every hook a plugin may implement.

Project name (markers, entry-point group): ``inceptionism``. Two kinds:

- **registries** (collecting): each implementation returns ``{name:
  factory}``; the manager merges them and refuses a name given by two
  plugins (``inceptionism.plugins.manager.registry``).
- **events** (observers): called by the dream loop with fixed arguments, for
  progress display, saving frames, logging. Their return values are ignored.

A factory is called with the colon-separated arguments of a CLI spec, as
strings: ``channel:inception_4d/3x3_reduce:139`` calls the ``channel``
factory as ``factory("inception_4d/3x3_reduce", "139")``.

Modelled on pytest's ``hookspec.py``: one module, typed signatures, a
docstring per hook saying when it is called and what it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover - types only
    from inceptionism.plugins.base import StepState

hookspec = pluggy.HookspecMarker("inceptionism")
#: Marks a plugin's hook implementations (re-exported as
#: ``inceptionism.plugins.hookimpl``).
hookimpl = pluggy.HookimplMarker("inceptionism")

#: Hook names that return ``{name: factory}``, by registry kind.
REGISTRY_HOOKS = {
    "objectives": "inceptionism_objectives",
    "regularizers": "inceptionism_regularizers",
    "priors": "inceptionism_priors",
    "models": "inceptionism_models",
    "params": "inceptionism_params",
    "transforms": "inceptionism_transforms",
}


# -- registries ------------------------------------------------------------
@hookspec
def inceptionism_objectives() -> dict[str, Callable[..., Any]]:
    """Objectives this plugin provides.

    Called whenever an objective spec is resolved (``dream --objective``,
    ``parse_objective``) and by ``inceptionism plugins``.

    Returns ``{name: factory}``; ``factory(*args)`` takes the spec's
    colon-separated arguments as strings and returns an
    :class:`inceptionism.plugins.Objective`.
    """


@hookspec
def inceptionism_regularizers() -> dict[str, Callable[..., Any]]:
    """Regularizers this plugin provides.

    Called whenever a regularizer spec is resolved (``dream --regularizer``,
    ``make_regularizer``) and by ``inceptionism plugins``.

    Returns ``{name: factory}``; ``factory(*args)`` takes the spec's
    arguments as strings (conventionally the weight first, ``tv:0.01``) and
    returns an :class:`inceptionism.plugins.Regularizer`.
    """


@hookspec
def inceptionism_priors() -> dict[str, Callable[..., Any]]:
    """Image priors this plugin provides.

    Called whenever a prior spec is resolved (``dream --prior``,
    ``make_prior``) and by ``inceptionism plugins``.

    Returns ``{name: factory}``; ``factory(*args)`` takes the spec's
    arguments as strings (``jitter:32``) and returns an
    :class:`inceptionism.plugins.Prior`.
    """


@hookspec
def inceptionism_models() -> dict[str, Any]:
    """Models this plugin knows how to obtain.

    Called when a model is looked up by name (``--model``, ``inceptionism
    models``, ``weights fetch``) and by ``inceptionism plugins``.

    Returns ``{name: spec}`` with ``spec`` an
    ``inceptionism.weights.registry.ModelSpec`` (download URL, checksum, mean,
    labels, topology builder).
    """


@hookspec
def inceptionism_params() -> dict[str, Callable[..., Any]]:
    """Image parameterisations this plugin provides (``pixel``, ``fft``).

    Called whenever a parameterisation spec is resolved (``dream --param``)
    and by ``inceptionism plugins``.

    Returns ``{name: factory}``; ``factory(*args)`` takes the spec's
    arguments as strings and returns an
    :class:`inceptionism.plugins.params.Parameterization`.
    """


@hookspec
def inceptionism_transforms() -> dict[str, Callable[..., Any]]:
    """Random input transformations for transformation robustness.

    Called whenever a transforms spec is resolved (``dream --transforms``)
    and by ``inceptionism plugins``.

    Returns ``{name: factory}``; ``factory(*args)`` takes the spec's
    arguments as strings and returns an
    :class:`inceptionism.plugins.transforms.Transform`.
    """


# -- events ----------------------------------------------------------------
@hookspec
def inceptionism_dream_start(net: Any, config: Any, rgb: Any) -> None:
    """Called once when ``dream`` starts, before the first octave.

    ``net`` is the :class:`inceptionism.engine.Net`, ``config`` the dream's
    frozen configuration dataclass and ``rgb`` the input, float32 (H, W, 3)
    RGB 0..255 on the host. The return value is ignored.
    """


@hookspec
def inceptionism_step_end(net: Any, state: StepState, x: Any, value: Any) -> None:
    """Called after every gradient step, once the step's priors have run.

    ``state`` (:class:`inceptionism.plugins.StepState`) says which octave and
    step; ``x`` is the current preprocessed image, shape (1, 3, H, W), on the
    network's device (do not modify it); ``value`` is the step's value, the
    objective's minus each regularizer's weighted penalty, as a 0-d array on
    the network's device (``numpy.ndarray`` or ``cupy.ndarray``). Call
    ``float(value)`` only when you need the number, once per step: on a GPU
    it waits for the step to finish. The return value is ignored.
    """


@hookspec
def inceptionism_tile_end(net: Any, state: StepState) -> None:
    """Called after each tile of a tiled step (bounded-memory dreaming).

    ``state.tile`` is the tile just finished, 0-based, of ``state.n_tiles``
    in this step; ``step_end`` follows the last one. Untiled dreams never
    call it. The return value is ignored.
    """


@hookspec
def inceptionism_octave_end(net: Any, state: StepState, x: Any) -> None:
    """Called after the last step of each octave.

    Arguments as for :func:`inceptionism_step_end` (``state.step`` is the last
    step). ``x`` is the octave's image, base plus detail, shape (1, 3, H, W),
    on the network's device. The return value is ignored.
    """


@hookspec
def inceptionism_dream_end(net: Any, config: Any, rgb: Any) -> None:
    """Called once when ``dream`` finishes, with the result.

    ``rgb`` is the output, float32 (H, W, 3) RGB 0..255 on the host, exactly
    what ``dream`` returns. The return value is ignored.
    """
