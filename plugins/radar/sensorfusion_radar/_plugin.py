"""The ``radar`` plugin: registers the radar estimators."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Estimator
from sensorfusion.hookspecs import hookimpl

from ._estimators import RadarCluster, RadarFuse, RadarPose, RadarProcess, RadarTrack

__all__ = ["sensorfusion_add_estimators"]


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [RadarProcess, RadarCluster, RadarTrack, RadarPose, RadarFuse]
