"""The ``aria`` plugin: the ``aria.recording`` driver and the ``adt51`` skeleton spec."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Driver, SkeletonSpec, lazy
from sensorfusion.hookspecs import hookimpl

from ._skeleton import ADT51

__all__ = ["sensorfusion_add_drivers", "sensorfusion_add_skeletons"]


@hookimpl
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    # lazy: the driver (and the geometry kernels under it) loads when a rig uses it
    return [
        lazy("sensorfusion_aria._driver:AriaRecordingDriver", name="aria.recording", summary="a Project Aria recording")
    ]


@hookimpl
def sensorfusion_add_skeletons() -> Sequence[SkeletonSpec]:
    return [ADT51]
