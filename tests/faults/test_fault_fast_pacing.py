"""``--fast`` paces sources against each other in sensor time: a run with a cheap fast source
and an expensive slow one forms exactly the framesets a paced (live) run forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from faultkit import run, write_rig

from sensorfusion.store import Session

MIXED = """
name: mixed-rates
sensors:
  - {id: fast, driver: faults.ticker, params: {rate_hz: 100}}
  - {id: slow, driver: faults.ticker, params: {rate_hz: 30, cost_s: 0.005}}
sync: {tolerance_ms: 5}
stages:
  - {id: who, estimator: faults.members, inputs: ["fast/value", "slow/value"]}
"""


def _framesets(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = Session.open(path)
    frames = list(s.read("who/members", stage="who"))
    t_ref = np.array([f.t_sensor_ns for f in frames])
    return t_ref, np.stack([f["member_seq"] for f in frames]), np.stack([f["member_t_ns"] for f in frames])


def _lost(summary: dict) -> dict:
    return {
        k: {r: n for r, n in v.items() if r != "unmatched"}
        for k, v in summary["drops"].items()
        if set(v) - {"unmatched"}
    }


def test_fast_run_forms_the_framesets_of_a_paced_run(tmp_path: Path) -> None:
    rig = write_rig(tmp_path, MIXED)
    paced, fast = tmp_path / "paced.zarr", tmp_path / "fast.zarr"
    a = run([rig, "--duration", "2", "--out", str(paced), "--json"], 90)
    assert a.rc == 0, a.stderr[-2000:]
    # the reference: a paced run that lost nothing (100 Hz frames that are no 30 Hz frame's
    # nearest are 'unmatched' by the grouping rule, not lost)
    assert _lost(a.summary) == {}, a.summary["drops"]
    b = run([rig, "--duration", "2", "--out", str(fast), "--fast", "--json"], 90)
    assert b.rc == 0, b.stderr[-2000:]
    sa, sb = a.summary, b.summary
    assert sa["framesets"] >= 60 and sa["partial_framesets"] == 0
    assert (sb["framesets"], sb["partial_framesets"]) == (sa["framesets"], sa["partial_framesets"])
    assert _lost(sb) == {}, sb["drops"]
    t_a, seq_a, ts_a = _framesets(paced)
    t_b, seq_b, ts_b = _framesets(fast)
    np.testing.assert_array_equal(t_a, t_b)
    np.testing.assert_array_equal(seq_a, seq_b)
    np.testing.assert_array_equal(ts_a, ts_b)
    assert (seq_b >= 0).all()  # every set holds both streams
