"""sensorfusion-mediapipe: BlazePose keypoints, face-mesh head pose, and a Pose2Sim .trc evaluation sink."""

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
