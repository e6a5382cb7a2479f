"""The ``rgbd`` plugin: registers ``rgbd.lift`` and ``rgbd.pointcloud``.

A light module: each component is a lazy reference, imported (with its libraries) the
first time a rig uses it, so listing plugins and ``sensorfusion --help`` stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Estimator, lazy
from sensorfusion.hookspecs import hookimpl

__all__ = ["sensorfusion_add_estimators"]

_P = "sensorfusion_rgbd"


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [
        lazy(f"{_P}._lift:RgbdLift", name="rgbd.lift", summary="2D keypoints lifted to 3D by depth"),
        lazy(f"{_P}._pointcloud:PointCloudEstimator", name="rgbd.pointcloud", summary="depth to a point cloud"),
    ]
