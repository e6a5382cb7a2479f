"""The ``replay`` driver: a recorded session as a source, so every result can be reproduced.

rig.yaml::

    sensors:
      - id: rec
        driver: replay
        params: {path: runs/2024-05-01.zarr, streams: ["cam*/image"], timing: recorded}

Frames come out under their recorded stream names with their recorded ``t_sensor_ns``,
``t_host_ns`` and ``seq``, merged in recorded host-time order.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .._components import Driver, DriverContext
from .._errors import ConfigError, EndOfStream
from ..schema._calibration import RigCalibration
from ..schema._streams import Frame, StreamSpec
from ..store._integrity import Damage
from ..store._reader import Session

__all__ = ["ReplayDriver", "ReplayParams"]

_FAST_BATCH = 32
_MAX_SLEEP_S = 0.25  # sleep in slices so a stop request is seen promptly even without ``stop``


class ReplayParams(BaseModel):
    """Parameters of the ``replay`` driver.

    Attributes:
        path: the recorded session (``*.zarr``), a folder or a URL (``s3://bucket/run.zarr``).
        streams: glob patterns of recorded source stream names to replay.
        timing: ``recorded`` paces frames with their recorded inter-arrival gaps;
            ``fast`` replays as fast as the pipeline takes them (also when the run is
            not real-time, e.g. ``--fast``).
        on_damage: a missing or corrupt part of the session: ``stop`` the run with an error
            naming the stream and frame range (exit 2), or ``skip`` the damaged frames and
            record each skipped range as a ``damaged_skipped`` event (``--skip-damaged``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    streams: list[str] = Field(default_factory=lambda: ["*/*"])
    timing: Literal["recorded", "fast"] = "recorded"
    on_damage: Literal["stop", "skip"] = "stop"


class ReplayDriver(Driver):
    """Replays the source streams of a recorded session."""

    name = "replay"
    Params = ReplayParams

    def __init__(self, params: BaseModel, context: DriverContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, ReplayParams)
        self.p: ReplayParams = params
        self._session: Session | None = None
        self._names: list[str] | None = None
        self._frames: Iterator[Frame] | None = None
        self._next: Frame | None = None
        self._t0_host_ns: int | None = None
        self._wall0: float = 0.0
        self._skipped: list[Damage] = []
        self._reported_groups = False

    def _open_session(self) -> Session:
        if self._session is None:
            session = Session.open(self.p.path)
            groups = session.damaged_groups
            if groups and self.p.on_damage == "stop":
                raise groups[0].error(self.p.path)
            self._session = session
        return self._session

    def _skip(self, damage: Damage) -> None:
        self._skipped.append(damage)
        self.context.event(
            "damaged_skipped",
            f"{damage.stream}: frames {damage.start}-{damage.stop - 1} skipped: {damage.problem}",
            stream=damage.stream,
            start=damage.start,
            stop=damage.stop,
        )

    def _stream_names(self) -> list[str]:
        if self._names is None:
            session = self._open_session()
            names = session.match(self.p.streams)
            if not names:
                raise ConfigError(
                    "no recorded stream matches",
                    field_path="params.streams",
                    value=self.p.streams,
                    choices=list(session.streams()),
                )
            self._names = names
        return self._names

    def streams(self) -> list[StreamSpec]:
        session = self._open_session()
        infos = session.streams()
        return [infos[n].spec for n in self._stream_names()]

    def calibration(self) -> RigCalibration | None:
        return self._open_session().calibration

    def open(self) -> None:
        # Keeps its position across restarts: a failed read resumes where it stopped.
        if self._frames is None:
            session = self._open_session()
            on_damage = self._skip if self.p.on_damage == "skip" else None
            if on_damage is not None and not self._reported_groups:
                self._reported_groups = True
                for damage in session.damaged_groups:
                    on_damage(damage)
            self._frames = session.frames_in_order(self._stream_names(), on_damage=on_damage)

    def _fast(self) -> bool:
        return self.p.timing == "fast" or not self.context.realtime

    def _pull(self) -> Frame | None:
        if self._next is not None:
            frame, self._next = self._next, None
            return frame
        assert self._frames is not None
        return next(self._frames, None)

    def read(self) -> Sequence[Frame]:
        if self._frames is None:
            self.open()
        assert self._frames is not None
        if self._fast():
            batch = [self._next] if self._next is not None else []
            self._next = None
            batch.extend(itertools.islice(self._frames, _FAST_BATCH - len(batch)))
            if not batch:
                raise EndOfStream(f"replay of {self.p.path} finished")
            return batch
        first = self._pull()
        if first is None:
            raise EndOfStream(f"replay of {self.p.path} finished")
        if self._t0_host_ns is None:
            self._t0_host_ns = first.t_host_ns
            self._wall0 = time.monotonic()
        delay = self._due(first) - time.monotonic()
        if delay > 0:
            self._next = first
            self.context.stop.wait(min(delay, _MAX_SLEEP_S))
            if self.context.stop.is_set() or self._due(first) > time.monotonic():
                return []  # woken early (stopping) or sleeping in slices: come back
            self._next = None
        batch = [first]
        while len(batch) < _FAST_BATCH:
            frame = self._pull()
            if frame is None:
                break
            if self._due(frame) > time.monotonic():
                self._next = frame
                break
            batch.append(frame)
        return batch

    def _due(self, frame: Frame) -> float:
        assert self._t0_host_ns is not None
        return self._wall0 + (frame.t_host_ns - self._t0_host_ns) / 1e9

    def close(self) -> None:
        return None

    def summary(self) -> dict[str, Any]:
        if not self._skipped:
            return {}
        return {
            "damaged_ranges_skipped": len(self._skipped),
            "damaged_frames_skipped": sum(d.stop - d.start for d in self._skipped),
        }
