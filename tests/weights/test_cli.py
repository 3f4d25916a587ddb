"""`inceptionism weights convert|fetch|synthetic` and `inceptionism models`."""

from __future__ import annotations

import numpy as np
import pytest

from inceptionism.engine.cli import main
from inceptionism.weights import load_model, save_model
from inceptionism.weights.registry import MODELS
from inceptionism.weights.synthetic import synthetic_model
from tests.weights import caffe_writer, minnet
from tests.weights.test_download import _closed_port_url, spec_for


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("INCEPTIONISM_HOME", str(h))
    return h


def test_convert(tmp_path, rng, capsys):
    p = minnet.params(rng)
    src = tmp_path / "m.caffemodel"
    src.write_bytes(caffe_writer.net(minnet.training_layers(p), version=1))
    proto = tmp_path / "deploy.prototxt"
    proto.write_text(minnet.DEPLOY_PROTOTXT)
    out = tmp_path / "m.h5"
    rc = main(
        ["weights", "convert", str(src), "--prototxt", str(proto), "-o", str(out)]
    )
    assert rc == 0
    assert "wrote" in capsys.readouterr().out
    m = load_model(out)
    assert m.name == "mini" and m.source["prototxt"] == "deploy.prototxt"
    assert np.array_equal(m.params["classifier"]["weight"], p["classifier"]["weight"])


def test_convert_error_is_one_line_and_leaves_nothing(tmp_path, capsys):
    src = tmp_path / "bad.caffemodel"
    src.write_bytes(b"\x0a\x05Goo")  # name field cut short
    rc = main(["weights", "convert", str(src), "-o", str(tmp_path / "o.h5")])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1
    assert err.startswith("inceptionism: error:") and "truncated" in err
    assert [p.name for p in tmp_path.iterdir()] == ["bad.caffemodel"]


def test_synthetic(tmp_path, capsys):
    out = tmp_path / "s.h5"
    assert main(["weights", "synthetic", "googlenet_places205", "-o", str(out),
                 "--seed", "4"]) == 0  # fmt: skip
    m = load_model(out)
    ref = synthetic_model("googlenet_places205", seed=4)
    assert m.name == "googlenet_places205" and m.source["seed"] == 4
    w = "inception_5b/pool_proj"
    assert np.array_equal(m.params[w]["weight"], ref.params[w]["weight"])


def test_synthetic_unknown_model(tmp_path, capsys):
    assert main(["weights", "synthetic", "nonet", "-o", str(tmp_path / "x.h5")]) == 1
    assert "unknown model 'nonet'; known models: bvlc_googlenet" in (
        capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == []


def test_models_lists_the_registry_and_the_cache(home, capsys):
    home.mkdir()
    save_model(synthetic_model("googlenet_places365"), home / "googlenet_places365.h5")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:4]}
    assert rows == {"bvlc_googlenet": "no", "googlenet_places205": "no",
                    "googlenet_places365": "yes"}  # fmt: skip
    assert str(home) in out


def test_fetch_offline(home, monkeypatch, capsys):
    spec = spec_for(_closed_port_url(), b"x")
    monkeypatch.setitem(MODELS, "mini", spec)
    assert main(["weights", "fetch", "mini"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"download {spec.url} by hand" in err
    assert "inceptionism weights convert FILE.caffemodel --model mini" in err
    assert not any(home.rglob("*.h5")) and not any(home.rglob("*.caffemodel"))


def _fails(capsys, *argv, match):
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc != 0 and err.count("\n") == 1 and err.startswith("inceptionism: error:")
    assert match in err, err


def test_weight_outputs_are_checked_before_the_work(tmp_path, rng, capsys):
    """An existing -o was replaced without --overwrite; a missing folder or a
    folder as -o gave a raw OSError naming the temporary file."""
    out = tmp_path / "s.h5"
    out.write_bytes(b"keep")
    synth = ["weights", "synthetic", "bvlc_googlenet"]
    _fails(capsys, *synth, "-o", out, match="--overwrite")
    assert out.read_bytes() == b"keep"
    _fails(capsys, *synth, "-o", tmp_path / "no" / "s.h5", match="does not exist")
    _fails(capsys, *synth, "-o", tmp_path, match="is a folder")
    _fails(capsys, *synth, "-o", tmp_path / "n.h5", "--seed", "-1", match="--seed")
    src = tmp_path / "m.caffemodel"
    src.write_bytes(caffe_writer.net(minnet.training_layers(minnet.params(rng))))
    proto = tmp_path / "deploy.prototxt"
    proto.write_text(minnet.DEPLOY_PROTOTXT)
    conv = ["weights", "convert", src, "--prototxt", proto, "-o"]
    _fails(capsys, *conv, out, match="--overwrite")
    _fails(capsys, *conv, src, "--overwrite", match="refusing to overwrite the input")
    names = ["deploy.prototxt", "m.caffemodel", "s.h5"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    assert main([str(a) for a in (*conv, out, "--overwrite")]) == 0
    assert load_model(out).name == "mini"


def test_fetch_into_a_cache_that_cannot_be_made(home, monkeypatch, capsys):
    """INCEPTIONISM_HOME unusable: the error said only "[Errno 2] No such file
    or directory"; now it names the folder and INCEPTIONISM_HOME."""
    monkeypatch.setitem(MODELS, "mini", spec_for(_closed_port_url(), b"x"))
    home.write_bytes(b"a file, not a folder")
    _fails(capsys, "weights", "fetch", "mini", match="set INCEPTIONISM_HOME to a")
    assert home.read_bytes() == b"a file, not a folder"
