"""Benchmarks from a fresh clone (issue 10 item 6): ``./dev.sh setup`` installs every peer the
benchmark scripts need, including the ones pip must install without their dependencies."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _dev_sh_no_deps() -> list[str]:
    """What ``dev.sh``'s ``no_deps_requirements`` prints (its Python, run from the repository root)."""
    text = (ROOT / "dev.sh").read_text()
    body = re.search(r"no_deps_requirements\(\) \{.*?<<'PY'\n(.*?)\nPY\n", text, re.S)
    assert body is not None, "dev.sh has no no_deps_requirements function"
    out = subprocess.run([sys.executable, "-c", body.group(1)], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_dev_setup_installs_pose2sim_without_its_dependencies() -> None:
    reqs = _dev_sh_no_deps()
    assert "pose2sim==0.10.49" in reqs  # bench_fusion.py's peer
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "pose2sim==0.10.49" in root["tool"]["sensorfusion"]["no-deps"]
    # the pin bench_fusion.py asks for when it is missing is the one setup installs
    assert "pose2sim==0.10.49" in (ROOT / "benchmarks" / "bench_fusion.py").read_text()


def test_every_benchmark_peer_is_installed_by_setup() -> None:
    """Each third-party peer a benchmark imports is a dependency, a ``bench`` extra or a no-deps pin."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = " ".join(root["project"]["dependencies"] + root["project"]["optional-dependencies"]["bench"])
    declared += " " + " ".join(_dev_sh_no_deps())
    for d in ("calibration", *(str(p.parent.relative_to(ROOT)) for p in ROOT.glob("plugins/*/pyproject.toml"))):
        meta = tomllib.loads((ROOT / d / "pyproject.toml").read_text())["project"]
        declared += " " + " ".join(meta.get("dependencies", []))
        for extra in meta.get("optional-dependencies", {}).values():
            declared += " " + " ".join(extra)
    peers = {"aniposelib": "aniposelib", "mcap": "mcap", "mmwave": "openradar", "Pose2Sim": "pose2sim",
             "mediapipe": "mediapipe"}  # fmt: skip
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        src = script.read_text()
        for module, dist in peers.items():
            if re.search(rf"(import|from) {module}\b|find_spec\(\"{module}\"\)", src):
                assert dist in declared.lower(), f"{script.name} needs {dist}, which ./dev.sh setup does not install"
