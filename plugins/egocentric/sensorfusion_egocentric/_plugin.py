"""The ``egocentric`` plugin: egocentric estimators, fusion with the room, the ``egocentric`` command.

A light module: the estimators (torch, SciPy) are lazy references, imported when a rig uses one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Command, Estimator, lazy
from sensorfusion.hookspecs import hookimpl

from ._cli import egocentric_command

__all__ = ["sensorfusion_add_commands", "sensorfusion_add_estimators"]

_P = "sensorfusion_egocentric"


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [
        lazy(
            f"{_P}._reframe:SkeletonReframe", name="egocentric.reframe", summary="a skeleton between world and device"
        ),
        lazy(f"{_P}._geometric:StereoTriangulation", name="egocentric.stereo", summary="stereo fisheye triangulation"),
        lazy(f"{_P}._learned:LearnedStereo", name="egocentric.learned", summary="the learned stereo model"),
        lazy(f"{_P}._learned:MeanPose", name="egocentric.mean_pose", summary="a mean-pose baseline"),
        lazy(f"{_P}._fusion:EgoRoomFusion", name="egocentric.fuse", summary="the wearer fused with the room"),
    ]


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    return [egocentric_command]
