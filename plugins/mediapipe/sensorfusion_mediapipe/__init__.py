"""sensorfusion-mediapipe: BlazePose keypoints, face-mesh head pose, and a Pose2Sim .trc evaluation sink."""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
    from ._detect import BlazePoseRegions, HogRegions, Region
    from ._eval import TrcEvalSink, read_trc
    from ._headpose import GENERIC_FACE_M, euler_from_rotation, rotation_from_euler, solve_head_pose
    from ._pose import MediaPipePose, MediaPipePoseParams

__all__ = [
    "GENERIC_FACE_M",
    "BlazePoseRegions",
    "HogRegions",
    "MediaPipePose",
    "MediaPipePoseParams",
    "Region",
    "TrcEvalSink",
    "euler_from_rotation",
    "read_trc",
    "rotation_from_euler",
    "solve_head_pose",
]

# the exports above load on first use, so the plugin module (and `sensorfusion --help`) stays light
__getattr__, __dir__ = lazy_exports(__name__)
