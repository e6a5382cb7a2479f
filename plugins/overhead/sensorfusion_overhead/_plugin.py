"""The ``overhead`` plugin: registers the overhead estimators and sinks."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Command, Estimator, Sink
from sensorfusion.hookspecs import hookimpl

from ._localise_stage import OverheadLocalise
from ._mountfit import mount_command
from ._onnx import OnnxRotatedDetector
from ._rectified import RectifiedDetector
from ._simdet import SimOverheadDetector
from ._sinks import OccupancyHeatmap, OverheadMetrics
from ._tracks_stage import FloorTracks

__all__ = ["sensorfusion_add_commands", "sensorfusion_add_estimators", "sensorfusion_add_sinks"]


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [SimOverheadDetector, RectifiedDetector, OnnxRotatedDetector, OverheadLocalise, FloorTracks]


@hookimpl
def sensorfusion_add_sinks() -> Sequence[type[Sink]]:
    return [OverheadMetrics, OccupancyHeatmap]


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    return [mount_command()]
