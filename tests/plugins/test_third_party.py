"""A third-party plugin, installed from its own distribution, is found and used.

A throwaway distribution ``myplug`` (one module, an ``inceptionism`` entry
point) is built and installed with pip into a temporary folder; fresh
interpreters with that folder on ``PYTHONPATH`` then list its objective
(``inceptionism plugins``) and dream with it (``inceptionism dream
--objective``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from inceptionism.plugins.manager import DISABLE_ENV

PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "myplug"
version = "0.1"

[project.entry-points.inceptionism]
myplug = "myplug"

[tool.setuptools]
py-modules = ["myplug"]
"""

MODULE = '''\
"""A third-party inceptionism plugin: one objective, one observer."""
import os

from inceptionism.plugins import Objective, hookimpl


def _mark(text):
    path = os.environ.get("MYPLUG_MARKER")
    if path:
        with open(path, "a") as f:
            f.write(text + "\\n")


class MeanActivation(Objective):
    """Maximise the mean activation of one layer (test plugin)."""

    def __init__(self, layer):
        super().__init__(layers=(layer,))

    def __call__(self, blobs):
        a = blobs[self.layers[0]]
        _mark(f"value {float(a.mean())!r}")
        return float(a.mean()), {self.layers[0]: a * 0 + 1.0 / a.size}


@hookimpl
def inceptionism_objectives():
    return {"myobj": MeanActivation}


@hookimpl
def inceptionism_dream_end(net, config, rgb):
    _mark(f"dream_end {rgb.shape[0]}x{rgb.shape[1]}")
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The plugin installed (no deps, no network) into a private folder.

    Offline means no build isolation: the build runs on this environment's
    setuptools, which must build wheels itself (>= 70.1, in the ``test``
    extra; older ones need the ``wheel`` package for ``bdist_wheel``).
    """
    root = tmp_path_factory.mktemp("myplug")
    src = root / "src"
    src.mkdir()
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "myplug.py").write_text(MODULE)
    target = root / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index"]
    cmd += ["--no-build-isolation", "--disable-pip-version-check", "-q"]
    cmd += ["--target", str(target), str(src)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert list(target.glob("myplug-0.1.dist-info/entry_points.txt"))
    return target


def run_cli(site, *args, cwd=None, **env):
    environ = {k: v for k, v in os.environ.items() if k != DISABLE_ENV}
    environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(site), environ.get("PYTHONPATH")])
    )
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "inceptionism.engine", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=120,
    )


def test_plugins_lists_the_installed_objective_with_its_provider(site):
    done = run_cli(site, "plugins")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["myobj:LAYER", "myplug", "Maximise"] in [r[:3] for r in rows]
    assert "  myplug (myplug 0.1): inceptionism_dream_end, inceptionism_objectives" in (
        done.stdout.splitlines()
    )


def test_disable_env_blocks_the_installed_plugin(site):
    done = run_cli(site, "plugins", **{DISABLE_ENV: "myplug"})
    assert done.returncode == 0, done.stderr
    assert "myobj" not in done.stdout and "myplug" not in done.stdout
    assert "deepdream[:LAYER]" in done.stdout


def test_dream_uses_the_installed_objective(site, tmp_path):
    if importlib.util.find_spec("inceptionism.engine.cli.dream_cmd") is None:
        pytest.skip("the `dream` command (engine/cli/dream_cmd.py) is missing")
    from PIL import Image

    from inceptionism.weights.hdf5 import save_model
    from inceptionism.weights.synthetic import synthetic_model

    weights = tmp_path / "W.h5"
    save_model(synthetic_model("bvlc_googlenet", seed=0), weights)
    rng = np.random.default_rng(0)
    sample = tmp_path / "sample.png"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(sample)
    marker = tmp_path / "marker.txt"
    out = tmp_path / "out.png"
    done = run_cli(
        site,
        "dream",
        str(sample),
        "--weights",
        str(weights),
        "--objective",
        "myobj:conv2/3x3_reduce",
        "--octaves",
        "1",
        "--steps",
        "1",
        "--seed",
        "0",
        "-o",
        str(out),
        cwd=tmp_path,
        MYPLUG_MARKER=str(marker),
    )
    assert done.returncode == 0, done.stderr
    with Image.open(out) as im:
        assert im.size == (64, 64)
    lines = marker.read_text().splitlines()
    # the plugin's objective was evaluated, then its observer saw the result
    assert len(lines) >= 2 and lines[-1] == "dream_end 64x64"
    assert all(line.startswith("value ") for line in lines[:-1])
    assert np.isfinite([float(line.split()[1]) for line in lines[:-1]]).all()
