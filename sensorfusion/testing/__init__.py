"""Test harness for plugin authors: contract test classes and hypothesis strategies.

Needs the ``test`` extra (pytest, hypothesis).
"""

from ._contracts import DriverContract, EstimatorContract, SinkContract
from ._strategies import arrival_orders, frames_for, stream_specs, timestamps_ns

__all__ = ["DriverContract", "EstimatorContract", "SinkContract", "arrival_orders", "frames_for", "stream_specs", "timestamps_ns"]
