"""sensorfusion-realsense: Intel RealSense RGB-D cameras, live (``realsense.camera``) and recorded
(``realsense.playback``), with intrinsics, extrinsics and depth scale in the calibration schema."""

from ._driver import PlaybackParams, RealSenseDriver, RealSenseParams, RealSensePlaybackDriver, StreamRequest
from ._geometry import align_depth_to_color, camera_from_intrinsics, deproject_depth, transform_from_extrinsics

__version__ = "0.1.0"

__all__ = [
    "PlaybackParams",
    "RealSenseDriver",
    "RealSenseParams",
    "RealSensePlaybackDriver",
    "StreamRequest",
    "__version__",
    "align_depth_to_color",
    "camera_from_intrinsics",
    "deproject_depth",
    "transform_from_extrinsics",
]
