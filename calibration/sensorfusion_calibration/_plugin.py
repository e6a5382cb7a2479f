"""The ``calibration`` plugin: adds ``sensorfusion calibrate``."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Command
from sensorfusion.hookspecs import hookimpl

from ._cli import calibrate_command

__all__ = ["sensorfusion_add_commands"]


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    return [calibrate_command()]
