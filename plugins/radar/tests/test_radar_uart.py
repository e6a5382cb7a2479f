"""The simulated people through the ti-mmwave UART emulator (real serial protocol over a pty
pair) into radar.cluster / radar.track."""

from __future__ import annotations

import numpy as np
import pytest
from sensorfusion_radar import RadarCluster, RadarTrack

from sensorfusion import DriverContext, FrameSet, StageContext
from sensorfusion.schema import RigCalibration, SensorCalibration
from sensorfusion.schema._skeletons import SkeletonRegistry, builtin_skeletons

ti = pytest.importorskip("sensorfusion_ti_mmwave._uart", reason="needs the ti-mmwave driver")


def test_uart_emulator_streams_the_simulated_people() -> None:
    from sensorfusion_sim import PeopleSim
    from sensorfusion_sim._radar import radar_world_from_sensor

    params = ti.UartDriver.Params.model_validate(
        {
            "emulate": "sensorfusion_radar._uart_sim:sim_people_frames",
            "emulate_params": {"people": 2, "frames": 12},
            "frame_period_ms": 100.0,
            "read_timeout_s": 2.0,
        }
    )
    drv = ti.UartDriver(params, DriverContext("uart0", seed=5, realtime=False))
    drv.open()
    frames = []
    try:
        for _ in range(100):
            frames += [f for f in drv.read() if f.stream == "uart0/points"]
            if len(frames) >= 12:
                break
    finally:
        drv.close()
    assert len(frames) == 12, f"only {len(frames)} of the emulator's 12 frames decoded"
    world = radar_world_from_sensor(0, (6.0, 6.0))
    cal = RigCalibration(sensors={"uart0": SensorCalibration(world_from_sensor=world)})
    spec = next(s for s in drv.streams() if s.name == "uart0/points")
    ctx = StageContext(
        stage_id="people", inputs=[spec], calibration=cal, skeletons=SkeletonRegistry(builtin_skeletons())
    )
    cl = RadarCluster(RadarCluster.Params(min_points=3), ctx)
    tr = RadarTrack(
        RadarTrack.Params(confirm_hits=2),
        StageContext("tracks", cl.outputs(), cal, SkeletonRegistry(builtin_skeletons())),
    )
    people = PeopleSim(5, 2, (6.0, 6.0))
    errs = []
    for k, f in enumerate(frames):
        fs = FrameSet(k, k * 100_000_000, 0, {"uart0/points": f})
        fs.add("people/people", cl.process(fs)["people/people"])
        out = tr.process(fs)["tracks/tracks"]
        # the uart frame number is 1-based; frame k of the emulator is the scene at k * 0.1 s
        gt = people.joints_at((f.seq if f.seq >= 0 else k) * 0.1).mean(axis=1)
        for p in out["position_m"]:
            errs.append(np.min(np.hypot(gt[:, 0] - p[0], gt[:, 1] - p[1])))
    assert len(errs) >= 5
    assert np.median(errs) < 0.4, (errs, [f.seq for f in frames])


def test_radar_example_tracks_the_emulated_uart_board(tmp_path):
    """examples/radar_rig.yaml: the emulated TI board's point clouds (decoded from the serial
    protocol, stamped on the board's clock) join the framesets and are clustered and tracked."""
    from pathlib import Path

    from sensorfusion.run import main as run_main
    from sensorfusion.store import Session

    rig = Path(__file__).resolve().parents[3] / "examples" / "radar_rig.yaml"
    out = tmp_path / "radar.zarr"
    assert run_main([str(rig), "--fast", "--duration", "1.5", "--out", str(out), "--quiet"]) == 0
    s = Session.open(str(out))
    assert s.streams()["uart0/points"].count > 0
    tracks = list(s.read("uart_tracks/tracks", stage="uart_tracks"))
    assert len(tracks) >= s.summary["framesets"] - s.summary["partial_framesets"]
    assert s.summary["estimators"]["uart_tracks"]["tracks_started"] >= 1
    assert s.summary["partial_framesets"] < s.summary["framesets"] // 2
