"""Device poses: the stream contract, pose-track interpolation, sensors mounted on a moving device."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from sensorfusion import ConfigError, FrameKind, SchemaError
from sensorfusion.geometry import (
    ShapeError,
    interpolate_poses,
    matrix_to_quaternion,
    pose_matrix,
    quaternion_to_matrix,
)
from sensorfusion.schema import (
    DeviceMount,
    PinholeCamera,
    RigCalibration,
    SensorCalibration,
    Transform,
    check_device_pose,
    device_pose_spec,
)


def test_quaternions_match_scipy_both_ways():
    q = Rotation.random(50, random_state=3).as_quat()
    m = quaternion_to_matrix(q)
    assert np.abs(m - Rotation.from_quat(q).as_matrix()).max() < 1e-12
    back = matrix_to_quaternion(m)
    assert (back[:, 3] >= 0).all()
    assert np.abs(np.abs(np.einsum("ij,ij->i", back, q)) - 1).max() < 1e-12  # same rotation up to sign
    assert np.isnan(quaternion_to_matrix(np.zeros(4))).all()
    with pytest.raises(ShapeError):
        quaternion_to_matrix(np.zeros(3))


def test_interpolation_is_slerp_plus_lerp_and_never_extrapolates():
    rot = Rotation.random(4, random_state=1)
    t_ns = np.array([0, 10_000_000, 20_000_000, 40_000_000])
    trans = np.array([[0.0, 0, 0], [1.0, 0, 0], [1.0, 2.0, 0], [1.0, 2.0, 4.0]])
    poses = pose_matrix(rot.as_matrix(), trans)
    tq = np.array([-1, 0, 5_000_000, 10_000_000, 30_000_000, 40_000_000, 40_000_001])
    out = interpolate_poses(tq, t_ns, poses)
    assert np.isnan(out[[0, -1]]).all()
    ref = Slerp(t_ns, rot)(tq[1:-1]).as_matrix()
    assert np.abs(out[1:-1, :3, :3] - ref).max() < 1e-12
    assert np.allclose(out[1:-1, :3, 3], [[0, 0, 0], [0.5, 0, 0], [1, 0, 0], [1, 2, 2], [1, 2, 4]])
    # a gap wider than max_gap_ns is not bridged
    gapped = interpolate_poses(np.array([30_000_000, 15_000_000]), t_ns, poses, max_gap_ns=15_000_000)
    assert np.isnan(gapped[0]).all() and np.isfinite(gapped[1]).all()


def test_interpolation_refuses_a_track_going_backwards():
    poses = np.broadcast_to(np.eye(4), (3, 4, 4))
    with pytest.raises(SchemaError, match=r"strictly increasing; t_ns\[2\] = 5 after t_ns\[1\] = 10"):
        interpolate_poses(np.array([1]), np.array([0, 10, 5]), poses)


def test_device_pose_spec_and_check():
    spec = device_pose_spec("hmd0", rate_hz=30.0)
    assert spec.name == "hmd0/device_pose" and spec.kind == FrameKind.DEVICE_POSE
    assert spec.fields["world_from_device"].shape == (4, 4) and spec.attrs["frame"] == "world"
    check_device_pose(np.eye(4))
    bad = np.eye(4)
    bad[0, 0] = 2.0
    with pytest.raises(SchemaError, match="orthonormal"):
        check_device_pose(bad)
    flip = np.diag([1.0, 1.0, -1.0, 1.0])
    with pytest.raises(SchemaError, match="reflection"):
        check_device_pose(flip)
    with pytest.raises(SchemaError, match="finite"):
        check_device_pose(np.full((4, 4), np.nan))


def test_a_mounted_sensor_round_trips_and_is_refused_by_world_fixed_fusion():
    cam = PinholeCamera(width=64, height=48, fx=50, fy=50, cx=32, cy=24)
    mount = DeviceMount(device="hmd0", device_from_sensor=Transform(translation_m=(0.05, 0.0, 0.0)))
    cal = RigCalibration(
        sensors={"hmd0_left": SensorCalibration(camera=cam, mount=mount), "cam0": SensorCalibration(camera=cam)}
    )
    back = RigCalibration.model_validate_json(cal.model_dump_json())
    assert back == cal and back.sensors["hmd0_left"].mount.device == "hmd0"

    from sensorfusion import StageContext
    from sensorfusion._builtin.fusion import RobustParams, SinglePersonFusion
    from sensorfusion.schema import FieldSpec, SkeletonRegistry, StreamSpec, builtin_skeletons

    spec = StreamSpec(
        name="hmd0_left/keypoints2d",
        kind=FrameKind.KEYPOINTS2D,
        ragged=True,
        skeleton="coco17",
        fields={"keypoints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")},
    )
    other = spec.model_copy(update={"name": "cam0/keypoints2d"})
    ctx = StageContext("fusion", [other, spec], cal, SkeletonRegistry(builtin_skeletons()), config_path="stages[1]")
    with pytest.raises(ConfigError, match="mounted on the moving device 'hmd0'") as e:
        SinglePersonFusion(RobustParams(), ctx)
    assert e.value.field_path == "stages[1].inputs"
