"""Simulated headsets: camera models, mounting, head motion, pose drift, fisheye rendering, the
detector in the headset's views, determinism."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from sensorfusion_sim import SimHeadsetKeypointDetector, SimRigDriver
from sensorfusion_sim._headset_geometry import HeadMotion, PoseNoise, headset_camera, world_from_head
from sensorfusion_sim._render import PERSON_COLOURS

from sensorfusion import ConfigError, DriverContext, FrameKind, FrameSet, StageContext
from sensorfusion.geometry import project, transform_points
from sensorfusion.schema import SkeletonRegistry, builtin_skeletons

MODELS = ["kannala_brandt", "double_sphere", "scaramuzza", "fisheye624"]


def make(seed: int = 0, **params: Any) -> SimRigDriver:
    base: dict[str, Any] = {"cameras": 1, "people": 2, "render": False, "width": 160, "height": 120}
    return SimRigDriver(
        SimRigDriver.Params.model_validate({**base, **params}), DriverContext("sim", seed=seed, realtime=False)
    )


def frames(drv: SimRigDriver, i: int) -> dict[str, Any]:
    return {f.stream: f for f in drv.frames_at(i)}


@pytest.mark.parametrize("model", MODELS)
def test_the_image_circle_spans_the_field_of_view(model: str):
    from sensorfusion import schema

    if model == "fisheye624" and not hasattr(schema, "Fisheye624Camera"):
        pytest.skip("this core has no Fisheye624 camera model yet")
    cam = headset_camera(model, 200, 200, math.radians(180.0))
    assert cam.model == model
    for az in (0.0, 1.0, 2.5):
        edge = np.array([[math.cos(az), math.sin(az), 1e-9]])  # 90 degrees off the axis
        uv = project(cam, edge, tier="numpy")[0]
        assert abs(np.hypot(uv[0] - 99.5, uv[1] - 99.5) - 100.0) < 0.5, (model, uv)
    assert np.allclose(project(cam, np.array([[0.0, 0.0, 1.0]]), tier="numpy"), 99.5)


def test_headset_streams_calibration_and_mounting():
    drv = make(headsets=[{"person": 1, "id": "quest", "render": True, "width": 64, "height": 64}])
    specs = {s.name: s for s in drv.streams()}
    assert {"quest_left/image", "quest_right/image", "quest/device_pose", "gt_quest/device_pose"} <= set(specs)
    assert (
        specs["quest/device_pose"].kind == FrameKind.DEVICE_POSE and specs["quest/device_pose"].attrs["person_id"] == 1
    )
    assert specs["gt_quest/device_pose"].attrs["ground_truth"] and specs["gt_quest/device_pose"].attrs["wearer"] == 1
    cal = drv.calibration()
    left, right = cal.sensors["quest_left"], cal.sensors["quest_right"]
    assert left.mount.device == right.mount.device == "quest"
    d = np.subtract(right.mount.device_from_sensor.translation_m, left.mount.device_from_sensor.translation_m)
    assert np.allclose(d, [0.10, 0.0, 0.0])
    # optical axes look forward-down: 60 degrees below the device's forward axis (+z), towards +y (down)
    axis = np.asarray(left.mount.device_from_sensor.rotation)[:, 2]
    assert np.allclose(axis, [0.0, math.sin(math.radians(60)), math.cos(math.radians(60))])
    assert "cam0" in cal.sensors  # the room cameras are still there


def test_the_device_sits_on_the_forehead_and_the_head_looks_around():
    plain, worn = make(seed=3), make(seed=3, headsets=[{"person": 0}])
    seen_yaw = []
    for i in (0, 45, 90, 200):
        a, b = frames(plain, i), frames(worn, i)
        ja, jb = a["gt/skeleton3d"].data["joints"], b["gt/skeleton3d"].data["joints"]
        assert np.array_equal(ja[1], jb[1]) and np.array_equal(ja[0, 5:], jb[0, 5:])  # only the wearer's face moves
        assert not np.allclose(ja[0, :5], jb[0, :5])
        # bone lengths of the face are kept (a rigid rotation of the head)
        assert np.allclose(np.linalg.norm(jb[0, 3] - jb[0, 4]), np.linalg.norm(ja[0, 3] - ja[0, 4]), atol=1e-5)
        pose = b["gt_hmd0/device_pose"].data["world_from_device"]
        head = 0.5 * (jb[0, 3] + jb[0, 4])
        local = np.linalg.inv(pose) @ np.r_[head, 1.0]
        assert np.allclose(local[:3], [0.0, 0.03, -0.12], atol=1e-4)  # the head centre behind and below the device
        forward = pose[:3, 2]
        seen_yaw.append(math.atan2(forward[1], forward[0]))
    assert np.ptp(np.unwrap(seen_yaw)) > 0.1
    hm = HeadMotion(3, 0, yaw_deg=30, pitch_deg=20, pitch_bias_deg=-10)
    angles = np.array([hm.angles(t) for t in np.linspace(0, 60, 600)])
    assert np.abs(angles[:, 0]).max() <= math.radians(30) + 1e-9 and np.ptp(angles[:, 0]) > math.radians(20)
    assert abs(np.degrees(angles[:, 1].mean()) + 10) < 6


def test_positive_pitch_looks_up():
    j = make(seed=1).people.joints_at(0.0)[0]
    up = HeadMotion(0, 0, yaw_deg=0, pitch_deg=0, pitch_bias_deg=20).apply(j, 0.0)
    down = HeadMotion(0, 0, yaw_deg=0, pitch_deg=0, pitch_bias_deg=-20).apply(j, 0.0)
    assert up[0, 2] > j[0, 2] > down[0, 2]  # the nose
    fwd = world_from_head(np.stack([j, up]), forward_m=0.1, up_m=0.0)[:, :3, 2]
    # at rest the face's forward axis (head centre -> nose) points ~10 degrees down; 20 up lifts it above
    assert fwd[0, 2] < 0 and abs(math.degrees(math.asin(fwd[1, 2]) - math.asin(fwd[0, 2])) - 20) < 1


def test_reported_pose_drifts_and_jitters_like_tracking():
    noise = PoseNoise(5, 0, drift_m_per_min=0.03, drift_deg_per_min=0.5, jitter_m=0.001, jitter_deg=0.1)
    assert np.allclose(noise.drift(0.0), np.eye(4))
    d60 = noise.drift(60.0)
    assert 0.01 < np.linalg.norm(d60[:3, 3]) < 0.05
    assert abs(abs(math.degrees(math.atan2(d60[1, 0], d60[0, 0]))) - 0.5) < 1e-6
    jit = np.array([noise.jitter(i)[:3, 3] for i in range(2000)])
    assert abs(jit.std() - 0.001) < 1e-4
    assert np.array_equal(noise.jitter(7), noise.jitter(7))


def test_fisheye_views_show_the_wearer_and_are_deterministic():
    hs = [{"person": 0, "render": True, "width": 96, "height": 96}]
    a, b = make(seed=2, headsets=hs), make(seed=2, headsets=hs)
    for i in (5, 50):
        fa = frames(a, i)
        fb = frames(b, i)
        for name in ("hmd0_left/image", "hmd0_right/image", "hmd0/device_pose", "gt_hmd0/device_pose"):
            for k in fa[name].data:
                assert np.array_equal(fa[name].data[k], fb[name].data[k])
        img = fa["hmd0_left/image"].data["image"]
        yy, xx = np.mgrid[0:96, 0:96]
        outside = np.hypot(xx - 47.5, yy - 47.5) > 49
        assert (img[outside] == 0).all()  # nothing outside the image circle
        # the wearer's own body fills a good part of the lower half (its colour, shaded)
        lower = img[60:]
        colour = PERSON_COLOURS[0] / np.linalg.norm(PERSON_COLOURS[0])
        rgb = lower.reshape(-1, 3).astype(float)
        cos = rgb @ colour / np.maximum(np.linalg.norm(rgb, axis=1), 1)
        assert (cos > 0.99).mean() > 0.2
    assert not np.array_equal(
        frames(a, 5)["hmd0_left/image"].data["image"], frames(a, 50)["hmd0_left/image"].data["image"]
    )


def _detector(drv: SimRigDriver, **params: Any) -> SimHeadsetKeypointDetector:
    specs = {s.name: s for s in drv.streams()}
    inputs = [specs["gt/skeleton3d"], *[s for n, s in specs.items() if n.startswith("gt_")]]
    ctx = StageContext("hdet", inputs, drv.calibration(), SkeletonRegistry(builtin_skeletons()), seed=0)
    return SimHeadsetKeypointDetector(SimHeadsetKeypointDetector.Params.model_validate(params), ctx)


def test_the_detector_reports_the_wearer_through_the_fisheye_model():
    drv = make(seed=4, people=3, headsets=[{"person": 2, "person_id": 77}])
    det = _detector(drv, oracle=True)
    cal = drv.calibration()
    out_of_view = occluded_legs = n = 0
    for i in range(0, 300, 10):
        fr = frames(drv, i)
        fs = FrameSet(i, fr["gt/skeleton3d"].t_sensor_ns, 0, dict(fr))
        res = det.process(fs)
        assert set(res) == {"hmd0_left/keypoints2d", "hmd0_right/keypoints2d"}
        pose = fr["gt_hmd0/device_pose"].data["world_from_device"]
        joints = fr["gt/skeleton3d"].data["joints"][2].astype(np.float64)
        for side in ("left", "right"):
            r = res[f"hmd0_{side}/keypoints2d"]
            if not len(r["person_id"]):
                continue
            assert r["person_id"].tolist() == [77]
            sc = cal.sensors[f"hmd0_{side}"]
            m = pose @ sc.mount.device_from_sensor.matrix
            pc = transform_points(np.linalg.inv(m), joints)
            uv = project(sc.camera, pc, tier="numpy")
            kp = r["keypoints"][0]
            seen = np.isfinite(kp[:, 0])
            assert np.abs(kp[seen, :2] - uv[seen]).max() < 1e-3  # oracle: exact projections
            assert not seen[:5].any()  # the wearer's own face is behind the cameras
            in_view = pc[:, 2] / np.linalg.norm(pc, axis=-1) >= 0.0
            assert not (seen & ~in_view).any()
            n += 1
            out_of_view += int(not in_view[[15, 16]].all())
            occluded_legs += int(kp[[15, 16], 2].min() < 0.5)
    assert n > 40
    # the ankles are often hidden from the forehead (by the chest, the thighs) or out of view
    assert (out_of_view + occluded_legs) / n > 0.3


def test_bad_headset_params_name_the_field():
    with pytest.raises(ConfigError) as e:
        make(headsets=[{"person": 5}])
    assert "headsets" in e.value.field_path and "not one of the 2 simulated people" in str(e.value)
    with pytest.raises(ConfigError, match="already wears a headset"):
        make(headsets=[{"person": 0}, {"person": 0}])
