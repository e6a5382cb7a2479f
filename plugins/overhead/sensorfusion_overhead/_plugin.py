"""The ``overhead`` plugin: registers the overhead estimators, sinks and ``sensorfusion overhead-mount``.

A light module: each component is a lazy reference, imported (with its libraries: OpenCV,
Numba, SciPy, onnxruntime) the first time a rig or the command uses it, so listing plugins and
``sensorfusion --help`` stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Command, Estimator, Sink, lazy
from sensorfusion.hookspecs import hookimpl

__all__ = ["sensorfusion_add_commands", "sensorfusion_add_estimators", "sensorfusion_add_sinks"]

_P = "sensorfusion_overhead"


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [
        lazy(f"{_P}._simdet:SimOverheadDetector", name="overhead.sim", summary="simulated rotated person boxes"),
        lazy(
            f"{_P}._rectified:RectifiedDetector",
            name="overhead.rectified",
            summary="rotated boxes through rectified virtual views",
        ),
        lazy(f"{_P}._onnx:OnnxRotatedDetector", name="overhead.onnx", summary="RAPiD / LOAF ONNX rotated boxes"),
        lazy(f"{_P}._localise_stage:OverheadLocalise", name="overhead.localise", summary="floor positions of boxes"),
        lazy(f"{_P}._tracks_stage:FloorTracks", name="overhead.floor_tracks", summary="multi-camera floor tracks"),
    ]


@hookimpl
def sensorfusion_add_sinks() -> Sequence[type[Sink]]:
    return [
        lazy(f"{_P}._sinks:OverheadMetrics", name="overhead.metrics", summary="floor localisation and count metrics"),
        lazy(f"{_P}._sinks:OccupancyHeatmap", name="overhead.heatmap", summary="an occupancy heatmap of the floor"),
    ]


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    return [
        Command(
            "overhead-mount",
            "height, position and tilt of a ceiling camera from image points with known floor positions",
            lazy(f"{_P}._mountfit:configure_mount"),
            lazy(f"{_P}._mountfit:run_mount"),
        )
    ]
