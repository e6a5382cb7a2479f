"""The runner: restarts, attribution of estimator errors, limits, clean stop on SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from sensorfusion.run import main as run_main

RIG = """
name: counters
sensors:
  - {id: a, driver: sfx.counter, params: {rate_hz: 100, frames: 60, fail_at: [10, 30], fail_times: 3}, restart: {initial_s: 0.01}}
  - {id: b, driver: sfx.counter, params: {rate_hz: 100, frames: 60}}
sync: {tolerance_ms: 3, timeout_ms: 100000}
stages:
  - {id: total, estimator: sfx.sum, inputs: ["*/value"], params: PARAMS}
"""


def write(tmp_path, params="{}", extra=""):
    rig = tmp_path / "rig.yaml"
    rig.write_text(textwrap.dedent(RIG.replace("PARAMS", params)) + extra)
    return str(rig)


def summary_of(capsys):
    out = capsys.readouterr()
    return json.loads(out.out.strip().splitlines()[-1]), out.err


def test_failing_driver_is_restarted_and_the_other_goes_on(fixture_plugins, tmp_path, capsys):
    assert run_main([write(tmp_path), "--fast", "--no-record", "--json"]) == 0
    s, _ = summary_of(capsys)
    kinds = [e["kind"] for e in s["events"] if e["source"] == "a"]
    assert kinds.count("driver_failed") == 6 and kinds.count("driver_restarted") == 6
    restarts = [e for e in s["events"] if e["kind"] == "driver_restarted"]
    assert all(e["gap_ns"] >= 10_000_000 for e in restarts)
    fails = [e for e in s["events"] if e["kind"] == "driver_failed"]
    assert fails[0]["plugin"] == "sfx_good"
    # backoff doubles while it keeps failing, and starts again after a good read
    assert [f["restart_in_s"] for f in fails] == [0.01, 0.02, 0.04, 0.01, 0.02, 0.04]
    assert s["streams"]["a/value"]["count"] == 60 and s["streams"]["b/value"]["count"] == 60
    assert s["framesets"] == 60
    assert s["drivers"]["a"] == {"frames_read": 60, "opens": 7} and s["drivers"]["b"]["opens"] == 1
    (cp,) = [e for e in s["events"] if e["kind"] == "checkpoint" and e["source"] == "a"]
    assert cp["frame"] == 3 and cp["plugin"] == "sfx_good"


def test_estimator_that_raises_is_named_and_the_run_fails(fixture_plugins, tmp_path, capsys):
    assert run_main([write(tmp_path, "{raise_at: 5}"), "--fast", "--no-record", "--json"]) == 1
    s, err = summary_of(capsys)
    assert "plugin 'sfx_good'" in err and "stage 'total'" in err and "sfx.sum" in err and "ValueError: boom" in err
    assert "frameset 5" in err
    assert s["error"] and s["stages"]["total"]["errors"] == 1


def test_on_error_skip_counts_and_goes_on(fixture_plugins, tmp_path, capsys):
    from pathlib import Path

    rig = Path(write(tmp_path, "{raise_at: 5}"))
    rig.write_text(rig.read_text().replace("params: {raise_at: 5}}", "params: {raise_at: 5}, on_error: skip}"))
    rig = str(rig)
    assert run_main([rig, "--fast", "--no-record", "--json"]) == 0
    s, _ = summary_of(capsys)
    assert s["stages"]["total"]["errors"] == 1 and s["stages"]["total"]["count"] == 59
    assert any(e["kind"] == "stage_error" and "sfx_good" in e["message"] for e in s["events"])


def test_max_frames_and_duration_limit_framesets(fixture_plugins, tmp_path, capsys):
    assert run_main([write(tmp_path), "--fast", "--no-record", "--json", "--max-frames", "7"]) == 0
    assert summary_of(capsys)[0]["framesets"] == 7
    assert run_main([write(tmp_path), "--fast", "--no-record", "--json", "--duration", "0.1"]) == 0
    assert summary_of(capsys)[0]["framesets"] == 10  # 0..90 ms at 100 Hz


FAST_RIG = """
name: fast-counters
sensors:
  - {id: a, driver: sfx.counter, params: {rate_hz: 400, frames: 150}}
  - {id: b, driver: sfx.counter, params: {rate_hz: 400, frames: 150}}
sync: {tolerance_ms: 1, timeout_ms: 100000}
stages:
  - {id: total, estimator: sfx.sum, inputs: ["*/value"], params: PARAMS}
"""


def test_replay_at_recorded_timing_waits_for_a_slow_stage_instead_of_dropping(fixture_plugins, tmp_path, capsys):
    rig, slow = tmp_path / "rig.yaml", tmp_path / "slow.yaml"
    rig.write_text(FAST_RIG.replace("PARAMS", "{}"))
    slow.write_text(FAST_RIG.replace("PARAMS", "{sleep_s: 0.01}, queue: {size: 2}"))
    rec = tmp_path / "rec.zarr"
    assert run_main([str(rig), "--fast", "--out", str(rec), "--json"]) == 0
    assert summary_of(capsys)[0]["framesets"] == 150
    # live, the slow stage (10 ms per set, sources at 400 Hz) makes the sources' queues
    # overflow: frames are dropped and counted
    assert run_main([str(slow), "--no-record", "--json"]) == 0
    live, _ = summary_of(capsys)
    assert live["drops"] and live["framesets"] < 150
    # a replay at recorded timing is paced like the live run but loses nothing
    t0 = time.monotonic()
    assert run_main([str(slow), "--replay", str(rec), "--no-record", "--json"]) == 0
    s, _ = summary_of(capsys)
    assert s["framesets"] == 150 and not s["drops"], s["drops"]
    assert s["stages"]["total"]["count"] == 150
    assert time.monotonic() - t0 >= 150 * 0.01


def test_sigint_stops_cleanly_and_flushes(fixture_plugins, tmp_path):
    rig = tmp_path / "rig.yaml"
    rig.write_text(textwrap.dedent(RIG.replace("PARAMS", "{}").replace("frames: 60", "frames: 100000")))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(fixture_plugins), os.environ.get("PYTHONPATH", "")]),
        "SENSORFUSION_PLUGINS": "sfx_good",
    }
    out = tmp_path / "s.zarr"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sensorfusion.run", str(rig), "--json", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / "zarr.json").exists():
        time.sleep(0.05)
    time.sleep(1.5)  # recording for a while
    proc.send_signal(signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    s = json.loads(stdout.strip().splitlines()[-1])
    assert s["interrupted"] is True and s["framesets"] > 10
    from sensorfusion.store import Session

    sess = Session.open(str(out))
    assert sess.finished
    counts = {n: i.count for n, i in sess.streams().items()}
    assert counts["a/value"] >= s["framesets"]
    est = sess.estimates()
    assert sum(i.count for i in est.values()) == s["framesets"]
