"""``rgbd.pointcloud``: depth images -> voxel-downsampled point clouds in the world frame (open3d)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import (
    ConfigError,
    Estimator,
    FieldSpec,
    FrameKind,
    FrameSet,
    MissingDependencyError,
    StageContext,
    StreamSpec,
)
from sensorfusion.geometry import undistort_points
from sensorfusion.schema import PinholeCamera, Transform

from ._lift import depth_in_metres

__all__ = [
    "PointCloudEstimator",
    "PointCloudParams",
    "depth_to_points",
    "require_open3d",
    "show_point_cloud",
    "voxel_downsample",
]

INSTALL = "pip install open3d"


def require_open3d() -> Any:
    try:
        import open3d
    except ImportError as exc:
        raise MissingDependencyError(f"rgbd.pointcloud ({exc})", install=INSTALL) from None
    return open3d


class PointCloudParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    voxel_size_m: float = Field(default=0.02, ge=0, description="voxel grid size (0: no downsampling)")
    min_depth_m: float = Field(default=0.1, ge=0)
    max_depth_m: float = Field(default=8.0, gt=0)
    frame: str = Field(
        default="world", pattern="^(world|sensor)$", description="world (calibration pose) or sensor frame"
    )
    view: bool = Field(default=False, description="show the clouds live in an open3d window (needs a display)")


def depth_to_points(
    depth_m: np.ndarray, camera: PinholeCamera, *, min_depth_m: float = 0.0, max_depth_m: float = np.inf
) -> np.ndarray:
    """Depth in metres ``(H, W)`` -> camera-frame points ``(N, 3)`` (row-major pixel order), holes skipped."""
    v, u = np.nonzero((depth_m > min_depth_m) & (depth_m <= max_depth_m) & np.isfinite(depth_m))
    z = depth_m[v, u].astype(np.float64)
    xy = undistort_points(camera, np.stack([u, v], axis=1).astype(np.float64), tier="numpy")
    return np.stack([xy[:, 0] * z, xy[:, 1] * z, z], axis=1)


def voxel_downsample(points: np.ndarray, voxel_size_m: float) -> np.ndarray:
    """open3d's voxel downsampling (the centroid of each occupied voxel), sorted for a deterministic order."""
    if voxel_size_m <= 0 or not len(points):
        return points
    o3d = require_open3d()
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.ascontiguousarray(points, dtype=np.float64)))
    out = np.asarray(pc.voxel_down_sample(voxel_size_m).points)
    return out[np.lexsort(out.T[::-1])]


def show_point_cloud(points: np.ndarray, *, window: str = "sensorfusion") -> None:
    """Open a blocking open3d window on ``points`` ``(N, 3)`` (for people; never called by tests)."""
    o3d = require_open3d()
    o3d.visualization.draw_geometries([o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))], window_name=window)


class PointCloudEstimator(Estimator):
    """Each DEPTH input ``<s>/depth`` becomes ``<s>/points`` (ragged ``xyz`` float32 metres)."""

    name = "rgbd.pointcloud"
    Params = PointCloudParams
    input_kinds = (FrameKind.DEPTH,)
    requires_camera_calibration = True

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, PointCloudParams)
        self.p = params
        if params.voxel_size_m > 0 or params.view:
            require_open3d()
        self.inputs: list[tuple[StreamSpec, str, PinholeCamera, Transform, float]] = []
        for s in context.inputs_of_kind(FrameKind.DEPTH):
            cam = context.calibration.camera(s.sensor)
            if not isinstance(cam, PinholeCamera):
                raise ConfigError("rgbd.pointcloud supports pinhole cameras", field_path=f"calibration.sensors.{s.sensor}.camera.model",
                                  value=cam.model, choices=["pinhole"])  # fmt: skip
            (fname,) = s.fields
            default = 0.001 if np.dtype(s.fields[fname].dtype).kind in "ui" else 1.0
            pose = context.calibration.sensors[s.sensor].world_from_sensor if params.frame == "world" else Transform()
            self.inputs.append((s, fname, cam, pose, float(s.attrs.get("depth_scale_m", default))))
        self._vis: Any = None
        self._points = 0

    def outputs(self) -> list[StreamSpec]:
        return [StreamSpec(name=f"{s.sensor}/points", kind=FrameKind.POINT_CLOUD, ragged=True,
                           fields={"xyz": FieldSpec(dtype="float32", shape=(3,))},
                           attrs={"frame": self.p.frame, "units": "m", "voxel_size_m": self.p.voxel_size_m})
                for s, *_ in self.inputs]  # fmt: skip

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        out: dict[str, dict[str, np.ndarray]] = {}
        for spec, fname, cam, pose, scale in self.inputs:
            f = frameset.get(spec.name)
            if f is None:
                continue
            pts = depth_to_points(
                depth_in_metres(np.asarray(f[fname]), scale),
                cam,
                min_depth_m=self.p.min_depth_m,
                max_depth_m=self.p.max_depth_m,
            )
            pts = voxel_downsample(pose.apply(pts), self.p.voxel_size_m)
            self._points += len(pts)
            out[f"{spec.sensor}/points"] = {"xyz": pts.astype(np.float32).reshape(-1, 3)}
        if self.p.view and out:
            self._show(np.concatenate([o["xyz"] for o in out.values()]))
        return out

    def _show(self, pts: np.ndarray) -> None:  # pragma: no cover - needs a display
        o3d = require_open3d()
        if self._vis is None:
            self._vis = o3d.visualization.Visualizer()
            self._vis.create_window("sensorfusion rgbd.pointcloud")
            self._cloud = o3d.geometry.PointCloud()
            self._vis.add_geometry(self._cloud)
        self._cloud.points = o3d.utility.Vector3dVector(pts.astype(np.float64))
        self._vis.update_geometry(self._cloud)
        self._vis.poll_events()
        self._vis.update_renderer()

    def summary(self) -> dict[str, Any]:
        return {"points": self._points}

    def close(self) -> None:
        if self._vis is not None:  # pragma: no cover - needs a display
            self._vis.destroy_window()
