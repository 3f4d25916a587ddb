"""The lint configuration in pyproject.toml does what it promises.

Skipped where ruff is not installed (``pip install -e ".[dev]"`` has it).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None, reason="ruff is not installed"
)


def ruff_codes(source: str) -> list[str]:
    """The rule codes ruff reports for ``source``, as a file under tests/."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--quiet"]
        + ["--output-format", "concise", "--stdin-filename", "tests/probe.py", "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode in (0, 1), done.stderr
    return [line.split()[1] for line in done.stdout.splitlines() if ": " in line]


@pytest.mark.parametrize(
    "line",
    [
        "import kernels",
        "import kernels.backend",
        "from kernels.backend import get_array_module",
        "from engine import dream",
        "from weights.hdf5 import load_model",
        "import plugins.base as base",
    ],
)
def test_importing_a_folder_as_a_package_is_refused(line):
    # from the repository root these would load a second copy of the module
    # (kernels.backend next to inceptionism.kernels.backend, each with state)
    assert ruff_codes(f"{line}\n\nprint({line.split()[-1]})\n") == ["TID251"]


def test_importing_the_package_is_fine():
    source = "from inceptionism.kernels import backend\n\nprint(backend)\n"
    assert ruff_codes(source) == []
