"""examples/sim_rgbd.yaml runs end to end (1 s) and reports MPJPE of RGB-D lifting against ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensorfusion.run import main as run_main

pytest.importorskip("sensorfusion_sim", reason="the sim driver distribution (drivers/sim) is not installed")

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sim_rgbd.yaml"


def test_sim_rgbd_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run_main([str(EXAMPLE), "--fast", "--duration", "1", "--out", str(tmp_path / "s.zarr"), "--json", "--quiet"])
        == 0
    )
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["framesets"] == 31 and s["error"] is None
    lift, fused = s["sinks"]["mpjpe"], s["sinks"]["mpjpe_rgbd_tri"]
    assert lift["matched_person_frames"] == 3 * 31 and lift["joint_coverage"] > 0.9
    assert 10 < lift["median_mm"] < 60, lift
    assert 10 < fused["median_mm"] < 60 and fused["joint_coverage"] > 0.98, fused
    assert s["estimators"]["rgbd"]["lifted_fraction"] > 0.95
