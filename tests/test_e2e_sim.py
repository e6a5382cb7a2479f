"""End to end on the simulated rig: the demo, replay identity, and a recording killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sensorfusion.run import main as run_main
from sensorfusion.store import Session

pytest.importorskip("sensorfusion_sim", reason="the sim driver distribution (drivers/sim) is not installed")

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "sim_rig.yaml"

SMALL = """
name: sim-small
seed: 3
sensors:
  - id: sim
    driver: sim.rig
    params: {cameras: 3, people: 2, width: 320, height: 240, fps: 30}
sync: {tolerance_ms: 5}
stages:
  - {id: detector, estimator: sim.keypoints2d, inputs: ["cam*/image", "gt/skeleton3d"]}
  - {id: fusion, estimator: triangulate.dlt, inputs: ["cam*/keypoints2d"]}
sinks:
  - {id: mpjpe, sink: metrics.mpjpe, inputs: ["fusion/skeleton3d", "gt/skeleton3d"], params: {estimate: fusion/skeleton3d}}
"""


def estimates(path: Path) -> dict[str, list]:
    s = Session.open(str(path))
    out = {}
    for key in sorted(s.estimates()):
        stage, name = key.split(":")
        out[key] = list(s.read(name, stage=stage))
    return out


def assert_identical(a: dict[str, list], b: dict[str, list]) -> None:
    assert a.keys() == b.keys() and a
    for k in a:
        assert len(a[k]) == len(b[k]), k
        for x, y in zip(a[k], b[k], strict=True):
            assert (x.t_sensor_ns, x.t_host_ns, x.seq) == (y.t_sensor_ns, y.t_host_ns, y.seq)
            assert x.data.keys() == y.data.keys()
            for f in x.data:
                assert x.data[f].tobytes() == y.data[f].tobytes(), f"{k}.{f} differs at seq {x.seq}"


def test_demo_rig_runs_and_reports_mpjpe(tmp_path, capsys):
    out = tmp_path / "demo.zarr"
    assert run_main([str(DEMO), "--fast", "--duration", "1", "--out", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    m = s["sinks"]["mpjpe"]
    assert s["framesets"] == 31
    assert 5 < m["mpjpe_mm"] < 100, m
    assert m["matched_person_frames"] == 3 * 31 and m["joint_coverage"] > 0.95
    sess = Session.open(str(out))
    assert sess.finished and {f"cam{i}/image" for i in range(4)} <= set(sess.streams())
    assert sess.summary["sinks"]["mpjpe"]["mpjpe_mm"] == m["mpjpe_mm"]
    assert sess.rig["name"] == "sim-demo" and "cam0" in sess.calibration.sensors


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    d = tmp_path_factory.mktemp("rec")
    rig = d / "rig.yaml"
    rig.write_text(SMALL)
    out = d / "orig.zarr"
    assert run_main([str(rig), "--fast", "--duration", "1.5", "--out", str(out), "--quiet"]) == 0
    return rig, out


def test_fast_replay_gives_byte_identical_estimates(recorded, tmp_path):
    rig, orig = recorded
    out = tmp_path / "replay.zarr"
    assert run_main([str(rig), "--fast", "--replay", str(orig), "--out", str(out), "--quiet"]) == 0
    assert_identical(estimates(orig), estimates(out))
    assert Session.open(str(out)).summary["replay_of"] == str(orig)


def test_replay_with_recorded_timing_is_identical_too(recorded, tmp_path):
    rig, orig = recorded
    out = tmp_path / "replay_timed.zarr"
    t0 = time.monotonic()
    assert run_main([str(rig), "--replay", str(orig), "--out", str(out), "--quiet"]) == 0
    assert time.monotonic() - t0 >= 0.5  # paced, not instantaneous (the fast run took the recorded gaps)
    assert_identical(estimates(orig), estimates(out))


def test_replay_of_replay_records_the_same_source_frames(recorded, tmp_path):
    rig, orig = recorded
    out = tmp_path / "replay.zarr"
    assert run_main([str(rig), "--fast", "--replay", str(orig), "--out", str(out), "--quiet"]) == 0
    a, b = Session.open(str(orig)), Session.open(str(out))
    for name in ("cam0/image", "gt/skeleton3d"):
        fa, fb = list(a.read(name)), list(b.read(name))
        assert [f.seq for f in fa] == [f.seq for f in fb]
        assert all(np.array_equal(x.data[k], y.data[k]) for x, y in zip(fa, fb, strict=True) for k in x.data)


def _committed(group: Path) -> int:
    """The committed frame count of a stream group being written (0 until its first commit)."""
    try:
        return int(json.loads((group / "zarr.json").read_text())["attributes"]["count"])
    except (OSError, ValueError, KeyError):
        return 0


def test_killed_recording_opens_and_keeps_all_but_the_last_second(tmp_path):
    out = tmp_path / "killed.zarr"
    rig = tmp_path / "rig.yaml"
    rig.write_text(SMALL)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sensorfusion.run", str(rig), "--out", str(out), "--quiet"],
        env={**os.environ, "SENSORFUSION_PLUGINS": "sim"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # wait until the session has committed frames (not just been created: opening the
    # sources can take a while on a loaded machine), then run a while longer
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _committed(out / "streams" / "cam0" / "image") == 0:
        time.sleep(0.1)
    time.sleep(3.0)
    kill_ns = time.time_ns()
    os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err
    s = Session.open(str(out))
    assert not s.finished
    streams = s.streams()
    assert streams["cam0/image"].count > 30
    last_host = max(int(s.timestamps(n)["t_host_ns"][-1]) for n in streams)
    lost_s = (kill_ns - last_host) / 1e9
    assert lost_s < 1.5, f"lost {lost_s:.2f} s before the kill"
    # every committed frame reads back, for sources and estimates
    for n in streams:
        frames = list(s.read(n))
        assert len(frames) == streams[n].count
    for key, info in s.estimates().items():
        stage, name = key.split(":")
        assert len(list(s.read(name, stage=stage))) == info.count
    # and the killed session replays
    replay = tmp_path / "replay.zarr"
    assert run_main([str(rig), "--fast", "--replay", str(out), "--out", str(replay), "--quiet"]) == 0
