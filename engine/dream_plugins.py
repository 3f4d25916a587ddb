"""Resolving a dream's plugins: the objective, regularizers and priors of a
:class:`~inceptionism.engine.dream.DreamConfig` (moved out of
:mod:`inceptionism.engine.dream` to keep that module short; re-exported
there)."""

from __future__ import annotations

from inceptionism.plugins.base import Objective, Prior, Regularizer


def _manager(pm):
    if pm is None:
        from inceptionism.plugins import get_plugin_manager

        pm = get_plugin_manager()
    return pm


def resolve(config, pm, objective=None, regularizers=None, priors=None):
    """Objective, regularizers and priors for ``config``.

    Objects passed in are used as they are; otherwise the config's spec
    strings are parsed through the plugin manager. Priors are ``[clip,
    jitter, *priors]`` so that, ``after_step`` running in reverse, the image
    is un-rolled and then clipped, as in ``make_step``.
    """
    from inceptionism.plugins.spec import make_prior, make_regularizer, parse_objective

    if not isinstance(objective, Objective):
        objective = parse_objective(config.objective, pm)
    regs = [
        r if isinstance(r, Regularizer) else make_regularizer(r, pm)
        for r in (config.regularizers if regularizers is None else regularizers)
    ]
    user = [
        p if isinstance(p, Prior) else make_prior(p, pm)
        for p in (config.priors if priors is None else priors)
    ]
    builtin = []
    if config.clip:
        builtin.append(make_prior("clip", pm))
    if config.jitter:
        builtin.append(make_prior(f"jitter:{config.jitter}", pm))
    return objective, regs, builtin + user
