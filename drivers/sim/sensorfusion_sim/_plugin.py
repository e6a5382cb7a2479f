"""The ``sim`` plugin: registers the simulated rig driver and the simulated keypoint detectors."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Driver, Estimator
from sensorfusion.hookspecs import hookimpl

from ._detector import SimKeypointDetector
from ._driver import SimRigDriver
from ._headset_detector import SimHeadsetKeypointDetector

__all__ = ["sensorfusion_add_drivers", "sensorfusion_add_estimators"]


@hookimpl
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    return [SimRigDriver]


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [SimKeypointDetector, SimHeadsetKeypointDetector]
