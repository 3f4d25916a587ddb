"""The custom-kernel switch and its context manager."""

from __future__ import annotations

import pytest

from inceptionism.kernels import backend


@pytest.mark.parametrize("start", [True, False], ids=["on", "off"])
@pytest.mark.parametrize("inside", [True, False], ids=["to-on", "to-off"])
def test_custom_kernels_context_restores_the_switch(monkeypatch, start, inside):
    monkeypatch.setattr(backend, "_custom_kernels", start)
    with backend.custom_kernels(inside):
        assert backend.custom_kernels_enabled() is inside
    assert backend.custom_kernels_enabled() is start


def test_custom_kernels_context_restores_after_an_error(monkeypatch):
    monkeypatch.setattr(backend, "_custom_kernels", True)
    with pytest.raises(RuntimeError), backend.custom_kernels(False):
        raise RuntimeError("boom")
    assert backend.custom_kernels_enabled() is True
