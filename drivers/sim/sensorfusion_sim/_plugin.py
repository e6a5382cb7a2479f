"""The ``sim`` plugin: registers the simulated rig driver and the simulated keypoint detectors.

A light module: each component is a lazy reference, imported (with its libraries) the
first time a rig uses it, so listing plugins and ``sensorfusion --help`` stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Driver, Estimator, lazy
from sensorfusion.hookspecs import hookimpl

__all__ = ["sensorfusion_add_drivers", "sensorfusion_add_estimators"]

_P = "sensorfusion_sim"


@hookimpl
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    return [
        lazy(f"{_P}._driver:SimRigDriver", name="sim.rig", summary="simulated people, cameras, depth and radar"),
    ]


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [
        lazy(f"{_P}._detector:SimKeypointDetector", name="sim.keypoints2d", summary="a simulated 2D keypoint detector"),
        lazy(
            f"{_P}._headset_detector:SimHeadsetKeypointDetector",
            name="sim.headset_keypoints2d",
            summary="a simulated 2D detector on headset fisheye cameras",
        ),
    ]
