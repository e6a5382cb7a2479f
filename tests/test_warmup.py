"""No drops from warm-up: every kernel a rig runs is compiled (or loaded from Numba's cache)
before the sources start, so a first live run on an empty cache loses nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("sensorfusion_sim", reason="the sim driver distribution (drivers/sim) is not installed")

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "sim_rig.yaml"


def test_demo_rig_live_on_an_empty_numba_cache_drops_nothing() -> None:
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "SENSORFUSION_PLUGINS": "sim"}
        proc = subprocess.run(
            [sys.executable, "-m", "sensorfusion.run", str(DEMO), "--duration", "5", "--no-record", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert any(Path(cache).rglob("*.nbi")), "the run should have compiled into the empty cache"
    s = json.loads(proc.stdout.strip().splitlines()[-1])
    queue_full = {k: v["queue_full"] for k, v in s["drops"].items() if "queue_full" in v}
    assert not queue_full, f"frames dropped while the clock ran: {queue_full}; warm-up {s.get('warmup_s')}"
    assert s["framesets"] >= 150  # 5 s at 30 fps
    assert s["warmup_s"]["fusion"] > 0


def test_warmup_command_fills_the_cache(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "SENSORFUSION_PLUGINS": "sim"}
    proc = subprocess.run(
        [sys.executable, "-m", "sensorfusion", "warmup", str(DEMO)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fusion" in proc.stdout and "warm-up done" in proc.stdout
    assert any(tmp_path.rglob("*.nbi"))


def test_warmup_leaves_estimates_unchanged(tmp_path: Path) -> None:
    """Warming up runs throw-away copies: the estimates of a run are those of a run without it."""
    from sensorfusion.plugins import get_plugin_host
    from sensorfusion.scheduler import Runner, RunOptions, build_rig
    from sensorfusion.schema import load_rig
    from sensorfusion.store import Session

    outs = []
    for warm in (True, False):
        host = get_plugin_host()
        rig = build_rig(load_rig(DEMO), host, base_dir=DEMO.parent, realtime=False)
        runner = Runner(
            rig, host, RunOptions(out=str(tmp_path / f"{warm}.zarr"), realtime=False, max_framesets=20, quiet=True)
        )
        if not warm:
            runner.warm_up = lambda on_progress=None: {}  # type: ignore[method-assign]
        assert runner.run().error is None
        s = Session.open(tmp_path / f"{warm}.zarr")
        outs.append([f["joints"].tobytes() + f["person_id"].tobytes() for f in s.read("fusion:fusion/skeleton3d")])
    assert outs[0] == outs[1] and len(outs[0]) == 20
