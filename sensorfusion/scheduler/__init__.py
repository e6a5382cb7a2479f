"""The scheduler: source threads, the synchronizer, stages, statistics and the runner."""

from ._bus import FrameBus
from ._graph import BuiltRig, build_rig
from ._runinfo import RunInfo
from ._runner import Runner, RunOptions, RunResult
from ._stats import Meter, StatsBook
from ._sync import Synchronizer, SyncStats, default_reference

__all__ = [
    "BuiltRig",
    "FrameBus",
    "Meter",
    "RunInfo",
    "RunOptions",
    "RunResult",
    "Runner",
    "StatsBook",
    "SyncStats",
    "Synchronizer",
    "build_rig",
    "default_reference",
]
