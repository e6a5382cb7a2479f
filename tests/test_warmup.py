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


_LIVE = """
import json, sys
from pathlib import Path
from numba.core import event
from sensorfusion.plugins import get_plugin_host
from sensorfusion.scheduler import Runner, RunOptions, build_rig
from sensorfusion.schema import load_rig

class Compiles(event.Listener):
    def __init__(self):
        self.names = []
    def on_start(self, ev):
        self.names.append(str(ev.data.get("dispatcher", "?")))
    def on_end(self, ev):
        pass

demo = Path(sys.argv[1])
host = get_plugin_host()
rig = build_rig(load_rig(demo), host, base_dir=demo.parent)
runner = Runner(rig, host, RunOptions(duration_s=float(sys.argv[2]), quiet=True))
warm = runner.warm_up()
runner.warm_up = lambda on_progress=None: warm  # done: from here on the clock runs
compiles = Compiles()
event.register("numba:compile", compiles)
result = runner.run()
print(json.dumps({"summary": result.summary, "compiled_while_live": compiles.names}, default=str))
"""


def _live_demo(cache: str, seconds: float = 5.0) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache, "SENSORFUSION_PLUGINS": "sim"}
    proc = subprocess.run(
        [sys.executable, "-c", _LIVE, str(DEMO), str(seconds)], capture_output=True, text=True, env=env, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out: dict = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _queue_full(summary: dict) -> int:
    return sum(v.get("queue_full", 0) for v in summary["drops"].values())


def test_demo_rig_live_on_an_empty_numba_cache_drops_nothing() -> None:
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        cold = _live_demo(cache)
        assert any(Path(cache).rglob("*.nbi")), "the run should have compiled into the empty cache"
        s = cold["summary"]
        # the cause: nothing is compiled once the sources run (every kernel was warmed up)
        assert cold["compiled_while_live"] == [], cold["compiled_while_live"]
        assert s["framesets"] > 0 and s["warmup_s"]["fusion"] > 0
        # the symptom: no frame dropped — on a machine that keeps up with the rig at 30 fps. A
        # machine too busy for that drops frames whatever the cache: when the cold run dropped,
        # the same run with the cache now warm tells which it was.
        if _queue_full(s):
            warm = _live_demo(cache)["summary"]
            assert _queue_full(warm) > 0, f"cold run dropped {s['drops']}, the warm run nothing: compiling cost frames"


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
