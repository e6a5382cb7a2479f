"""sensorfusion-realsense: Intel RealSense RGB-D cameras, live (``realsense.camera``) and recorded
(``realsense.playback``), with intrinsics, extrinsics and depth scale in the calibration schema."""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
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

# the exports above load on first use, so the plugin module (and `sensorfusion --help`) stays light
__getattr__, __dir__ = lazy_exports(__name__)
