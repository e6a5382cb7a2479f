"""The ``radar`` plugin: registers the radar estimators.

A light module: each component is a lazy reference, imported (with its libraries) the
first time a rig uses it, so listing plugins and ``sensorfusion --help`` stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Estimator, lazy
from sensorfusion.hookspecs import hookimpl

__all__ = ["sensorfusion_add_estimators"]

_P = "sensorfusion_radar"


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [
        lazy(f"{_P}._estimators:RadarProcess", name="radar.process", summary="ADC cube to points"),
        lazy(f"{_P}._estimators:RadarCluster", name="radar.cluster", summary="points to people"),
        lazy(f"{_P}._estimators:RadarTrack", name="radar.track", summary="tracks of people"),
        lazy(f"{_P}._estimators:RadarPose", name="radar.pose", summary="a pose from radar points"),
        lazy(f"{_P}._estimators:RadarFuse", name="radar.fuse", summary="radar and camera fusion"),
    ]
