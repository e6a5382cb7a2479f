"""rgbd.pointcloud: deprojection, world transform, open3d voxel downsampling."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from sensorfusion_rgbd import PointCloudEstimator, depth_to_points, voxel_downsample

from sensorfusion import FieldSpec, Frame, FrameKind, FrameSet, RigCalibration, SensorCalibration, StreamSpec, Transform
from sensorfusion.schema import PinholeCamera
from sensorfusion.testing import EstimatorContract

pytest.importorskip("open3d", reason="open3d is not installed")

CAM = PinholeCamera(width=40, height=30, fx=30.0, fy=30.0, cx=19.5, cy=14.5)
POSE = Transform.from_rotvec(np.array([0.0, 0.0, np.pi / 2]), np.array([1.0, 2.0, 0.5]))


def plane_mm(z_m: float = 2.0) -> np.ndarray:
    d = np.full((30, 40), round(z_m * 1000), np.uint16)
    d[:3] = 0
    return d


class TestPointCloudContract(EstimatorContract):
    estimator_class = PointCloudEstimator
    params = {"voxel_size_m": 0.1}
    plugin_name = "rgbd"

    def input_specs(self) -> list[StreamSpec]:
        return [
            StreamSpec(
                name="rs/depth",
                kind=FrameKind.DEPTH,
                fields={"depth": FieldSpec(dtype="uint16", shape=(30, 40))},
                attrs={"depth_scale_m": 0.001},
            )
        ]

    def calibration(self) -> RigCalibration:
        return RigCalibration(sensors={"rs": SensorCalibration(camera=CAM, world_from_sensor=POSE)})

    def framesets(self) -> Sequence[FrameSet]:
        return [
            FrameSet(i, 0, 0, {"rs/depth": Frame("rs/depth", 0, 0, i, {"depth": plane_mm(2.0 + i)})}) for i in range(2)
        ]

    def test_points_lie_on_the_plane_in_the_world(self) -> None:
        est = self.make_estimator()
        out = est.process(self.framesets()[0])["rs/points"]["xyz"]
        pc = POSE.inverse().apply(out.astype(np.float64))
        assert np.allclose(pc[:, 2], 2.0, atol=1e-5)
        full = depth_to_points(plane_mm().astype(np.float32) * 1e-3, CAM)
        assert len(full) == 27 * 40 and 0 < len(out) < len(full)
        # every occupied 0.1 m voxel keeps one point: the footprint of the plane at 2 m is 2.67 x 1.8 m
        assert len(out) == len(voxel_downsample(POSE.apply(full), 0.1))


def test_depth_to_points_geometry() -> None:
    d = np.zeros((30, 40), np.float32)
    d[14, 19] = 1.0
    d[0, 0] = 3.0
    pts = depth_to_points(d, CAM, max_depth_m=2.0)
    np.testing.assert_allclose(pts, [[-0.5 / 30, -0.5 / 30, 1.0]])
