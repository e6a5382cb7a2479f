"""Pose2Sim's marker names: the TRC columns its OpenSim models expect."""

from __future__ import annotations

from sensorfusion import SkeletonSpec

__all__ = ["POSE2SIM_BODY25B_MARKERS", "trc_markers"]

#: Pose2Sim's BODY_25B marker names (its skeleton tree, in the order its TRC files list them)
#: and the body_25b joint each one is. Eyes and ears are not in Pose2Sim's tree.
POSE2SIM_BODY25B_MARKERS: tuple[tuple[str, str], ...] = (
    ("RHip", "right_hip"),
    ("RKnee", "right_knee"),
    ("RAnkle", "right_ankle"),
    ("RBigToe", "right_big_toe"),
    ("RSmallToe", "right_small_toe"),
    ("RHeel", "right_heel"),
    ("LHip", "left_hip"),
    ("LKnee", "left_knee"),
    ("LAnkle", "left_ankle"),
    ("LBigToe", "left_big_toe"),
    ("LSmallToe", "left_small_toe"),
    ("LHeel", "left_heel"),
    ("Neck", "upper_neck"),
    ("Head", "head_top"),
    ("Nose", "nose"),
    ("RShoulder", "right_shoulder"),
    ("RElbow", "right_elbow"),
    ("RWrist", "right_wrist"),
    ("LShoulder", "left_shoulder"),
    ("LElbow", "left_elbow"),
    ("LWrist", "left_wrist"),
)


def trc_markers(skeleton: SkeletonSpec) -> list[tuple[str, int]]:
    """``(TRC marker name, joint index)`` for a skeleton: Pose2Sim's names and order for
    ``body_25b``; otherwise every joint, its name in CamelCase (``left_knee`` -> ``LeftKnee``)."""
    if skeleton.name == "body_25b":
        return [(m, skeleton.index(j)) for m, j in POSE2SIM_BODY25B_MARKERS]
    return [("".join(w.capitalize() for w in name.split("_")), i) for i, name in enumerate(skeleton.joints)]
