"""Built-in plugin ``replay``: the ``replay`` driver (a recorded session as a source).

A light module: the driver (and the Zarr reader under it) is imported when a rig uses it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._components import Driver
from .._lazy import lazy
from ..hookspecs import hookimpl

__all__ = ["sensorfusion_add_drivers"]


@hookimpl
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    return [lazy("sensorfusion._builtin.replay:ReplayDriver", name="replay", summary="a recorded session as a source")]
