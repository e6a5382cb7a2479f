"""The simulated 2D keypoint detector: exactness without errors, the error model, determinism."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import pytest
from sensorfusion_sim import SimKeypointDetector, SimRigDriver, joint_occlusion

from sensorfusion import (
    ConfigError,
    DriverContext,
    FieldSpec,
    Frame,
    FrameKind,
    FrameSet,
    RigCalibration,
    StageContext,
    StreamSpec,
)
from sensorfusion.geometry import world_to_pixels
from sensorfusion.schema import SkeletonRegistry, builtin_skeletons
from sensorfusion.testing import EstimatorContract

FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
PLACEHOLDER = np.zeros((480, 640, 3), dtype=np.uint8)  # the detector never looks at pixels


@cache
def rig(seed: int = 0, people: int = 3) -> SimRigDriver:
    return SimRigDriver(
        SimRigDriver.Params(render=False, people=people), DriverContext("sim", seed=seed, realtime=False)
    )


def image_specs(n: int = 4) -> list[StreamSpec]:
    return [
        StreamSpec(
            name=f"cam{i}/image",
            kind=FrameKind.IMAGE,
            fields={"image": FieldSpec(dtype="uint8", shape=(480, 640, 3))},
            rate_hz=30,
        )
        for i in range(n)
    ]


def inputs(drv: SimRigDriver) -> list[StreamSpec]:
    return sorted(image_specs() + drv.streams(), key=lambda s: s.name)


def frameset(drv: SimRigDriver, index: int, cams: int = 4) -> FrameSet:
    frames = {f.stream: f for f in drv.frames_at(index)}
    t = frames["gt/skeleton3d"].t_sensor_ns
    for i in range(cams):
        frames[f"cam{i}/image"] = Frame(f"cam{i}/image", t, 0, index, {"image": PLACEHOLDER})
    return FrameSet(index, t, 0, frames, tuple(sorted(frames)))


def detector(
    drv: SimRigDriver | None = None, seed: int = 0, calibration: RigCalibration | None = None, **params: Any
) -> SimKeypointDetector:
    drv = drv or rig()
    ctx = StageContext(
        "detector", inputs=inputs(drv), calibration=calibration or drv.calibration(),
        skeletons=SkeletonRegistry(builtin_skeletons()), seed=seed,
    )  # fmt: skip
    return SimKeypointDetector(SimKeypointDetector.Params.model_validate(params), ctx)


def truth(drv: SimRigDriver, fs: FrameSet, cam: str) -> np.ndarray:
    cal = drv.calibration().sensors[cam]
    joints = fs.frames["gt/skeleton3d"]["joints"].astype(np.float64)
    return world_to_pixels(cal.camera, cal.world_from_sensor, joints, tier="numpy")  # type: ignore[arg-type]


class TestSimKeypointsContract(EstimatorContract):
    estimator_class = SimKeypointDetector
    plugin_name = "sim"

    def input_specs(self) -> list[StreamSpec]:
        return inputs(rig())

    def calibration(self) -> RigCalibration:
        return rig().calibration()

    def framesets(self) -> Sequence[FrameSet]:
        return [frameset(rig(), i) for i in (0, 40, 200)]


def test_outputs_per_camera() -> None:
    outs = {s.name: s for s in detector().outputs()}
    assert sorted(outs) == [f"cam{i}/keypoints2d" for i in range(4)]
    spec = outs["cam0/keypoints2d"]
    assert spec.kind == FrameKind.KEYPOINTS2D and spec.ragged and spec.skeleton == "coco17"
    assert spec.fields["keypoints"].shape == (17, 3) and spec.fields["keypoints"].dtype == "float32"
    assert spec.fields["person_id"].dtype == "int64"


def test_missing_camera_calibration_is_a_config_error() -> None:
    cal = rig().calibration()
    partial = RigCalibration(sensors={k: v for k, v in cal.sensors.items() if k != "cam1"})
    with pytest.raises(ConfigError) as info:
        detector(calibration=partial)
    assert info.value.field_path == "calibration.sensors.cam1.camera"


def test_needs_a_ground_truth_input() -> None:
    ctx = StageContext(
        "det", inputs=image_specs(), calibration=rig().calibration(), skeletons=SkeletonRegistry(builtin_skeletons())
    )
    with pytest.raises(ConfigError, match="skeleton3d"):
        SimKeypointDetector(SimKeypointDetector.Params(), ctx)


@pytest.mark.parametrize(
    "params",
    [
        {"oracle": True},
        {
            "noise_px": 0.0,
            "miss_prob": 0.0,
            "occluded_miss_prob": 0.0,
            "outlier_prob": 0.0,
            "swap_prob": 0.0,
            "person_miss_prob": 0.0,
        },
    ],
)
def test_without_errors_keypoints_are_the_projection(params: dict[str, Any]) -> None:
    drv, det = rig(), detector(**params)
    compared = 0
    for index in range(0, 300, 10):
        fs = frameset(drv, index)
        out = det.process(fs)
        for cam in range(4):
            res = out[f"cam{cam}/keypoints2d"]
            uv = truth(drv, fs, f"cam{cam}")
            for kp, pid in zip(res["keypoints"], res["person_id"], strict=True):
                inside = (uv[pid, :, 0] >= 0) & (uv[pid, :, 0] <= 639) & (uv[pid, :, 1] >= 0) & (uv[pid, :, 1] <= 479)
                np.testing.assert_array_equal(np.isnan(kp[:, 0]), ~inside)
                np.testing.assert_allclose(kp[inside, :2], uv[pid, inside], atol=1e-3)
                assert np.all(kp[inside, 2] > 0) and np.all(kp[~inside, 2] == 0)
                compared += int(inside.sum())
    assert compared > 3000


def run_many(det: SimKeypointDetector, drv: SimRigDriver, frames: range) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per reported joint: error to the truth (px, NaN when missed), confidence, occluded flag."""
    errs, confs, occs = [], [], []
    for index in frames:
        fs = frameset(drv, index)
        out = det.process(fs)
        joints = fs.frames["gt/skeleton3d"]["joints"].astype(np.float64)
        for cam in range(4):
            res = out[f"cam{cam}/keypoints2d"]
            uv = truth(drv, fs, f"cam{cam}")
            occ = joint_occlusion(
                joints, np.asarray(drv.calibration().sensors[f"cam{cam}"].world_from_sensor.translation_m)
            )
            for kp, pid in zip(res["keypoints"], res["person_id"], strict=True):
                errs.append(np.linalg.norm(kp[:, :2] - uv[pid], axis=-1))
                confs.append(kp[:, 2])
                occs.append(occ[pid])
    return np.array(errs), np.array(confs), np.array(occs)


def test_default_error_model_statistics() -> None:
    drv, det = rig(), detector()
    err, conf, occ = run_many(det, drv, range(0, 1200, 4))
    found = np.isfinite(err)
    median = float(np.median(err[found]))
    assert 1.5 < median < 5.0
    assert 0.05 < np.mean(occ) < 0.6  # some joints are hidden by other people or the body itself
    missed = 1.0 - np.mean(found)
    assert 0.03 < missed < 0.3
    assert np.mean(~found[occ]) > 3 * np.mean(~found[~occ])  # occluded joints go missing more often
    assert np.mean(conf[found & occ]) < np.mean(conf[found & ~occ]) - 0.3
    assert np.median(err[found & occ]) > 1.5 * np.median(err[found & ~occ])
    s = det.summary()
    assert s["views"] == 4 * 300 and s["people_reported"] == len(err)
    assert 0 < s["swaps"] < 0.04 * s["people_reported"]
    assert 0 < s["outliers"] < 0.02 * s["joints_reported"]


def test_swaps_outliers_and_person_misses_occur_at_their_rates() -> None:
    drv = rig()
    base = {"noise_px": 0.0, "miss_prob": 0.0, "occluded_miss_prob": 0.0, "border_px": 0.0}
    det = detector(**base, swap_prob=0.2, outlier_prob=0.05, person_miss_prob=0.1)
    oracle = detector(oracle=True)
    people = swapped = joints = outliers = 0
    candidates = reported = 0
    for index in range(0, 900, 6):
        fs = frameset(drv, index)
        out, ref = det.process(fs), oracle.process(fs)
        for cam in range(4):
            res, exact = out[f"cam{cam}/keypoints2d"], ref[f"cam{cam}/keypoints2d"]
            candidates += len(exact["person_id"])
            reported += len(res["person_id"])
            uv = truth(drv, fs, f"cam{cam}")
            for kp, pid in zip(res["keypoints"], res["person_id"], strict=True):
                ok = np.isfinite(kp[:, 0])
                straight = np.linalg.norm(kp[:, :2] - uv[pid], axis=-1)
                flipped = np.linalg.norm(kp[:, :2] - uv[pid][FLIP], axis=-1)
                is_swap = np.sum(flipped[ok] < 1e-3) > np.sum(straight[ok] < 1e-3)
                dist = flipped if is_swap else straight
                people += 1
                swapped += int(is_swap)
                joints += int(ok.sum())
                outliers += int(np.sum((dist[ok] > 19.9) & (dist[ok] < 100.1)))
    assert people > 1000
    assert 0.16 < swapped / people < 0.24
    assert 0.04 < outliers / joints < 0.06
    assert 0.07 < 1.0 - reported / candidates < 0.13


def test_two_fresh_detectors_give_identical_bytes_in_any_order() -> None:
    drv = rig()
    sets = [frameset(drv, i) for i in (3, 90, 250)]
    a, b = detector(), detector()
    forward = [a.process(fs) for fs in sets]
    backward = [b.process(fs) for fs in reversed(sets)][::-1]
    for x, y in zip(forward, backward, strict=True):
        assert x.keys() == y.keys()
        for stream in x:
            for key in x[stream]:
                assert x[stream][key].tobytes() == y[stream][key].tobytes()


def test_seed_changes_the_noise() -> None:
    fs = frameset(rig(), 30)
    a, b = detector(seed=0).process(fs), detector(seed=1).process(fs)
    assert a["cam0/keypoints2d"]["keypoints"].tobytes() != b["cam0/keypoints2d"]["keypoints"].tobytes()


def test_without_identities_people_are_anonymous_and_shuffled() -> None:
    drv = rig(people=6)
    named, anon = detector(drv), detector(drv, identities=False)
    shuffled = 0
    for index in range(0, 60, 3):
        fs = frameset(drv, index)
        x, y = named.process(fs), anon.process(fs)
        for cam in range(4):
            kx, ky = x[f"cam{cam}/keypoints2d"]["keypoints"], y[f"cam{cam}/keypoints2d"]["keypoints"]
            assert np.all(y[f"cam{cam}/keypoints2d"]["person_id"] == -1)
            assert sorted(r.tobytes() for r in kx) == sorted(r.tobytes() for r in ky)
            shuffled += int(kx.tobytes() != ky.tobytes())
    assert shuffled > 10
    again = detector(drv, identities=False).process(fs)
    assert again["cam3/keypoints2d"]["keypoints"].tobytes() == ky.tobytes()  # the shuffle is deterministic too


def test_people_behind_or_outside_the_camera_are_not_reported() -> None:
    drv = rig(people=1)
    fs = frameset(drv, 0)
    cal = drv.calibration().sensors["cam0"]
    joints = fs.frames["gt/skeleton3d"]["joints"].astype(np.float64)
    eye = np.asarray(cal.world_from_sensor.translation_m)
    back = eye - 1.5 * cal.world_from_sensor.matrix[:3, 2]  # behind cam0
    behind = (
        joints
        - joints[:, [11, 12]].mean(axis=1, keepdims=True)
        + np.array([back[0], back[1], 0.0])
        + np.array([0.0, 0.0, joints[0, 11, 2]])
    )
    frames = dict(fs.frames)
    gt = frames["gt/skeleton3d"]
    frames["gt/skeleton3d"] = Frame(
        gt.stream, gt.t_sensor_ns, 0, 0, {"joints": behind.astype(np.float32), "person_id": gt["person_id"]}
    )
    out = detector(drv, oracle=True).process(FrameSet(0, fs.t_ref_ns, 0, frames))
    assert out["cam0/keypoints2d"]["keypoints"].shape == (0, 17, 3)


def test_frameset_without_ground_truth_gives_nothing() -> None:
    fs = frameset(rig(), 5)
    del fs.frames["gt/skeleton3d"]
    assert detector().process(fs) == {}
