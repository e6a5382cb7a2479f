"""Built-in plugin ``core``: the core's skeleton specs, the ``metrics.mpjpe`` sink, the
``run``/``plugins``/``inspect`` commands and the ``sensorfusion`` calibration format, through
the public hooks. A light module: what it registers is imported on first use."""

from __future__ import annotations

from collections.abc import Sequence

from .._calibration_format import CalibrationFormat
from .._components import Command, Sink
from .._lazy import lazy
from ..hookspecs import hookimpl
from ..schema._skeletons import SkeletonSpec, builtin_skeletons

__all__: list[str] = []


@hookimpl
def sensorfusion_add_skeletons() -> Sequence[SkeletonSpec]:
    return builtin_skeletons()


@hookimpl
def sensorfusion_add_sinks() -> Sequence[type[Sink]]:
    return [lazy("sensorfusion._builtin.metrics:MpjpeSink", name="metrics.mpjpe", summary="MPJPE against ground truth")]


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    from ..cli._commands import core_commands

    return core_commands()


@hookimpl
def sensorfusion_add_calibration_formats() -> Sequence[CalibrationFormat]:
    mod = "sensorfusion._builtin.calibration_json"
    return [
        CalibrationFormat(
            name="sensorfusion",
            load=lazy(f"{mod}:load_sensorfusion_calibration"),
            save=lazy(f"{mod}:save_sensorfusion_calibration"),
            sniff=lazy(f"{mod}:sniff_sensorfusion_calibration"),
            patterns=("*.json",),
            description="the SDK's own RigCalibration as JSON or YAML (metres, world_from_sensor)",
        )
    ]
