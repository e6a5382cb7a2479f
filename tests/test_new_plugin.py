"""``sensorfusion new-plugin``: the template a plugin author starts from is instantiated,
installed, listed, passes its own tests (the SDK's contracts, a rig recorded and replayed),
and is lint- and type-clean."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sensorfusion.cli import main as cli_main
from tests.conftest import make_throwaway_venv, throwaway_env


def test_new_plugin_refuses_bad_names_and_non_empty_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["new-plugin", "Bad-Name", "--dir", str(tmp_path / "x")]) == 2
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert cli_main(["new-plugin", "ok", "--dir", str(tmp_path / "full")]) == 2
    err = capsys.readouterr().err
    assert "NAME: a plugin name is lower case" in err and "--dir: the folder exists and is not empty" in err
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_the_template_installs_loads_and_passes_its_tests(tmp_path: Path) -> None:
    out = tmp_path / "sensorfusion-demo_np"
    assert cli_main(["new-plugin", "demo_np", "--dir", str(out)]) == 0
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {
        "pyproject.toml",
        "README.md",
        "sensorfusion_demo_np/_plugin.py",
        "tests/test_demo_np.py",
        "examples/rig.yaml",
    } <= files
    assert not [f for f in files if "{{" in f] and "{{" not in "".join((out / f).read_text() for f in files)
    # lint and types, as the SDK's own code
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(out)],
                          capture_output=True, text=True)  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    mypy = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--ignore-missing-imports",
                           str(out / "sensorfusion_demo_np")], capture_output=True, text=True)  # fmt: skip
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
    # installed in a fresh environment: listed as loaded, its tests pass
    bin_dir = make_throwaway_venv(tmp_path / "venv")
    env = throwaway_env(bin_dir)
    for cmd in (
        ["pip", "install", "-e", str(out)],
        ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", str(out / "tests")],
    ):
        r = subprocess.run(
            [str(bin_dir / cmd[0]), *cmd[1:]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"
    assert re.search(r"\d+ passed", r.stdout) and "failed" not in r.stdout
    r = subprocess.run([str(bin_dir / "sensorfusion"), "plugins"], env=env, capture_output=True, text=True, timeout=300)
    assert re.search(r"^demo_np\s+loaded\s+sensorfusion-demo-np 0\.1\.0$", r.stdout, flags=re.M), r.stdout
    assert "drivers: demo_np.walker" in r.stdout and "sinks: demo_np.tallest" in r.stdout
