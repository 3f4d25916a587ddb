"""``inceptionism plugins``: every built-in listed with its provider."""

from __future__ import annotations

import json

import pytest

from inceptionism.engine.cli import main
from inceptionism.plugins.manager import DISABLE_ENV

EXPECTED = {
    "objectives": {
        "deepdream[:LAYER]",
        "channel:LAYER:C",
        "neuron:LAYER:C[:Y:X]",
        "guide:LAYER:IMAGE_PATH",
        "class:INDEX[:CLASSIFIER:FEATURES]",
        "layers:LAYER,LAYER,...",
        "direction:LAYER:VEC",
        "diversity:LAYER",
    },
    "regularizers": {"tv[:WEIGHT]", "l2[:WEIGHT]", "l1[:WEIGHT]"},
    "priors": {
        "jitter[:N]",
        "clip",
        "smooth[:SIGMA]",
        "lapnorm[:LEVELS]",
        "decorrelate[:ORDER]",
    },
    "params": {"pixel", "fft[:DECAY]"},
    "transforms": {"standard", "affine:JITTER:SCALE:DEGREES"},
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv(DISABLE_ENV, raising=False)


def test_text_lists_builtins_with_their_provider(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    section = None
    seen = {kind: set() for kind in EXPECTED}
    for line in out.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            section = line[:-1]
        elif section in EXPECTED and line.strip():
            usage, provider = line.split()[:2]
            assert provider == f"inceptionism.plugins.{section}", line
            seen[section].add(usage)
    assert seen == EXPECTED
    assert "bvlc_googlenet" in out
    assert "inceptionism.plugins.models: inceptionism_models" in out


def test_json_output(capsys):
    assert main(["plugins", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in info["objectives"]}
    assert rows["channel"]["plugin"] == "inceptionism.plugins.objectives"
    assert rows["channel"]["usage"] == "channel:LAYER:C"
    assert rows["channel"]["summary"].startswith("Maximise the mean of channel c")
    models = {r["name"]: r["plugin"] for r in info["models"]}
    assert models["bvlc_googlenet"] == "inceptionism.plugins.models"


def test_disabled_builtins_disappear(capsys, monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "inceptionism.plugins.priors")
    assert main(["plugins", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["priors"] == []
    assert info["regularizers"]
