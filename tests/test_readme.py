"""The README's plugin example runs as printed, in under 20 lines."""

from __future__ import annotations

import re
import types
from pathlib import Path

import numpy as np
import pytest

from inceptionism.plugins import get_plugin_manager
from inceptionism.plugins.spec import parse_objective

README = Path(__file__).parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_plugin_example_works_as_printed():
    block = next(b for b in _python_blocks() if "@hookimpl" in b)
    assert len(block.strip().splitlines()) < 20
    plugin = types.ModuleType("readme_plugin")
    exec(compile(block, str(README), "exec"), plugin.__dict__)
    pm = get_plugin_manager(entry_points=False)
    pm.register(plugin, name="readme-plugin")
    obj = parse_objective("mean:inception_4c/output", pm)
    a = np.random.default_rng(3).standard_normal((1, 5, 4, 3)).astype(np.float32)
    value, grads = obj({"inception_4c/output": a})
    assert value == pytest.approx(float(a.mean()))
    np.testing.assert_allclose(grads["inception_4c/output"], 1.0 / a.size)
