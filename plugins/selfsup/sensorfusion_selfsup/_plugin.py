"""The ``selfsup`` plugin: the ``selfsup.fusion`` estimator and ``sensorfusion selfsup``."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Command, Estimator
from sensorfusion.hookspecs import hookimpl

from ._cli import selfsup_command
from ._estimator import SelfSupFusion

__all__ = ["sensorfusion_add_commands", "sensorfusion_add_estimators"]


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    return [selfsup_command()]


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [SelfSupFusion]
