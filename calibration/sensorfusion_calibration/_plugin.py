"""The ``calibration`` plugin: adds ``sensorfusion calibrate`` and the peers' calibration formats.

Light on purpose: the command and the formats are lazy references, so listing plugins or
printing ``sensorfusion --help`` imports neither OpenCV nor the bundle adjustment.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import CalibrationFormat, Command, lazy
from sensorfusion.hookspecs import hookimpl

from .formats import CALIBRATION_FORMATS

__all__ = ["sensorfusion_add_calibration_formats", "sensorfusion_add_commands"]


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    return [
        Command(
            "calibrate",
            "calibrate cameras (intrinsics, extrinsics) and convert calibration files",
            lazy("sensorfusion_calibration._cli:configure_calibrate"),
            lazy("sensorfusion_calibration._cli:run_calibrate"),
        )
    ]


@hookimpl
def sensorfusion_add_calibration_formats() -> Sequence[CalibrationFormat]:
    return list(CALIBRATION_FORMATS)
