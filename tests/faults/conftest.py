"""Fixtures of the fault-injection suite: a misbehaving plugin on the path, helpers importable."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # faultkit (the suite runs with --import-mode=importlib)

from faultkit import FAULT_PLUGINS  # noqa: E402


@pytest.fixture
def fault_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fault plugin importable in this process (entry points seen by a fresh plugin host);
    anything it left blocked is released at teardown."""
    import sensorfusion.plugins as plugins

    monkeypatch.syspath_prepend(str(FAULT_PLUGINS))
    monkeypatch.setattr(plugins, "_HOST", None)
    monkeypatch.setenv("SENSORFUSION_PLUGINS", "sfx_faults")
    import sfx_faults_plugin

    sfx_faults_plugin.FOREVER.clear()
    yield FAULT_PLUGINS
    sfx_faults_plugin.FOREVER.set()
    monkeypatch.setattr(plugins, "_HOST", None)
