"""The ``ti_mmwave`` plugin: registers the UART and DCA1000 drivers.

A light module: each component is a lazy reference, imported (with its libraries) the
first time a rig uses it, so listing plugins and ``sensorfusion --help`` stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Driver, lazy
from sensorfusion.hookspecs import hookimpl

__all__ = ["sensorfusion_add_drivers"]

_P = "sensorfusion_ti_mmwave"


@hookimpl
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    return [
        lazy(f"{_P}._uart:UartDriver", name="ti_mmwave.uart", summary="a TI mmWave board over UART"),
        lazy(f"{_P}._dca_driver:Dca1000Driver", name="ti_mmwave.dca1000", summary="raw ADC frames from a DCA1000EVM"),
    ]
