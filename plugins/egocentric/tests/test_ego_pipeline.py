"""The egocentric estimators in a running rig, and their bad input: a device pose going backwards or
with gaps, a headset calibration with a missing camera, a checkpoint from another skeleton."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sensorfusion_egocentric import StereoTriangulation, load_model
from sensorfusion_sim import SimRigDriver

from sensorfusion import ConfigError, DriverContext, Frame, FrameSet, StageContext
from sensorfusion.run import main as run_main
from sensorfusion.schema import SkeletonRegistry, builtin_skeletons
from sensorfusion.store import Session

RIG = """
name: ego-pipeline
seed: 21
duration_s: {seconds}
sensors:
  - id: sim
    driver: sim.rig
    params: {{cameras: 1, people: 2, render: false, headsets: [{{person: 1, person_id: 7, {headset}}}]}}
sync: {{tolerance_ms: 5}}
{calibration}
stages:
  - {{id: ego_det, estimator: sim.headset_keypoints2d, inputs: ["gt/skeleton3d", "gt_hmd0/device_pose"]}}
  - {{id: geometric, estimator: egocentric.stereo, inputs: ["hmd0_*/keypoints2d", "hmd0/device_pose"]}}
  - {{id: learned, estimator: egocentric.learned, inputs: ["hmd0_*/keypoints2d", "hmd0/device_pose"], params: {{model: "{model}"}}}}
  - {{id: trivial, estimator: egocentric.mean_pose, inputs: ["hmd0_*/keypoints2d", "hmd0/device_pose"], params: {{model: "{model}"}}}}
"""


def run(
    tmp_path: Path, model: Path, *, seconds: float = 1.0, calibration: str = "", headset: str = "render: false"
) -> tuple[int, Path]:
    rig = tmp_path / "rig.yaml"
    rig.write_text(RIG.format(seconds=seconds, model=model, calibration=calibration, headset=headset))
    out = tmp_path / "ego.zarr"
    return run_main([str(rig), "--fast", "--out", str(out), "--quiet"]), out


def test_estimators_in_a_rig(tiny_model: Path, tmp_path: Path):
    code, out = run(tmp_path, tiny_model)
    assert code == 0
    s = Session.open(out)
    gt = {f.t_sensor_ns: f for f in s.read("gt/skeleton3d")}
    poses = {f.t_sensor_ns: f["world_from_device"] for f in s.read("hmd0/device_pose")}
    kps = {
        n: {f.t_sensor_ns: f for f in s.read(f"{n}/keypoints2d", stage="ego_det")} for n in ("hmd0_left", "hmd0_right")
    }
    model = load_model(tiny_model)
    learned = list(s.read("learned/skeleton3d", stage="learned"))
    assert len(learned) == 31
    shoulder_err = []
    for f in learned:
        assert f["person_id"].tolist() == [7] and np.isfinite(f["joints"]).all()
        assert ((f["confidence"] > 0) & (f["confidence"] <= 1)).all()
        # world = the reported device pose applied to the model's device-frame output
        kp = np.full((2, 17, 3), np.nan, dtype=np.float32)
        kp[..., 2] = 0
        for v, n in enumerate(("hmd0_left", "hmd0_right")):
            rows = kps[n][f.t_sensor_ns]["keypoints"]
            if len(rows):  # the detector may miss the wearer in a view
                kp[v] = rows[0]
        dev, _ = model.predict(kp[None])
        m = poses[f.t_sensor_ns]
        assert np.abs(dev[0] @ m[:3, :3].T + m[:3, 3] - f["joints"][0]).max() < 1e-4
    for f in s.read("geometric/skeleton3d", stage="geometric"):
        truth = gt[f.t_sensor_ns]["joints"][1]
        j = f["joints"][0]
        assert np.isnan(j[:5]).all() and (f["confidence"][0, :5] == 0).all()  # the face: never in view
        shoulder_err += list(np.linalg.norm(j[5:7] - truth[5:7], axis=-1))
    assert np.nanmean(shoulder_err) < 0.05  # the shoulders are 25 cm from the cameras: stereo works there
    trivial = list(s.read("trivial/skeleton3d", stage="trivial"))
    m = poses[trivial[0].t_sensor_ns]
    assert np.abs(model.mean_pose @ m[:3, :3].T + m[:3, 3] - trivial[0]["joints"][0]).max() < 1e-4


def _stage(**params: Any) -> tuple[StereoTriangulation, list[tuple[str, str, dict[str, Any]]], SimRigDriver]:
    drv = SimRigDriver(
        SimRigDriver.Params.model_validate(
            {"cameras": 1, "people": 1, "render": False, "headsets": [{"render": False}]}
        ),
        DriverContext("sim", seed=3),
    )
    specs = {s.name: s for s in drv.streams()}
    from sensorfusion_sim import SimHeadsetKeypointDetector

    det_ctx = StageContext(
        "det",
        [specs["gt/skeleton3d"], specs["gt_hmd0/device_pose"]],
        drv.calibration(),
        SkeletonRegistry(builtin_skeletons()),
    )
    det = SimHeadsetKeypointDetector(SimHeadsetKeypointDetector.Params(), det_ctx)
    inputs = [*det.outputs(), specs["hmd0/device_pose"]]
    events: list[tuple[str, str, dict[str, Any]]] = []
    ctx = StageContext("geo", inputs, drv.calibration(), SkeletonRegistry(builtin_skeletons()), config_path="stages[1]")
    ctx.emit = lambda kind, message, extra: events.append((kind, message, extra))
    stage = StereoTriangulation(StereoTriangulation.Params.model_validate(params), ctx)
    stage._det = det  # type: ignore[attr-defined]
    return stage, events, drv


def _frameset(
    stage: StereoTriangulation, drv: SimRigDriver, i: int, pose_t_ns: int | None, pose: np.ndarray | None = None
) -> FrameSet:
    frames = {f.stream: f for f in drv.frames_at(i)}
    fs = FrameSet(i, frames["gt/skeleton3d"].t_sensor_ns, 0, dict(frames))
    for name, data in stage._det.process(fs).items():  # type: ignore[attr-defined]
        fs.add(name, data)
    del fs.frames["hmd0/device_pose"]
    if pose_t_ns is not None:
        m = frames["hmd0/device_pose"]["world_from_device"] if pose is None else pose
        fs.frames["hmd0/device_pose"] = Frame("hmd0/device_pose", pose_t_ns, 0, i, {"world_from_device": m})
    return fs


def test_device_pose_going_backwards_or_with_gaps_is_counted_and_recorded():
    stage, events, drv = _stage(max_pose_age_ms=40, max_pose_gap_ms=100)
    p = drv.period_ns
    out = [stage.process(_frameset(stage, drv, 0, 0))]
    out.append(stage.process(_frameset(stage, drv, 1, -p)))  # a pose from before the last one
    out.append(stage.process(_frameset(stage, drv, 2, None)))  # no pose: the last one is 67 ms old
    out.append(stage.process(_frameset(stage, drv, 12, 12 * p)))  # 400 ms after the last pose: a gap
    bad = np.eye(4)
    bad[:3, :3] *= 2.0
    out.append(stage.process(_frameset(stage, drv, 13, 13 * p, bad)))  # not a rigid transform
    kinds = [e[0] for e in events]
    assert kinds == ["device_pose_backwards", "device_pose_gap", "device_pose_invalid"]
    assert "is not after the previous one" in events[0][1] and events[0][2]["stream"] == "hmd0/device_pose"
    assert (
        bool(out[0]) and bool(out[1]) and not out[2] and bool(out[3]) and bool(out[4])
    )  # frame 13 uses the pose of 12
    s = stage.summary()
    assert s["headsets"]["hmd0"] == {"estimates": 4, "no_pose": 1}
    counts = s["device_pose"]["hmd0"]
    assert counts["backwards"] == 1 and counts["gap"] == 1 and counts["invalid"] == 1 and counts["poses"] == 2


def test_a_headset_calibration_with_a_missing_camera_is_refused(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # the rig file replaces hmd0_right's calibration by a camera fixed in the room: hmd0 keeps one camera
    cal = """calibration:
  sensors:
    hmd0_right: {camera: {model: kannala_brandt, width: 256, height: 256, fx: 81.5, fy: 81.5, cx: 127.5, cy: 127.5}}
"""
    code, _ = run(tmp_path, tiny_model, calibration=cal, headset="width: 32, height: 32")
    assert code == 2  # the first stage that needs the pair says so
    assert (
        "calibration.sensors.hmd0_right: no calibration of headset camera hmd0_right mounted on hmd0"
        in capsys.readouterr().err
    )
    # an egocentric stage refuses the same calibration: hmd0_right is no longer on the headset
    stage, _, drv = _stage()
    cal = drv.calibration()
    from sensorfusion.schema import RigCalibration, SensorCalibration

    fixed = RigCalibration(
        sensors={**cal.sensors, "hmd0_right": SensorCalibration(camera=cal.sensors["hmd0_right"].camera)}
    )
    ctx = StageContext(
        "geo", stage.context.inputs, fixed, SkeletonRegistry(builtin_skeletons()), config_path="stages[1]"
    )
    with pytest.raises(ConfigError, match="camera hmd0_right is not mounted on a device") as e:
        StereoTriangulation(StereoTriangulation.Params(), ctx)
    assert e.value.field_path == "stages[1].inputs"
    only_left = RigCalibration(sensors={k: v for k, v in cal.sensors.items() if k != "hmd0_right"})
    inputs = [i for i in stage.context.inputs if i.sensor != "hmd0_right"]
    ctx = StageContext("geo", inputs, only_left, SkeletonRegistry(builtin_skeletons()))
    with pytest.raises(
        ConfigError,
        match="headset 'hmd0' needs exactly two cameras mounted on it in the calibration, found 1 \\(hmd0_left\\)",
    ):
        StereoTriangulation(StereoTriangulation.Params(), ctx)
    # both cameras calibrated but one view not wired into the stage
    with pytest.raises(ConfigError, match="no keypoint input for camera hmd0_right"):
        StereoTriangulation(
            StereoTriangulation.Params(), StageContext("geo", inputs, cal, SkeletonRegistry(builtin_skeletons()))
        )


def test_a_checkpoint_for_another_skeleton_is_refused_by_the_rig(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    raw = torch.load(tiny_model, weights_only=True)
    meta = json.loads(raw["meta"])
    smpl = next(s for s in builtin_skeletons() if s.name == "smpl24")
    meta["skeleton"], meta["joints"] = "smpl24", list(smpl.joints)
    other = tmp_path / "smpl.pt"
    torch.save({**raw, "meta": json.dumps(meta)}, other)
    code, _ = run(tmp_path, other)
    assert code == 2
    err = capsys.readouterr().err
    assert (
        "stages[2].params.model" in err and "trained for skeleton 'smpl24' (24 joints), the inputs are 'coco17'" in err
    )


def test_train_if_missing_trains_a_model_on_simulated_sessions(tmp_path: Path):
    model = tmp_path / "models" / "auto.pt"
    text = RIG.format(seconds=0.5, model=model, calibration="", headset="render: false").replace(
        f'params: {{model: "{model}"}}}}\n  - {{id: trivial',
        f'params: {{model: "{model}", train_if_missing: true, train_sessions: 2, train_seconds: 2}}}}\n  - {{id: trivial',
    )
    assert "train_if_missing" in text
    rig = tmp_path / "rig.yaml"
    rig.write_text(text)
    assert run_main([str(rig), "--fast", "--no-record", "--quiet"]) == 0
    trained = load_model(model)
    assert trained.skeleton == "coco17" and trained.meta["train_samples"] > 0 and len(trained.meta["sessions"]) == 2
