"""The sim.rig driver: streams, timestamps, determinism, restart, pacing, calibration."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from sensorfusion_sim import SimRigDriver

from sensorfusion import DriverContext, DriverError, EndOfStream, FrameKind
from sensorfusion.geometry import project_pinhole
from sensorfusion.schema import PinholeCamera
from sensorfusion.testing import DriverContract

SMALL = {"width": 160, "height": 120, "cameras": 2}


def make(seed: int = 0, realtime: bool = False, **params: Any) -> SimRigDriver:
    return SimRigDriver(SimRigDriver.Params.model_validate(params), DriverContext("sim", seed=seed, realtime=realtime))


class TestSimRigContract(DriverContract):
    driver_class = SimRigDriver
    params = SMALL
    frames_to_read = 5
    plugin_name = "sim"
    deterministic_timestamps = True


class TestSimRigFiniteContract(DriverContract):
    driver_class = SimRigDriver
    params = {"render": False, "duration_s": 0.2}
    frames_to_read = 10
    finite = True


def test_streams() -> None:
    specs = {s.name: s for s in make().streams()}
    assert sorted(specs) == ["cam0/image", "cam1/image", "cam2/image", "cam3/image", "gt/skeleton3d"]
    img = specs["cam2/image"]
    assert img.kind == FrameKind.IMAGE and img.fields["image"].shape == (480, 640, 3) and img.rate_hz == 30
    gt = specs["gt/skeleton3d"]
    assert gt.kind == FrameKind.SKELETON3D and gt.ragged and gt.skeleton == "coco17"
    assert gt.fields["joints"].dtype == "float32" and gt.fields["joints"].shape == (17, 3)
    assert gt.fields["person_id"].dtype == "int64" and gt.fields["person_id"].shape == ()
    assert [s.name for s in make(render=False).streams()] == ["gt/skeleton3d"]


def test_timestamps_and_seq() -> None:
    drv = make(fps=25.0, **SMALL)
    specs = {s.name: s for s in drv.streams()}
    drv.open()
    for i in range(4):
        frames = drv.read()
        assert {f.stream for f in frames} == set(specs)
        for f in frames:
            specs[f.stream].validate_frame(f)
            assert f.seq == i and f.t_sensor_ns == i * 40_000_000
            assert isinstance(f.t_sensor_ns, int) and isinstance(f.t_host_ns, int)
        assert len({f.t_host_ns for f in frames}) == 1  # one synced exposure
    drv.close()


def test_fps_period_is_rounded_to_int_ns() -> None:
    drv = make(fps=30.0, render=False)
    drv.open()
    t = [drv.read()[0].t_sensor_ns for _ in range(4)]
    assert t == [0, 33_333_333, 66_666_666, 99_999_999]


def test_same_seed_same_frames_and_frames_independent_of_history() -> None:
    a, b = make(seed=3, **SMALL), make(seed=3, **SMALL)
    a.open()
    seq_a = [a.read() for _ in range(8)]
    # b jumps straight to frame 7
    direct = b.frames_at(7)
    for fa, fb in zip(seq_a[7], direct, strict=True):
        assert fa.stream == fb.stream and fa.seq == fb.seq == 7 and fa.t_sensor_ns == fb.t_sensor_ns
        for key in fa.data:
            assert fa[key].tobytes() == fb[key].tobytes()
    other = make(seed=4, **SMALL).frames_at(7)
    assert other[-1]["joints"].tobytes() != direct[-1]["joints"].tobytes()


def test_ground_truth_people() -> None:
    drv = make(render=False, people=5)
    gt = drv.frames_at(30)[0]
    assert gt["joints"].shape == (5, 17, 3) and gt["person_id"].tolist() == [0, 1, 2, 3, 4]
    assert drv.streams()[0].attrs["heights_m"] == pytest.approx(list(drv.people.heights_m))
    none = make(render=False, people=0).frames_at(3)[0]
    assert none["joints"].shape == (0, 17, 3) and none["person_id"].shape == (0,)


def test_images_show_people() -> None:
    drv = make(**SMALL)
    frames = drv.frames_at(0)
    empty = make(people=0, **SMALL).frames_at(0)
    for f, e in zip(frames[:2], empty[:2], strict=True):
        assert f.stream == e.stream
        assert np.count_nonzero(np.any(f["image"] != e["image"], axis=-1)) > 30


def test_restart_after_simulated_disconnect() -> None:
    drv = make(fail_at_frames=[5, 7], render=False)
    drv.open()
    seqs = [drv.read()[0].seq for _ in range(5)]
    with pytest.raises(DriverError, match="simulated disconnect"):
        drv.read()
    drv.close()
    drv.open()
    seqs += [drv.read()[0].seq for _ in range(2)]
    with pytest.raises(DriverError):
        drv.read()
    drv.close()
    drv.open()
    seqs += [drv.read()[0].seq for _ in range(3)]
    assert seqs == list(range(10))  # no duplicate, no gap; each failure happened once


def test_duration_ends_the_stream() -> None:
    drv = make(render=False, duration_s=0.1, fps=30.0)
    drv.open()
    assert [drv.read()[0].seq for _ in range(3)] == [0, 1, 2]
    with pytest.raises(EndOfStream):
        drv.read()


def test_realtime_pacing_and_prompt_stop() -> None:
    drv = make(realtime=True, render=False, fps=50.0)
    drv.open()
    t0 = time.monotonic()
    for _ in range(6):
        drv.read()
    assert time.monotonic() - t0 >= 0.09  # frames 0..5 are due over 100 ms
    slow = make(realtime=True, render=False, fps=0.5)
    slow.open()
    slow.read()  # frame 0 is due at once
    threading.Timer(0.05, slow.context.stop.set).start()
    t0 = time.monotonic()
    assert slow.read() == []
    assert time.monotonic() - t0 < 1.0


def test_fast_mode_does_not_sleep() -> None:
    drv = make(realtime=False, render=False, fps=1.0)
    drv.open()
    t0 = time.monotonic()
    for _ in range(5):
        drv.read()
    assert time.monotonic() - t0 < 0.5


def test_calibration_looks_at_the_room_centre() -> None:
    drv = make(cameras=3, fov_deg=90.0, width=320, height=240, camera_height_m=2.2, k1=-0.05, k2=0.01)
    cal = drv.calibration()
    assert sorted(cal.sensors) == ["cam0", "cam1", "cam2"]
    for sid, sensor in cal.sensors.items():
        cam = sensor.camera
        assert isinstance(cam, PinholeCamera)
        assert cam.fx == pytest.approx(160.0 / math.tan(math.radians(45.0)))
        assert (cam.k1, cam.k2) == (-0.05, 0.01)
        assert sensor.world_from_sensor.translation_m[2] == pytest.approx(2.2)
        x, y, _ = sensor.world_from_sensor.translation_m
        assert abs(x) < 3.0 and abs(y) < 3.0, sid
        uv, z = project_pinhole(np.array([0.0, 0.0, 1.0]), cam, sensor.world_from_sensor)
        np.testing.assert_allclose(uv, [160.0, 120.0], atol=1e-6)
        assert z > 0


def test_params_are_validated() -> None:
    for bad in ({"cameras": 0}, {"people": -1}, {"fps": 0}, {"room_m": (1.0, 6.0)}, {"nonsense": 1}, {"fov_deg": 180}):
        with pytest.raises(ValidationError):
            SimRigDriver.Params.model_validate(bad)
