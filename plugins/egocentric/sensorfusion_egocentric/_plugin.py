"""The ``egocentric`` plugin: egocentric estimators, fusion with the room, the ``egocentric`` command."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Estimator, lazy
from sensorfusion.hookspecs import hookimpl

__all__ = ["sensorfusion_add_estimators"]


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    # lazy: the estimator (and torch, SciPy under the package) loads when a rig uses it
    return [
        lazy(
            "sensorfusion_egocentric._reframe:SkeletonReframe",
            name="egocentric.reframe",
            summary="a skeleton between the world and a device frame",
        )
    ]
