"""The scripted tracking scenes of ``sim.rig`` (``scene:``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from sensorfusion_sim import SimKeypointDetector, SimRigDriver

from sensorfusion import DriverContext, FieldSpec, Frame, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.geometry import project_pinhole
from sensorfusion.schema import SkeletonRegistry, builtin_skeletons


def driver(scene: dict[str, Any], people: int = 2, seed: int = 5, **extra: Any) -> SimRigDriver:
    params = {"render": False, "people": people, "scene": scene, **extra}
    return SimRigDriver(SimRigDriver.Params.model_validate(params), DriverContext("sim", seed=seed, realtime=False))


def gt(d: SimRigDriver, i: int) -> Frame:
    return next(f for f in d.frames_at(i) if f.stream == "gt/skeleton3d")


@pytest.mark.parametrize("kind", ["bystander", "dropout", "reentry", "crossing"])
def test_scenes_are_pure_functions_of_seed_and_frame(kind: str) -> None:
    a, b = driver({"kind": kind}), driver({"kind": kind})
    for i in (900, 0, 451, 300):  # any order
        fa, fb = gt(a, i), gt(b, i)
        assert fa.data.keys() == {"joints", "person_id", "hidden"}
        for k in fa.data:
            assert fa.data[k].tobytes() == fb.data[k].tobytes()
    spec = next(s for s in a.streams() if s.name == "gt/skeleton3d")
    for i in range(0, 200, 7):
        spec.validate_frame(gt(a, i))
    other = driver({"kind": kind}, seed=6)
    assert gt(other, 450)["joints"].tobytes() != gt(a, 450)["joints"].tobytes()


def test_plain_rig_has_no_hidden_field() -> None:
    d = SimRigDriver(
        SimRigDriver.Params.model_validate({"render": False}), DriverContext("sim", seed=1, realtime=False)
    )
    assert gt(d, 3).data.keys() == {"joints", "person_id"}


def test_bystander_stands_still_where_exactly_two_cameras_see_them() -> None:
    d = driver({"kind": "bystander"})
    b = d.people.bystander
    assert b == 2 and d.people.num_people == 3
    cal = d.calibration()
    first = gt(d, 0)["joints"][b]
    seeing = 0
    for c in d.camera_ids:
        cam, pose = cal.camera(c), cal.sensors[c].world_from_sensor
        uv, z = project_pinhole(first.astype(np.float64), cam, pose)  # type: ignore[arg-type]
        seeing += bool(
            ((z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < cam.width) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height)).all()
        )
    assert seeing == 2
    for i in range(0, 600, 50):
        assert np.abs(gt(d, i)["joints"][b] - first).max() < 1e-6  # static
    hidden = np.stack([gt(d, i)["hidden"][b] for i in range(300)])
    arm = hidden[:, [7, 9, 10]]
    assert 0.75 < arm.mean() < 0.97  # hidden, with single-frame glimpses
    assert not hidden[:, [0, 5, 6, 11, 12]].any()


def test_dropout_hides_whole_limbs_for_a_while() -> None:
    d = driver({"kind": "dropout"}, people=3)
    hidden = np.stack([gt(d, i)["hidden"] for i in range(900)])  # (T, P, 17)
    assert 0.02 < hidden.mean() < 0.2
    # episodes last several frames (glimpses aside): runs of a hidden wrist longer than 5 frames
    w = hidden[:, :, 9].any(1)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, w.astype(int), 0])))[::2]
    assert runs.max() > 5
    none = driver({"kind": "dropout", "dropout_rate_hz": 0.0})
    assert not np.stack([gt(none, i)["hidden"] for i in range(0, 900, 10)]).any()


def test_reentry_people_leave_the_ground_truth_and_come_back() -> None:
    d = driver({"kind": "reentry", "absent_s": [2.0, 3.0]}, people=1)
    present = np.array([len(gt(d, i)["person_id"]) for i in range(0, 1800, 3)])
    assert present.min() == 0 and present.max() == 1
    changes = np.flatnonzero(np.diff(present))
    assert len(changes) >= 2  # left and came back at least once
    away = np.diff(np.flatnonzero(np.diff(np.r_[1, present, 1])))[::2] * 3 / 30.0
    assert away.min() >= 1.9 and away.max() <= 3.2


def test_crossing_people_pass_close_at_changing_angles() -> None:
    d = driver({"kind": "crossing", "crossing_gap_m": 0.5})
    pos = np.stack([d.people.positions_at(i / 30.0) for i in range(0, 1800, 2)])
    dist = np.linalg.norm(pos[:, 0] - pos[:, 1], axis=-1)
    close = dist < 0.8
    passes = np.count_nonzero(close[1:] & ~close[:-1])
    assert passes >= 4 and 0.4 < dist.min() < 0.7


def test_hidden_joints_are_missed_by_the_detector() -> None:
    d = driver({"kind": "bystander"})
    cal = d.calibration()
    specs = [
        StreamSpec(name=f"{c}/image", kind=FrameKind.IMAGE, fields={"image": FieldSpec(dtype="uint8", shape=(1, 1, 3))})
        for c in d.camera_ids
    ]
    gspec = next(s for s in d.streams() if s.name == "gt/skeleton3d")
    ctx = StageContext("det", [*specs, gspec], cal, SkeletonRegistry(builtin_skeletons()), seed=5)
    det = SimKeypointDetector(SimKeypointDetector.Params.model_validate({"oracle": True}), ctx)
    b = d.people.bystander
    for i in range(20):
        g = gt(d, i)
        fs = FrameSet(i, g.t_sensor_ns, 0, {"gt/skeleton3d": g})
        for c in d.camera_ids:
            fs.frames[f"{c}/image"] = Frame(f"{c}/image", g.t_sensor_ns, 0, i, {"image": np.zeros((1, 1, 3), np.uint8)})
        out = det.process(fs)
        hid = g["hidden"][b]
        for c in d.camera_ids:
            o = out[f"{c}/keypoints2d"]
            for kp, pid in zip(o["keypoints"], o["person_id"], strict=True):
                if pid == b:
                    assert np.isnan(kp[hid, 0]).all() and (kp[hid, 2] == 0).all()


def test_bad_scene_params_are_rejected_with_their_path() -> None:
    with pytest.raises(ValidationError) as e:
        SimRigDriver.Params.model_validate({"scene": {"kind": "stampede"}})
    assert e.value.errors()[0]["loc"] == ("scene", "kind")
    with pytest.raises(ValidationError) as e:
        SimRigDriver.Params.model_validate({"scene": {"kind": "reentry", "absent_s": [3, 1]}})
    assert e.value.errors()[0]["loc"][0] == "scene" and "absent_s" in str(e.value)
