"""benchmarks/bench_radar.py still runs and keeps its output contract (a table, then one JSON
line with the ratio_* keys); a tiny cube, one repeat — speed is not checked here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_radar.py"


def test_bench_radar_runs_and_prints_its_ratios() -> None:
    pytest.importorskip("mmwave", reason="openradar (the peer) is a bench extra")
    if not BENCH.is_file():
        pytest.skip(f"{BENCH} not in this checkout")
    out = subprocess.run(
        [sys.executable, str(BENCH), "--repeats", "1", "--chirps", "32", "--samples", "64"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert any("cube -> point cloud (full chain)" in line for line in lines)
    result = json.loads(lines[-1])
    assert result["cube_shape"] == [32, 3, 4, 64]
    for key in ("ratio_chain", "ratio_fft", "ratio_cfar", "ratio_chain_openradar_example_threshold"):
        assert result[key] > 0, key
    assert result["openradar_l_bound"] == pytest.approx(12 * 8.0 / 6.0206, rel=1e-3)
    assert result["points_openradar_example_threshold"] >= result["points_openradar"]
    assert result["parser_uart_oob_mb_per_s"] > 0
