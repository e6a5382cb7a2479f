"""The ``aria`` plugin: the ``aria.recording`` driver and the ``adt51`` skeleton spec."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Driver, SkeletonSpec
from sensorfusion.hookspecs import hookimpl

from ._driver import AriaRecordingDriver
from ._skeleton import ADT51

__all__ = ["sensorfusion_add_drivers", "sensorfusion_add_skeletons"]


@hookimpl
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    return [AriaRecordingDriver]


@hookimpl
def sensorfusion_add_skeletons() -> Sequence[SkeletonSpec]:
    return [ADT51]
