"""Built-in plugin: the core's skeleton specs, sinks and CLI commands, through the public hooks."""

from __future__ import annotations

from collections.abc import Sequence

from .._calibration_format import CalibrationFormat
from .._components import Command, Sink
from .._lazy import lazy
from ..hookspecs import hookimpl
from ..schema._skeletons import SkeletonSpec, builtin_skeletons
from .metrics import MpjpeSink

__all__: list[str] = []


@hookimpl
def sensorfusion_add_skeletons() -> Sequence[SkeletonSpec]:
    return builtin_skeletons()


@hookimpl
def sensorfusion_add_sinks() -> Sequence[type[Sink]]:
    return [MpjpeSink]


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
