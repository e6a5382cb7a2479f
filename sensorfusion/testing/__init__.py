"""Test harness for plugin authors: contract test classes and hypothesis strategies.

:class:`KernelTierContract` is the one check of a kernel family's tiers (numpy, cpu, cuda).

Needs the ``test`` extra (pytest, hypothesis).
"""

from ._contracts import DriverContract, EstimatorContract, SinkContract
from ._kernels import KernelCase, KernelTierContract
from ._strategies import arrival_orders, frames_for, stream_specs, timestamps_ns

__all__ = [
    "DriverContract",
    "EstimatorContract",
    "KernelCase",
    "KernelTierContract",
    "SinkContract",
    "arrival_orders",
    "frames_for",
    "stream_specs",
    "timestamps_ns",
]
