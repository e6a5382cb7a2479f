"""The ``rosbag`` plugin: the ``rosbag.replay`` driver and the ``sensorfusion rosbag`` command.

A light module: the driver and the command (and ``rosbags``, OpenCV under them) are lazy
references, imported when a rig or the command first uses them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Command, Driver, lazy
from sensorfusion.hookspecs import hookimpl

__all__ = ["sensorfusion_add_commands", "sensorfusion_add_drivers"]


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


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    return [
        Command(
            "rosbag",
            "a ROS bag's topics, what rosbag.replay makes of each, its TF frames; --rig writes a starter rig",
            lazy("sensorfusion_rosbag._cli:configure_rosbag"),
            lazy("sensorfusion_rosbag._cli:run_rosbag"),
        )
    ]
