"""The ``aria`` plugin: the ``aria.recording`` driver, the ``adt51`` skeleton spec and the ``aria``
calibration format."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import CalibrationFormat, Driver, SkeletonSpec, lazy
from sensorfusion.hookspecs import hookimpl

from ._driver import AriaRecordingDriver
from ._skeleton import ADT51

__all__ = ["sensorfusion_add_calibration_formats", "sensorfusion_add_drivers", "sensorfusion_add_skeletons"]


@hookimpl
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    return [AriaRecordingDriver]


@hookimpl
def sensorfusion_add_skeletons() -> Sequence[SkeletonSpec]:
    return [ADT51]


@hookimpl
def sensorfusion_add_calibration_formats() -> Sequence[CalibrationFormat]:
    return [
        CalibrationFormat(
            name="aria",
            load=lazy("sensorfusion_aria._calibration:load_aria_calibration"),
            save=lazy("sensorfusion_aria._calibration:save_aria_calibration"),
            sniff=lazy("sensorfusion_aria._calibration:sniff_aria"),
            aliases=("projectaria",),
            patterns=("*online_calibration.jsonl", "*.aria.json"),
            description="Project Aria device calibration (JSON, MPS online_calibration.jsonl, .vrs): "
            "Fisheye624 cameras mounted on the device",
        )
    ]
