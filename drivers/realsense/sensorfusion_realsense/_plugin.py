"""The ``realsense`` plugin: registers ``realsense.camera`` and ``realsense.playback``.

A light module: each component is a lazy reference, imported (with its libraries) the
first time a rig uses it, so listing plugins and ``sensorfusion --help`` stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Driver, lazy
from sensorfusion.hookspecs import hookimpl

__all__ = ["sensorfusion_add_drivers"]

_P = "sensorfusion_realsense"


@hookimpl
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    return [
        lazy(
            f"{_P}._driver:RealSenseDriver",
            name="realsense.camera",
            summary="an Intel RealSense camera",
            requires=("pyrealsense2",),
        ),
        lazy(
            f"{_P}._driver:RealSensePlaybackDriver",
            name="realsense.playback",
            summary="a RealSense .bag recording",
            requires=("pyrealsense2",),
        ),
    ]
