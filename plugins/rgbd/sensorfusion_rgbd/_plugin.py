"""The ``rgbd`` plugin: registers ``rgbd.lift`` and ``rgbd.pointcloud`` (open3d is imported only when used)."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Estimator
from sensorfusion.hookspecs import hookimpl

from ._lift import RgbdLift
from ._pointcloud import PointCloudEstimator

__all__ = ["sensorfusion_add_estimators"]


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [RgbdLift, PointCloudEstimator]
