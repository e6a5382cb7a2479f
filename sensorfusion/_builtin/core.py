"""Built-in plugin: the core's skeleton specs, sinks and CLI commands, through the public hooks."""

from __future__ import annotations

from collections.abc import Sequence

from .._components import Command, Sink
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
