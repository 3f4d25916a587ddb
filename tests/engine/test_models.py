"""Models added by a plugin reach every CLI command that takes a model name."""

from __future__ import annotations

import pytest

from inceptionism.engine import models
from inceptionism.engine.cli import main
from inceptionism.plugins import get_plugin_manager, hookimpl
from inceptionism.weights import load_model
from inceptionism.weights.registry import ModelSpec


def _tiny_graph():
    return {
        "name": "tiny_plugin_net",
        "input": {"name": "data", "shape": [1, 3, 32, 32]},
        "layers": [
            {
                "name": "conv",
                "type": "Convolution",
                "bottom": ["data"],
                "top": ["conv"],
                "params": {"num_output": 4, "kernel_size": 3, "pad": 1},
            },
            {
                "name": "relu",
                "type": "ReLU",
                "bottom": ["conv"],
                "top": ["conv"],
                "params": {},
            },
        ],
    }


TINY = ModelSpec(
    name="tiny_plugin_net",
    url="http://example.invalid/tiny.caffemodel",
    sha1=None,
    size=None,
    mean=(1.0, 2.0, 3.0),
    labels=None,
    graph=_tiny_graph,
    description="a model from a test plugin",
)


class TinyModelPlugin:
    @hookimpl
    def inceptionism_models(self):
        return {"tiny_plugin_net": TINY}


@pytest.fixture
def with_plugin(monkeypatch, tmp_path):
    def manager(*args, **kwargs):
        pm = get_plugin_manager(entry_points=False)
        pm.register(TinyModelPlugin(), name="tiny-plugin")
        return pm

    monkeypatch.setattr(models, "get_plugin_manager", manager)
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "cache"))


def test_plugin_model_is_listed_with_its_provider(with_plugin, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("tiny_plugin_net"))
    assert "tiny-plugin" in line and "no" in line.split()
    assert "bvlc_googlenet" in out


def test_plugin_model_synthetic_weights_and_layers(with_plugin, tmp_path, capsys):
    out_h5 = tmp_path / "tiny.h5"
    assert main(["weights", "synthetic", "tiny_plugin_net", "-o", str(out_h5)]) == 0
    model = load_model(out_h5)
    assert model.name == "tiny_plugin_net"
    assert model.params["conv"]["weight"].shape == (4, 3, 3, 3)
    assert model.preprocess["mean"] == [1.0, 2.0, 3.0]
    capsys.readouterr()
    assert main(["layers", "--model", "tiny_plugin_net", "--size", "32x32"]) == 0
    assert "relu" in capsys.readouterr().out


def test_unknown_model_names_the_close_ones(with_plugin):
    with pytest.raises(
        ValueError, match=r"did you mean tiny_plugin_net\?\); known models"
    ):
        models.resolve_spec("tiny_plugin_nte")


def test_known_but_uncached_model_says_how_to_get_it(with_plugin):
    # no checksum: `weights fetch` refuses it, so the manual way at once
    with pytest.raises(ValueError, match="tiny.caffemodel by hand, then run"):
        models.load_named_model(None, "tiny_plugin_net")
    with pytest.raises(ValueError, match="weights fetch bvlc_googlenet"):
        models.load_named_model(None, "bvlc_googlenet")


def test_a_plugin_model_that_is_not_a_spec_is_refused(monkeypatch):
    class Bad:
        @hookimpl
        def inceptionism_models(self):
            return {"bad": object()}

    pm = get_plugin_manager(entry_points=False)
    pm.register(Bad(), name="bad-plugin")
    with pytest.raises(TypeError, match="bad-plugin.*ModelSpec"):
        models.model_specs(pm)
