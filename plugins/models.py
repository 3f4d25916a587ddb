"""The built-in models plugin: the weights package's registry, as a hook.

Dependency direction: ``plugins`` -> ``weights`` (data only). The registry
(``inceptionism.weights.registry.MODELS``: URLs, checksums, means,
topology builders) is imported lazily inside the hook, so importing the
plugins never imports the weights package, and ``weights`` never imports
``plugins``.
"""

from __future__ import annotations

from inceptionism.plugins.hookspecs import hookimpl


@hookimpl
def inceptionism_models():
    from inceptionism.weights.registry import MODELS

    return dict(MODELS)
