"""sensorfusion-egocentric: the wearer of a head-mounted stereo fisheye headset, in the world."""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
    from ._common import DevicePoses, ego_skeleton_spec
    from ._posetrack import PoseTrack
    from ._reframe import ReframeParams, SkeletonReframe

__version__ = "0.1.0"

__all__ = [
    "DevicePoses",
    "PoseTrack",
    "ReframeParams",
    "SkeletonReframe",
    "__version__",
    "ego_skeleton_spec",
]

# the exports above load on first use, so the plugin module (and `sensorfusion --help`) stays light
__getattr__, __dir__ = lazy_exports(__name__)
