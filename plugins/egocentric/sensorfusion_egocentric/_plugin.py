"""The ``egocentric`` plugin: egocentric estimators, fusion with the room, the ``egocentric`` command."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Command, Estimator
from sensorfusion.hookspecs import hookimpl

from ._cli import egocentric_command
from ._fusion import EgoRoomFusion
from ._geometric import StereoTriangulation
from ._learned import LearnedStereo, MeanPose
from ._reframe import SkeletonReframe

__all__ = ["sensorfusion_add_commands", "sensorfusion_add_estimators"]


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [SkeletonReframe, StereoTriangulation, LearnedStereo, MeanPose, EgoRoomFusion]


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    return [egocentric_command]
