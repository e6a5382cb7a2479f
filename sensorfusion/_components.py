"""The three kinds of component a plugin contributes: drivers, estimators and sinks.

Each is a class with a registry ``name``, a pydantic ``Params`` model for its block of
``rig.yaml`` and a small documented interface. The scheduler builds instances; plugin
authors only subclass and register them through the hooks in :mod:`sensorfusion.hookspecs`.
"""

from __future__ import annotations

import abc
import argparse
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from .schema._calibration import RigCalibration
from .schema._streams import Frame, FrameKind, FrameSet, StreamSpec
from .schema._volume import CaptureVolumeConfig

if TYPE_CHECKING:
    from .schema._skeletons import SkeletonRegistry

__all__ = [
    "Command",
    "Driver",
    "DriverContext",
    "Estimator",
    "NoParams",
    "Sink",
    "StageContext",
]


class NoParams(BaseModel):
    """The parameter model of a component that takes no parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class DriverContext:
    """What a driver gets from the scheduler.

    Attributes:
        sensor_id: the id given in ``rig.yaml``; prefix of the driver's stream names.
        seed: the rig's seed (for simulated sources).
        realtime: pace frames to the wall clock (live); false with ``--fast``.
        start_ns: host time at which the run started.
        stop: set when the run stops; a blocking ``read`` should return soon after.
        log: a logger named after the sensor.
        emit: set by the scheduler; use :meth:`event` rather than calling it.
        config_path: where the sensor sits in ``rig.yaml`` (``sensors[1]``), for error field paths.
        base_dir: the rig file's folder; resolve relative paths in params against it.
    """

    sensor_id: str
    seed: int = 0
    realtime: bool = True
    start_ns: int = field(default_factory=time.time_ns)
    stop: threading.Event = field(default_factory=threading.Event)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("sensorfusion.driver"))
    emit: Callable[[str, str, dict[str, Any]], None] | None = None
    config_path: str = ""
    base_dir: str = "."

    def param_path(self, name: str) -> str:
        """The field path of one of this driver's params, e.g. ``sensors[1].params.port``."""
        return f"{self.config_path or 'sensors.' + self.sensor_id}.params.{name}"

    def resolve(self, path: str) -> str:
        """``path`` made absolute against the rig file's folder (absolute paths unchanged)."""
        import os

        return path if os.path.isabs(path) else os.path.normpath(os.path.join(self.base_dir, path))

    def event(self, kind: str, message: str, **extra: Any) -> None:
        """Record an event (``corrupt_frame``, ``resync``, ``reconnect``...) in the session's
        events, the live log and the run summary. Cheap; rate-limit bursts yourself."""
        if self.emit is not None:
            self.emit(kind, message, extra)
        else:
            self.log.info("%s %s: %s", kind, self.sensor_id, message)

    @staticmethod
    def now_ns() -> int:
        """The host clock every ``t_host_ns`` is read from."""
        return time.time_ns()


class Driver(abc.ABC):
    """A source of frames: a device, a file, a simulation or a recorded session.

    The scheduler runs each driver in its own thread: ``open()``, then ``read()`` in a loop
    until the run stops or ``read`` raises :class:`~sensorfusion.EndOfStream`. Any other
    exception from ``open`` or ``read`` is a failure: the scheduler calls ``close()``, waits
    with exponential backoff and calls ``open()`` again *on the same instance*, so a driver
    keeps its own state (sequence numbers, simulated time) across restarts, while the rest
    of the rig goes on. The gap is recorded as an event.
    """

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, params: BaseModel, context: DriverContext) -> None:
        self.params = params
        self.context = context

    @abc.abstractmethod
    def streams(self) -> list[StreamSpec]:
        """Every stream this driver will produce, declared before ``open``."""

    def calibration(self) -> RigCalibration | None:
        """Calibration the device itself knows (factory intrinsics, a simulated rig). The
        rig file's ``calibration`` section overrides it sensor by sensor."""
        return None

    def open(self) -> None:  # noqa: B027 - optional hook
        """Connect to the device. Called again after a failure."""

    @abc.abstractmethod
    def read(self) -> Sequence[Frame]:
        """Block until the next frames are available and return them (possibly several
        streams' frames at once). Return an empty list to yield without data. Raise
        :class:`~sensorfusion.EndOfStream` when a finite source is exhausted."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device. Must be safe to call after a failed ``open``."""

    def warmup(self) -> None:  # noqa: B027 - optional hook
        """Do once, before the sources start and the live clock begins, whatever the first
        ``read()`` would otherwise pay for: compile (or load from Numba's on-disk cache) the
        kernels it calls, on tiny inputs, build lookup tables. Must not change what the
        driver produces (no frames consumed, no sequence numbers used)."""

    def summary(self) -> dict[str, Any]:
        """Figures for the end-of-run summary (frames parsed, corrupt bytes, resyncs...); the
        scheduler stores them under ``summary["drivers"][sensor_id]`` and in the session."""
        return {}


@dataclass
class StageContext:
    """What an estimator or sink gets when the rig is built.

    Attributes:
        stage_id: the stage's id in ``rig.yaml``; fusion outputs use it as their sensor name.
        inputs: the streams its ``inputs`` patterns matched, in sorted order.
        calibration: the rig calibration (rig file merged over driver-provided).
        skeletons: the skeleton registry (built-ins plus plugins').
        seed: the rig's seed.
        out_dir: where a sink may write files (``None`` when not recording).
        config_path: where the stage sits in ``rig.yaml`` (``stages[2]``), for error field paths.
        emit: set by the scheduler; use :meth:`event` rather than calling it.
        capture_volume: the rig's ``capture_volume`` (``None``: not given; fusion stages then use
            the default, where at least two of their cameras' views overlap).
    """

    stage_id: str
    inputs: list[StreamSpec]
    calibration: RigCalibration
    skeletons: SkeletonRegistry
    seed: int = 0
    out_dir: str | None = None
    config_path: str = ""
    emit: Callable[[str, str, dict[str, Any]], None] | None = None
    capture_volume: CaptureVolumeConfig | None = None

    def event(self, kind: str, message: str, **extra: Any) -> None:
        """Record an event (bad input seen, a gap in a stream...) in the session's events, the
        live log and the run summary, under this stage's id. Rate-limit bursts yourself."""
        if self.emit is not None:
            self.emit(kind, message, extra)
        else:
            logging.getLogger("sensorfusion.stage").info("%s %s: %s", kind, self.stage_id, message)

    def param_path(self, name: str) -> str:
        """The field path of one of this stage's params, e.g. ``stages[2].params.min_views``."""
        return f"{self.config_path or self.stage_id}.params.{name}"

    def inputs_of_kind(self, kind: FrameKind) -> list[StreamSpec]:
        return [s for s in self.inputs if s.kind == kind]


class Estimator(abc.ABC):
    """A stage that turns frames of a frameset into new streams.

    Per-stream estimators (a 2D keypoint detector) produce one output stream per input
    stream, named after the input's sensor (``cam0/keypoints2d``) and may batch across all
    cameras of the frameset; fusion estimators produce streams named after the stage
    (``fusion/skeleton3d``).

    Class attributes:
        input_kinds: the frame kinds accepted; the rig is rejected (exit 2) when a matched
            input has another kind.
        requires_camera_calibration: the rig is rejected when an input's sensor has no
            camera model.
        deterministic: same inputs give byte-identical outputs (replay checks this).
    """

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = NoParams
    input_kinds: ClassVar[tuple[FrameKind, ...]] = ()
    requires_camera_calibration: ClassVar[bool] = False
    deterministic: ClassVar[bool] = True

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        self.params = params
        self.context = context

    @abc.abstractmethod
    def outputs(self) -> list[StreamSpec]:
        """The streams this stage adds to every frameset."""

    @abc.abstractmethod
    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        """Compute this stage's outputs for one frameset: output stream -> field arrays.
        A declared output may be left out of the result when there is nothing to report."""

    def summary(self) -> dict[str, Any]:
        """Figures for the end-of-run summary (and stored in the session)."""
        return {}

    def warmup(self) -> None:  # noqa: B027 - optional hook
        """Compile (or load from Numba's on-disk cache) the kernels ``process()`` calls, on tiny
        inputs, before the sources start and the live clock begins — so the first framesets
        are not late. Must leave the estimator's state untouched (outputs stay a pure function
        of the inputs): run a throw-away copy of any stateful part."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources at the end of the run."""


class Sink(abc.ABC):
    """A consumer of framesets (a viewer, an exporter, a network publisher, a metric).

    Sinks run after every estimator, in their own thread, and see the full frameset with
    all estimates. ``inputs`` patterns in ``rig.yaml`` select which streams ``context.inputs``
    lists; the frameset itself is passed whole.
    """

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        self.params = params
        self.context = context

    @abc.abstractmethod
    def write(self, frameset: FrameSet) -> None:
        """Consume one frameset."""

    def summary(self) -> dict[str, Any]:
        """Figures for the end-of-run summary (and stored in the session)."""
        return {}

    def warmup(self) -> None:  # noqa: B027 - optional hook
        """Compile or load whatever ``write()`` needs, before the sources start."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release resources."""


@dataclass(frozen=True)
class Command:
    """A ``sensorfusion`` subcommand contributed by a plugin.

    Attributes:
        name: the subcommand (``calibrate``, ``triangulate``...).
        help: one line for ``sensorfusion --help``.
        configure: adds arguments to the subcommand's parser.
        run: runs it; returns the exit code (0 ok, 2 bad input, 1 failure).
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
