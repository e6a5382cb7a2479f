"""The ``ti_mmwave`` plugin: registers the UART and DCA1000 drivers."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Driver
from sensorfusion.hookspecs import hookimpl

from ._dca_driver import Dca1000Driver
from ._uart import UartDriver

__all__ = ["sensorfusion_add_drivers"]


@hookimpl
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    return [UartDriver, Dca1000Driver]
