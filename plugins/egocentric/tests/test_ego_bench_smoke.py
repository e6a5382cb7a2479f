"""benchmarks/eval_egocentric.py runs end to end (tiny settings) and prints its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "eval_egocentric.py"


def test_eval_egocentric_smoke(tmp_path: Path):
    out = subprocess.run(
        [sys.executable, str(BENCH), "--train-sessions", "2", "--test-sessions", "1", "--seconds", "2", "--epochs", "1",
         "--work", str(tmp_path), "--plot", str(tmp_path / "plot.png")],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    record = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("mpjpe_mm_geometric", "mpjpe_mm_learned", "mpjpe_mm_fused", "mpjpe_mm_trivial"):
        assert isinstance(record[key], float) and record[key] > 0, key
    assert record["train_samples"] > 0 and (tmp_path / "plot.png").stat().st_size > 10_000
