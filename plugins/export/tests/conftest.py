"""One short session recorded from the simulated rig (examples/sim_rig.yaml), shared by every
test of this distribution."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "examples" / "sim_rig.yaml"


@pytest.fixture(scope="session")
def session_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sensorfusion_sim", reason="the sim driver distribution (drivers/sim) is not installed")
    from sensorfusion.run import main as run_main

    out = tmp_path_factory.mktemp("export") / "sim.zarr"
    assert run_main([str(DEMO), "--fast", "--duration", "0.6", "--out", str(out), "--quiet"]) == 0
    return out
