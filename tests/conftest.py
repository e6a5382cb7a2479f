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


def make_throwaway_venv(where: Path) -> Path:
    """A virtual environment at ``where`` that sees this project's packages (through a ``.pth``
    that adds the current environment's site-packages) but installs into its own, with
    ``python``, ``pip``, ``pytest`` and ``sensorfusion`` in its ``bin/``. ``pip install`` in it
    works offline (no build isolation, no index) and leaves the project's environment alone.
    Returns the ``bin`` folder."""
    import subprocess
    import sys
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=300)
    bin_dir = where / "bin"
    py = bin_dir / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    ours = sysconfig.get_paths()["purelib"]
    Path(site, "_sensorfusion_project.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    scripts = {"pip": "from pip._internal.cli.main import main", "pytest": "from pytest import console_main as main",
               "sensorfusion": "from sensorfusion.cli import main"}  # fmt: skip
    for name, imp in scripts.items():
        script = bin_dir / name
        script.write_text(f"#!{py}\nimport sys\n{imp}\nsys.exit(main())\n")
        script.chmod(0o755)
    return bin_dir


def throwaway_env(bin_dir: Path) -> dict[str, str]:
    """The environment to run commands in a :func:`make_throwaway_venv`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SENSORFUSION_PLUGINS", "SENSORFUSION_BLOCK", "PYTHONPATH"))
    }
    env.update({"PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", "VIRTUAL_ENV": str(bin_dir.parent),
                "PIP_NO_BUILD_ISOLATION": "0", "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "COLUMNS": "100"})  # fmt: skip
    return env
