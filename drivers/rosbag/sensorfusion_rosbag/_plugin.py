"""The ``rosbag`` plugin: the ``rosbag.replay`` driver.

A light module: the driver (and ``rosbags``, OpenCV under it) is a lazy reference, imported when a
rig first uses it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Driver, lazy
from sensorfusion.hookspecs import hookimpl

__all__ = ["sensorfusion_add_drivers"]


@hookimpl
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    return [
        lazy(
            "sensorfusion_rosbag._driver:RosbagReplayDriver",
            name="rosbag.replay",
            summary="a ROS bag (rosbag2 .db3/.mcap, ROS 1 .bag)",
            requires=("rosbags", "cv2"),
            install="pip install rosbags opencv-contrib-python",
        )
    ]
