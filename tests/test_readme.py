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


def _shell_commands() -> list[list[str]]:
    """The arguments of every ``inceptionism`` command in the README's shell
    blocks (after ``&&`` and pipes too), redirections and comments dropped."""
    import shlex

    commands, inside = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        for part in re.split(r"&&|\|", line) if inside else ():
            m = re.match(r"\s*(?:\S*/)?inceptionism\s+(.*)", part)
            if m:
                words = shlex.split(m.group(1), comments=True)
                redirected = {i + 1 for i, w in enumerate(words) if w in "<>"}
                commands.append(
                    [
                        w
                        for i, w in enumerate(words)
                        if w not in "<>" and i not in redirected
                    ]
                )
    return commands


def test_readme_commands_parse_as_printed(capsys):
    """Every command the README shows is accepted by the CLI's parser: no
    renamed flag, no missing argument, no bad choice."""
    from inceptionism.engine.cli import build_parser

    commands = _shell_commands()
    assert len(commands) > 30 and any(c[0] == "atlas" for c in commands)
    parser = build_parser()
    for argv in commands:
        if "-h" in argv or "--help" in argv:
            continue
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(
                f"README: inceptionism {' '.join(argv)}: {capsys.readouterr().err}"
            )
