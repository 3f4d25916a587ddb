"""Every hook is specified, typed, named and documented (datasette-style)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from inceptionism.plugins import hookspecs

HOOKS = sorted(
    name
    for name, obj in vars(hookspecs).items()
    if inspect.isfunction(obj) and name.startswith("inceptionism_")
)
EVENTS = {
    "inceptionism_dream_start": ["net", "config", "rgb"],
    "inceptionism_step_end": ["net", "state", "x", "value"],
    "inceptionism_tile_end": ["net", "state"],
    "inceptionism_octave_end": ["net", "state", "x"],
    "inceptionism_dream_end": ["net", "config", "rgb"],
}


def test_the_hooks_are_exactly_the_design_ones():
    assert set(HOOKS) == set(hookspecs.REGISTRY_HOOKS.values()) | set(EVENTS)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_a_documented_typed_spec(name):
    fn = getattr(hookspecs, name)
    assert getattr(fn, "inceptionism_spec", None) is not None, "not marked @hookspec"
    doc = inspect.getdoc(fn) or ""
    assert "Called" in doc, f"{name}'s docstring must say when it is called"
    assert "Return" in doc or "return" in doc, f"{name} must say what it returns"
    sig = inspect.signature(fn)
    assert sig.return_annotation is not inspect.Signature.empty
    for p in sig.parameters.values():
        assert p.annotation is not inspect.Parameter.empty, f"{name}({p.name}) untyped"


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_event_signatures_are_the_dream_loops(name):
    assert list(inspect.signature(getattr(hookspecs, name)).parameters) == EVENTS[name]


def test_every_hook_is_in_the_readme():
    readme = Path(__file__).parents[2] / "README.md"
    text = readme.read_text(encoding="utf-8")
    missing = [name for name in HOOKS if name not in text]
    assert not missing, f"hooks not documented in README.md: {missing}"
