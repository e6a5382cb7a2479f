"""The ``egocentric`` plugin: egocentric estimators, fusion with the room, the ``egocentric`` command."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Estimator
from sensorfusion.hookspecs import hookimpl

from ._reframe import SkeletonReframe

__all__ = ["sensorfusion_add_estimators"]


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [SkeletonReframe]
