"""Model specs from every plugin: the registry the CLI resolves names in.

The weights package knows only its built-in registry; models added by
third-party plugins (``inceptionism_models`` hook) reach ``weights fetch``,
``weights synthetic``, ``weights convert --model``, ``models``, ``layers`` and
``--model`` through :func:`model_specs`.
"""

from __future__ import annotations

from pathlib import Path

from inceptionism.plugins import get_plugin_manager, registry
from inceptionism.weights import load_model
from inceptionism.weights.files import cached_model
from inceptionism.weights.registry import ModelSpec, get_spec


def model_specs(pm=None) -> dict[str, tuple[ModelSpec, str]]:
    """``{name: (spec, providing plugin)}`` over all registered plugins."""
    pm = pm if pm is not None else get_plugin_manager()
    specs: dict[str, tuple[ModelSpec, str]] = {}
    for name, (spec, plugin) in registry(pm, "models").items():
        if not isinstance(spec, ModelSpec):
            raise TypeError(
                f"plugin {plugin!r}: model {name!r} must be a "
                f"inceptionism.weights.registry.ModelSpec, got {type(spec).__name__}"
            )
        specs[name] = (spec, plugin)
    return specs


def resolve_spec(name: str, pm=None) -> ModelSpec:
    """The spec for ``name``; unknown names list the close and known ones."""
    return get_spec(name, {n: spec for n, (spec, _) in model_specs(pm).items()})


#: The model used when neither --model nor --weights is given.
DEFAULT_MODEL = "bvlc_googlenet"


def load_named_model(weights=None, model: str | None = None, pm=None):
    """``(Model, path)`` of ``--weights FILE`` or of a cached registry model.

    An unknown model name lists the known ones; a known one that is not
    cached says how to fetch it or how to work offline.
    """
    if weights:
        return load_model(weights), Path(weights)
    name = model or DEFAULT_MODEL
    spec = resolve_spec(name, pm)
    path = cached_model(name)
    if not path.exists() and (spec.sha1 is None or spec.archive):
        from inceptionism.weights.download import _manual_hint

        raise ValueError(  # `weights fetch` would refuse it: no known checksum
            f"model {name!r} is not in the cache ({path}): "
            + _manual_hint(spec, path, path)
            + f" (offline: `inceptionism weights synthetic {name} -o synth.h5`)"
        )
    if not path.exists():
        raise ValueError(
            f"model {name!r} is not in the cache ({path}): fetch it with "
            f"`inceptionism weights fetch {name}`, or pass --weights FILE "
            f"(offline: `inceptionism weights synthetic {name} -o synth.h5`)"
        )
    return load_model(path), path
