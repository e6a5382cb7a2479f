"""TRC marker names that OpenSim models expect: Pose2Sim's.

``body_25b``: the interop distribution's table (Pose2Sim's tree and order). Any other
skeleton: ``left_knee`` -> ``LKnee``, ``right_big_toe`` -> ``RBigToe``, ``nose`` -> ``Nose``,
``head_top`` -> ``Head``, ``upper_neck`` -> ``Neck``; a skeleton with shoulders but no neck
joint (``coco17``) gets a derived ``Neck`` marker, the midpoint of the shoulders, as
Pose2Sim's models have one.
"""

from __future__ import annotations

import numpy as np

from sensorfusion import SkeletonSpec

__all__ = ["opensim_markers"]

_SPECIAL = {"head_top": "Head", "upper_neck": "Neck", "neck": "Neck"}


def _name(joint: str) -> str:
    if joint in _SPECIAL:
        return _SPECIAL[joint]
    for side, letter in (("left_", "L"), ("right_", "R")):
        if joint.startswith(side):
            return letter + "".join(w.capitalize() for w in joint[len(side) :].split("_"))
    return "".join(w.capitalize() for w in joint.split("_"))


def opensim_markers(skeleton: SkeletonSpec, joints_m: np.ndarray) -> tuple[list[tuple[str, int]], np.ndarray]:
    """``(markers, columns)``: ``(TRC name, column)`` pairs and ``joints_m (T, J, 3)`` with
    any derived marker appended as extra columns."""
    from sensorfusion_interop import trc_markers

    if skeleton.name == "body_25b":
        return trc_markers(skeleton), joints_m
    markers = [(_name(j), i) for i, j in enumerate(skeleton.joints)]
    names = {m for m, _ in markers}
    cols = joints_m
    if "Neck" not in names and {"left_shoulder", "right_shoulder"} <= set(skeleton.joints):
        mid = 0.5 * (joints_m[:, skeleton.index("left_shoulder")] + joints_m[:, skeleton.index("right_shoulder")])
        cols = np.concatenate([joints_m, mid[:, None]], axis=1)
        markers.append(("Neck", cols.shape[1] - 1))
    return markers, cols
