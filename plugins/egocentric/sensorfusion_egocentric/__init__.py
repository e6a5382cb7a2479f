"""sensorfusion-egocentric: the wearer of a head-mounted stereo fisheye headset, in the world."""

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
