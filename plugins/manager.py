"""The plugin manager: built-ins, entry-point plugins, and merged registries.

:func:`get_plugin_manager` builds a new :class:`pluggy.PluginManager` on every
call; nothing is created at import time (datasette's import-time manager is
what we avoid), so tests and library users get fresh, independent managers.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

import pluggy

from inceptionism.plugins import hookspecs

PROJECT = "inceptionism"

#: Environment variable: comma-separated plugin names never to load.
DISABLE_ENV = "INCEPTIONISM_DISABLE_PLUGINS"

#: The built-in plugins, registered like any other under their module names.
BUILTIN_PLUGINS = (
    "inceptionism.plugins.objectives",
    "inceptionism.plugins.regularizers",
    "inceptionism.plugins.priors",
    "inceptionism.plugins.models",
    "inceptionism.plugins.params",
    "inceptionism.plugins.transforms",
)

#: Singular of each registry kind, for messages.
_NOUN = {
    "objectives": "objective",
    "regularizers": "regularizer",
    "priors": "prior",
    "models": "model",
    "params": "parameterisation",
    "transforms": "transform",
}


def disabled_plugins(environ=None) -> set[str]:
    """Plugin names listed in ``INCEPTIONISM_DISABLE_PLUGINS``."""
    value = (os.environ if environ is None else environ).get(DISABLE_ENV, "")
    return {name.strip() for name in value.split(",") if name.strip()}


def get_plugin_manager(
    *, entry_points: bool = True, environ=None
) -> pluggy.PluginManager:
    """A new manager: hook specs, the built-ins, the ``inceptionism`` entry points.

    Plugins named in ``INCEPTIONISM_DISABLE_PLUGINS`` (comma-separated; the
    built-ins' names are their module names, entry-point plugins' names are
    the entry-point names) are blocked before anything loads, so a broken
    third-party plugin can be switched off without uninstalling it.
    ``entry_points=False`` gives the built-ins only (tests, reproducibility).
    Ends with ``check_pending()``: an implementation of a hook that does not
    exist (a typo in a plugin) is an error here, not a silent no-op.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in disabled_plugins(environ):
        pm.set_blocked(name)
    for modname in BUILTIN_PLUGINS:
        if not pm.is_blocked(modname):
            pm.register(importlib.import_module(modname), name=modname)
    if entry_points:
        pm.load_setuptools_entrypoints(PROJECT)
    pm.check_pending()
    return pm


def registry(pm: pluggy.PluginManager, kind: str) -> dict[str, tuple[Any, str]]:
    """Merge one registry hook over all plugins: ``{name: (factory, plugin)}``.

    ``kind`` is ``"objectives"``, ``"regularizers"``, ``"priors"`` or
    ``"models"``. Each implementation is called on its own so that every
    entry can be traced to the plugin that gave it; a name given by two
    plugins is a ``ValueError`` naming both.
    """
    try:
        hook_name = hookspecs.REGISTRY_HOOKS[kind]
    except KeyError:
        raise ValueError(
            f"unknown registry {kind!r}: use one of "
            f"{', '.join(hookspecs.REGISTRY_HOOKS)}"
        ) from None
    merged: dict[str, tuple[Callable[..., Any], str]] = {}
    # get_hookimpls() lists plugins in registration order (built-ins first;
    # pluggy *calls* them in reverse), so a clash blames the later plugin.
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        if impl.hookwrapper or impl.wrapper:
            continue  # wrappers observe calls; they add no entries
        provided = impl.function()
        if provided is None:
            continue
        if not isinstance(provided, dict):
            raise TypeError(
                f"plugin {impl.plugin_name!r}: {hook_name}() must return a dict "
                f"{{name: factory}}, got {type(provided).__name__}"
            )
        for name, factory in provided.items():
            if name in merged:
                raise ValueError(
                    f"{_NOUN[kind]} {name!r} is provided by two plugins, "
                    f"{merged[name][1]!r} and {impl.plugin_name!r}; disable one "
                    f"with {DISABLE_ENV}={impl.plugin_name}"
                )
            merged[name] = (factory, impl.plugin_name)
    return merged
