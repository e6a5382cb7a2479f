"""rgbd.lift on a synthetic two-camera scene with exact answers, its config errors, and on the simulated RGB-D rig."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from sensorfusion_rgbd import RgbdLift, fuse_joint_estimates

from sensorfusion import (
    ConfigError,
    FieldSpec,
    Frame,
    FrameKind,
    FrameSet,
    RigCalibration,
    SensorCalibration,
    StageContext,
    StreamSpec,
)
from sensorfusion.geometry import look_at
from sensorfusion.schema import PinholeCamera, SkeletonRegistry, builtin_skeletons
from sensorfusion.testing import EstimatorContract

W, H, J = 320, 240, 17
CAM = PinholeCamera(width=W, height=H, fx=240.0, fy=240.0, cx=159.5, cy=119.5)
POSES = {
    "rgbd0": look_at(np.array([3.0, 0.0, 1.2]), np.array([0.0, 0.0, 1.0])),
    "rgbd1": look_at(np.array([0.0, 3.0, 1.2]), np.array([0.0, 0.0, 1.0])),
}


def person(offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(3)
    pts = np.column_stack([rng.uniform(-0.25, 0.25, J) + offset, rng.uniform(-0.25, 0.25, J), np.linspace(1.7, 0.1, J)])
    return pts


def render(sensor: str, joints: np.ndarray, radius_px: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (J, 3) and a uint16 mm depth image: a wall at 6 m and a disc at each joint's camera depth."""
    cam_from_world = POSES[sensor].inverse()
    pc = cam_from_world.apply(joints)
    uv = np.column_stack([CAM.fx * pc[:, 0] / pc[:, 2] + CAM.cx, CAM.fy * pc[:, 1] / pc[:, 2] + CAM.cy])
    depth = np.full((H, W), 6000, np.uint16)
    yy, xx = np.mgrid[0:H, 0:W]
    for (u, v), z in sorted(zip(uv, pc[:, 2], strict=True), key=lambda t: -t[1]):
        depth[(xx - u) ** 2 + (yy - v) ** 2 <= radius_px**2] = round(z * 1000)
    return np.column_stack([uv, np.full(J, 0.9)]).astype(np.float32), depth


def specs() -> list[StreamSpec]:
    out = []
    for s in POSES:
        out.append(StreamSpec(name=f"{s}/keypoints2d", kind=FrameKind.KEYPOINTS2D, ragged=True, skeleton="coco17",
                              fields={"keypoints": FieldSpec(dtype="float32", shape=(J, 3)), "person_id": FieldSpec(dtype="int64")}))  # fmt: skip
        out.append(StreamSpec(name=f"{s}/depth", kind=FrameKind.DEPTH, fields={"depth": FieldSpec(dtype="uint16", shape=(H, W))},
                              attrs={"depth_scale_m": 0.001}))  # fmt: skip
    out.append(StreamSpec(name="fusion/skeleton3d", kind=FrameKind.SKELETON3D, ragged=True, skeleton="coco17",
                          fields={"joints": FieldSpec(dtype="float32", shape=(J, 3)), "person_id": FieldSpec(dtype="int64")}))  # fmt: skip
    return out


def calibration() -> RigCalibration:
    return RigCalibration(sensors={s: SensorCalibration(camera=CAM, world_from_sensor=p) for s, p in POSES.items()})


def frameset(
    joints: np.ndarray, index: int = 0, corrupt: dict[str, Any] | None = None, tri: np.ndarray | None = None
) -> FrameSet:
    frames: dict[str, Frame] = {}
    for s in POSES:
        kp, depth = render(s, joints)
        if corrupt and s in corrupt:
            corrupt[s](kp, depth)
        frames[f"{s}/keypoints2d"] = Frame(
            f"{s}/keypoints2d", 0, 0, index, {"keypoints": kp[None], "person_id": np.array([7])}
        )
        frames[f"{s}/depth"] = Frame(f"{s}/depth", 0, 0, index, {"depth": depth})
    if tri is not None:
        frames["fusion/skeleton3d"] = Frame(
            "fusion/skeleton3d", 0, 0, index, {"joints": tri[None].astype(np.float32), "person_id": np.array([7])}
        )
    return FrameSet(index, 0, 0, frames, tuple(frames))


def make(**params: Any) -> RgbdLift:
    ctx = StageContext(
        stage_id="rgbd", inputs=specs(), calibration=calibration(), skeletons=SkeletonRegistry(builtin_skeletons())
    )
    return RgbdLift(RgbdLift.Params.model_validate(params), ctx)


class TestLiftContract(EstimatorContract):
    estimator_class = RgbdLift
    params = {"triangulation": "fusion/skeleton3d"}
    plugin_name = "rgbd"

    def input_specs(self) -> list[StreamSpec]:
        return specs()

    def calibration(self) -> RigCalibration:
        return calibration()

    def framesets(self) -> Sequence[FrameSet]:
        return [frameset(person(), 0, tri=person()), frameset(person(0.1), 1)]


def test_exact_scene_is_recovered_per_camera_and_fused() -> None:
    truth = person()
    out = make().process(frameset(truth))
    for s in POSES:
        est = out[f"{s}/skeleton3d"]["joints"][0]
        assert np.abs(est - truth).max() < 2e-3  # mm quantisation
    fused = out["rgbd/skeleton3d"]
    assert fused["person_id"].tolist() == [7] and (fused["sources"][0] == 2).all()
    assert np.abs(fused["joints"][0] - truth).max() < 2e-3


def test_surface_offset_moves_along_the_ray() -> None:
    truth = person()
    out = make(surface_offset_m={"*": 0.05, "nose": 0.0}, output="per_camera").process(frameset(truth))
    est = out["rgbd0/skeleton3d"]["joints"][0]
    centre = POSES["rgbd0"].translation_m
    d_est = np.linalg.norm(est - centre, axis=1)
    d_true = np.linalg.norm(truth - centre, axis=1)
    assert abs(d_est[0] - d_true[0]) < 2e-3  # nose: no offset
    np.testing.assert_allclose(d_est[1:] - d_true[1:], 0.05, atol=2e-3)


def test_a_wrong_camera_is_outvoted_or_dropped() -> None:
    truth = person()

    def occlude(kp: np.ndarray, depth: np.ndarray) -> None:  # something 1 m nearer in front of joint 5
        u, v = kp[5, :2]
        depth[int(v) - 3 : int(v) + 4, int(u) - 3 : int(u) + 4] -= 1000

    tri = truth + 0.004
    out = make(triangulation="fusion/skeleton3d").process(frameset(truth, corrupt={"rgbd1": occlude}, tri=tri))
    fused = out["rgbd/skeleton3d"]
    assert fused["sources"][0, 5] == 2  # rgbd0 + triangulation; rgbd1 dropped as an outlier
    assert np.linalg.norm(fused["joints"][0, 5] - truth[5]) < 0.0075  # near the (6.9 mm off) triangulation, not 1 m off
    # holes everywhere in one camera: the other camera alone
    out = make().process(frameset(truth, corrupt={"rgbd1": lambda kp, d: d.fill(0)}))
    assert (out["rgbd/skeleton3d"]["sources"][0] == 1).all()
    assert np.isnan(out["rgbd1/skeleton3d"]["joints"]).all()


def test_fuse_joint_estimates_rules() -> None:
    pts = np.array([[0.0, 0, 1], [0.01, 0, 1], [1.0, 0, 1]])
    x, used = fuse_joint_estimates(pts, np.array([1.0, 1.0, 100.0]), None, 0.0, 0.1, centre_weights=np.ones(3))
    assert used == 2 and np.allclose(x, [0.005, 0, 1])
    x, used = fuse_joint_estimates(np.zeros((0, 3)), np.zeros(0), None, 0.0, 0.1)
    assert used == 0 and np.isnan(x).all()


def test_config_errors_name_the_field() -> None:
    ctx = StageContext(stage_id="rgbd", inputs=[s for s in specs() if s.name != "rgbd1/depth"], calibration=calibration(),
                       skeletons=SkeletonRegistry(builtin_skeletons()), config_path="stages[1]")  # fmt: skip
    with pytest.raises(ConfigError) as err:
        RgbdLift(RgbdLift.Params(), ctx)
    assert err.value.field_path == "stages[1].params.depth.rgbd1" and err.value.choices == ["rgbd0/depth"]
    with pytest.raises(ConfigError) as err:
        make(surface_offset_m={"elbow": 0.1})
    assert err.value.field_path == "rgbd.params.surface_offset_m.elbow"
    small = [
        s
        if s.name != "rgbd0/depth"
        else s.model_copy(update={"fields": {"depth": FieldSpec(dtype="uint16", shape=(60, 80))}})
        for s in specs()
    ]
    ctx = StageContext(
        stage_id="rgbd", inputs=small, calibration=calibration(), skeletons=SkeletonRegistry(builtin_skeletons())
    )
    with pytest.raises(ConfigError, match="aligned"):
        RgbdLift(RgbdLift.Params(), ctx)


def test_on_the_simulated_rgbd_rig() -> None:
    from sensorfusion_sim import SimKeypointDetector, SimRigDriver

    from sensorfusion import DriverContext

    drv = SimRigDriver(SimRigDriver.Params(cameras=1, render=False, depth_cameras=3, people=2),
                       DriverContext("sim", seed=2, realtime=False))  # fmt: skip
    specs_ = {s.name: s for s in drv.streams()}
    cal = drv.calibration()
    reg = SkeletonRegistry(builtin_skeletons())
    det_in = [specs_[n] for n in sorted(specs_) if n.endswith("/image") or n == "gt/skeleton3d"]
    det = SimKeypointDetector(SimKeypointDetector.Params(), StageContext("det", det_in, cal, reg, seed=2))
    lift_in = [s for s in det.outputs()] + [specs_[n] for n in sorted(specs_) if n.endswith("/depth")]
    lift = RgbdLift(RgbdLift.Params(surface_offset_m={"*": 0.05}), StageContext("rgbd", lift_in, cal, reg))
    errs = []
    drv.open()
    for _ in range(6):
        frames = {f.stream: f for f in drv.read()}
        fs = FrameSet(0, 0, 0, dict(frames), tuple(frames))
        for name, data in det.process(fs).items():
            fs.add(name, data)
        out = lift.process(fs)["rgbd/skeleton3d"]
        gt = frames["gt/skeleton3d"]
        for pid, j in zip(out["person_id"], out["joints"], strict=True):
            e = np.linalg.norm(j - gt["joints"][list(gt["person_id"]).index(pid)], axis=1)
            errs.append(e[np.isfinite(e)])
    drv.close()
    e = np.concatenate(errs)
    assert e.size > 100 and np.median(e) < 0.06, np.median(e)
