"""Fixtures for the plugin tests: a fresh manager per test, a clean env."""

from __future__ import annotations

import pytest

from inceptionism.plugins import get_plugin_manager
from inceptionism.plugins.manager import DISABLE_ENV


@pytest.fixture
def pm(monkeypatch):
    """A new manager with the built-ins only (no installed entry points)."""
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    return get_plugin_manager(entry_points=False)
