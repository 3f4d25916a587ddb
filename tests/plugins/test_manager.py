"""The plugin manager: fresh per call, built-ins, clashes, disabling."""

from __future__ import annotations

import sys
import types

import numpy as np
import pluggy
import pytest

from inceptionism.plugins import (
    Objective,
    get_plugin_manager,
    hookimpl,
    parse_objective,
    registry,
)
from inceptionism.plugins import manager as manager_mod
from inceptionism.plugins.manager import BUILTIN_PLUGINS, DISABLE_ENV
from tests.tolerances import tol


# The plugin of design section 6, exactly as written there.
class MeanActivation(Objective):
    """Maximise the mean activation of one layer."""

    def __init__(self, layer):
        super().__init__(layers=(layer,))

    def __call__(self, blobs):
        a = blobs[self.layers[0]]
        return float(a.mean()), {self.layers[0]: a * 0 + 1.0 / a.size}


@hookimpl
def inceptionism_objectives():
    return {"mean": MeanActivation}


design_plugin = sys.modules[__name__]


def _plugin(name, **hooks):
    mod = types.ModuleType(name)
    for hook, value in hooks.items():
        setattr(mod, hook, hookimpl(lambda value=value: value))
    return mod


def test_each_call_builds_a_new_manager(pm):
    other = get_plugin_manager(entry_points=False)
    assert other is not pm
    other.register(_plugin("extra", inceptionism_priors={"p": object}), name="extra")
    assert pm.get_plugin("extra") is None


def test_importing_the_package_builds_no_manager():
    import importlib

    for name in ("", *(f".{m.rsplit('.', 1)[1]}" for m in BUILTIN_PLUGINS)):
        mod = importlib.import_module(f"inceptionism.plugins{name}")
        values = vars(mod).values()
        assert not any(isinstance(v, pluggy.PluginManager) for v in values), name


def test_builtins_are_ordinary_named_plugins(pm):
    assert sorted(pm.get_name(p) for p in pm.get_plugins()) == sorted(BUILTIN_PLUGINS)
    providers = {plugin for _, plugin in registry(pm, "objectives").values()}
    assert providers == {"inceptionism.plugins.objectives"}
    assert {"deepdream", "channel", "neuron", "guide", "class", "layers"} <= set(
        registry(pm, "objectives")
    )
    assert set(registry(pm, "regularizers")) == {"tv", "l2", "l1"}
    assert set(registry(pm, "priors")) == {
        "jitter",
        "clip",
        "smooth",
        "lapnorm",
        "decorrelate",
    }


def test_models_come_from_the_weights_registry(pm):
    from inceptionism.weights.registry import MODELS

    models = registry(pm, "models")
    assert set(models) == set(MODELS)
    spec, provider = models["bvlc_googlenet"]
    assert spec is MODELS["bvlc_googlenet"]
    assert provider == "inceptionism.plugins.models"


def test_design_example_plugin_works_as_written(pm, rng):
    pm.register(design_plugin, name="design-example")
    obj = parse_objective("mean:inception_4c/output", pm)
    assert isinstance(obj, MeanActivation)
    a = rng.standard_normal((1, 4, 3, 5))
    value, grads = obj({"inception_4c/output": a})
    assert value == pytest.approx(a.mean())
    np.testing.assert_allclose(
        grads["inception_4c/output"], np.full(a.shape, 1 / a.size), **tol(a.dtype)
    )
    assert registry(pm, "objectives")["mean"][1] == "design-example"


def test_name_clash_names_both_plugins(pm):
    pm.register(_plugin("a", inceptionism_objectives={"dup": object}), name="plug-a")
    pm.register(_plugin("b", inceptionism_objectives={"dup": object}), name="plug-b")
    with pytest.raises(ValueError, match="'dup'.*'plug-a' and 'plug-b'"):
        registry(pm, "objectives")


def test_clash_with_a_builtin_names_the_builtin(pm):
    pm.register(_plugin("c", inceptionism_priors={"jitter": object}), name="mine")
    with pytest.raises(
        ValueError, match=r"'inceptionism\.plugins\.priors' and 'mine'.*DISABLE"
    ):
        registry(pm, "priors")


def test_registry_refuses_a_non_dict(pm):
    pm.register(_plugin("d", inceptionism_regularizers=["tv"]), name="listy")
    with pytest.raises(TypeError, match="'listy'.*must return a dict"):
        registry(pm, "regularizers")


def test_unknown_registry_kind(pm):
    with pytest.raises(ValueError, match="unknown registry 'objective'"):
        registry(pm, "objective")


def test_disable_env_blocks_plugins_before_loading(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, " inceptionism.plugins.priors , nosuch")
    pm = get_plugin_manager(entry_points=False)
    assert pm.is_blocked("inceptionism.plugins.priors")
    assert pm.is_blocked("nosuch")
    assert registry(pm, "priors") == {}
    assert "deepdream" in registry(pm, "objectives")


def test_check_pending_rejects_a_misspelt_hook(monkeypatch):
    bad = _plugin("typo_plugin", inceptionism_objectivs={"x": object})
    monkeypatch.setitem(sys.modules, "typo_plugin", bad)
    builtins = (*BUILTIN_PLUGINS, "typo_plugin")
    monkeypatch.setattr(manager_mod, "BUILTIN_PLUGINS", builtins)
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    with pytest.raises(pluggy.PluginValidationError, match="inceptionism_objectivs"):
        get_plugin_manager(entry_points=False)
