"""The scheduler: the run's collaborators (source supervisors, frame bus, synchronizer,
stage chain, recorder tap, run report) and the runner that wires them together."""

from ._bus import FrameBus
from ._graph import BuiltRig, build_rig
from ._queue import BoundedQueue, QueueClosed
from ._report import RunStats
from ._runinfo import RunInfo
from ._runner import Runner, RunOptions, RunResult
from ._stats import Meter, StatsBook
from ._sync import Synchronizer, SyncStats, default_reference

__all__ = [
    "BoundedQueue",
    "BuiltRig",
    "FrameBus",
    "Meter",
    "QueueClosed",
    "RunInfo",
    "RunOptions",
    "RunResult",
    "RunStats",
    "Runner",
    "StatsBook",
    "SyncStats",
    "Synchronizer",
    "build_rig",
    "default_reference",
]
