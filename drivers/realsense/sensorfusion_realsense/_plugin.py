"""The ``realsense`` plugin: registers ``realsense.camera`` and ``realsense.playback``.

pyrealsense2 is imported only when a driver is built, so the plugin registers without it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Driver
from sensorfusion.hookspecs import hookimpl

from ._driver import RealSenseDriver, RealSensePlaybackDriver

__all__ = ["sensorfusion_add_drivers"]


@hookimpl
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    return [RealSenseDriver, RealSensePlaybackDriver]
