"""Recording is decoupled from stage back-pressure: raw frames are recorded as they arrive,
before the stages, so a slow stage (``queue.policy: block``) never costs a recorded frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from faultkit import run, write_rig

from sensorfusion.store import Session

SLOW_STAGE = """
name: backpressure
sensors:
  - {id: cam, driver: faults.ticker, params: {rate_hz: 100, payload_bytes: 20000}}
  - {id: headset, driver: faults.ticker, params: {rate_hz: 100}}
sync: {streams: ["cam/*"]}
stages:
  - {id: slow, estimator: faults.stall, inputs: ["cam/value"], params: {sleep_s: 0.05}, queue: {size: 1, policy: block}}
"""


def test_slow_stage_with_block_policy_never_costs_recorded_frames(tmp_path: Path) -> None:
    out = tmp_path / "s.zarr"
    res = run([write_rig(tmp_path, SLOW_STAGE), "--duration", "2", "--out", str(out), "--json"], 90)
    assert res.rc == 0, res.stderr[-2000:]
    s = res.summary
    # the pipeline could not keep up: the bus dropped frames for the stages (counted) ...
    assert s["drops"]["cam/value"]["queue_full"] > 0, s["drops"]
    # ... but the recording holds every frame each source produced, in order, without a gap
    session = Session.open(out)
    for sid in ("cam", "headset"):
        produced = s["drivers"][sid]["frames_read"]
        seq = session.timestamps(f"{sid}/value")["seq"]
        assert len(seq) == produced, (sid, len(seq), produced)
        np.testing.assert_array_equal(seq, np.arange(produced))
    assert not (s.get("recorder") or {}).get("dropped")
