"""Shared fixtures for the core tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_PLUGINS = Path(__file__).resolve().parent / "fixtures" / "plugins"


def shared_data() -> Path:
    """``../shared/data`` or ``$SENSORFUSION_TEST_DATA``."""
    return Path(os.environ.get("SENSORFUSION_TEST_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def fixture_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Put the fake installed distributions of tests/fixtures/plugins on sys.path and reset
    the process-wide plugin host, so entry-point discovery sees them."""
    import sensorfusion.plugins as plugins

    monkeypatch.syspath_prepend(str(FIXTURE_PLUGINS))
    monkeypatch.setattr(plugins, "_HOST", None)
    import sfx_good_plugin

    sfx_good_plugin.CALLS.clear()
    yield FIXTURE_PLUGINS
    monkeypatch.setattr(plugins, "_HOST", None)
