"""Plugins: objectives, regularizers, image priors and models, via pluggy.

Write a plugin as a module of ``@hookimpl`` functions (hooks in
:mod:`inceptionism.plugins.hookspecs`) and expose it in the ``inceptionism``
entry-point group; the built-ins are registered the same way.
"""

from inceptionism.plugins.base import Objective, Prior, Regularizer, StepState, Sum
from inceptionism.plugins.hookspecs import hookimpl, hookspec
from inceptionism.plugins.manager import get_plugin_manager, registry
from inceptionism.plugins.spec import make_prior, make_regularizer, parse_objective

__all__ = [
    "Objective",
    "Prior",
    "Regularizer",
    "StepState",
    "Sum",
    "get_plugin_manager",
    "hookimpl",
    "hookspec",
    "make_prior",
    "make_regularizer",
    "parse_objective",
    "registry",
]
