"""sensorfusion-rosbag: ROS bags as a source.

The ``rosbag.replay`` driver plays rosbag2 (``.db3``, ``.mcap``) and ROS 1 (``.bag``) recordings,
read with ``rosbags`` (no ROS install), through the pipeline: ``sensor_msgs/Image`` and
``CompressedImage`` as image or depth streams, ``PointCloud2`` as point clouds, ``Imu``,
``CameraInfo`` as the sensors' camera models and TF as their ``world_from_sensor`` (and, for
moving frames, ``device_pose`` streams).
"""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
    from ._bag import INSTALL_ROSBAGS, open_bag
    from ._cli import bag_info, starter_rig
    from ._convert import (
        DEPTH_ENCODINGS,
        DISTORTION_MODELS,
        IMAGE_ENCODINGS,
        BadMessage,
        camera_from_info,
        decode_compressed,
        decode_image,
        imu_values,
    )
    from ._driver import SUPPORTED_TYPES, RosbagReplayDriver, RosbagReplayParams, TopicParams
    from ._tf import TfTree

__version__ = "0.1.0"

__all__ = [
    "DEPTH_ENCODINGS",
    "DISTORTION_MODELS",
    "IMAGE_ENCODINGS",
    "INSTALL_ROSBAGS",
    "SUPPORTED_TYPES",
    "BadMessage",
    "RosbagReplayDriver",
    "RosbagReplayParams",
    "TfTree",
    "TopicParams",
    "__version__",
    "bag_info",
    "camera_from_info",
    "decode_compressed",
    "decode_image",
    "imu_values",
    "open_bag",
    "starter_rig",
]

# the exports above load on first use, so the plugin module (and `sensorfusion --help`) stays light
__getattr__, __dir__ = lazy_exports(__name__)
