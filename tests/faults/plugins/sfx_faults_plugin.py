"""A third-party-style plugin whose components misbehave on purpose (the fault-injection suite).

* ``faults.ticker`` — a counter source at ``rate_hz``; optionally costly per read (also with
  ``--fast``), with a payload, blocking forever in ``read()`` at a frame or once the run
  stops (ignoring ``context.stop``, like a driver stuck in a device call), or failing to open.
* ``faults.stall`` — an estimator that sleeps per frameset or blocks forever at one.
* ``faults.members`` — records which frame of each input a frameset holds.
* ``faults.stall_sink`` — a sink that blocks forever at one frameset.

Blocking means waiting on :data:`FOREVER`, which nothing sets in a subprocess; in-process
tests set it at teardown to release the threads.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from sensorfusion import (
    Driver,
    DriverError,
    EndOfStream,
    Estimator,
    FieldSpec,
    Frame,
    FrameKind,
    Sink,
    StreamSpec,
    hookimpl,
)

FOREVER = threading.Event()


class TickerParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate_hz: float = 100.0
    frames: int | None = None
    channel: str = "value"
    cost_s: float = 0.0
    payload_bytes: int = 0
    noise: bool = False  # payload of random bytes (seeded by the frame index): incompressible
    block_at: int | None = None
    block_after_stop: bool = False
    open_fails: bool = False


def payload(i: int, n: int, *, noise: bool) -> np.ndarray:
    """The ``blob`` of frame ``i``: ``i % 251`` repeated, or random bytes seeded by ``i``."""
    if noise:
        return np.random.default_rng(i).integers(0, 256, n, dtype=np.uint8)
    return np.full(n, i % 251, dtype=np.uint8)


class Ticker(Driver):
    name = "faults.ticker"
    Params = TickerParams

    def __init__(self, params: BaseModel, context: Any) -> None:
        super().__init__(params, context)
        assert isinstance(params, TickerParams)
        self.p = params
        self.i = 0
        self.opened = False
        self.closed_after_failed_open = False

    def streams(self) -> list[StreamSpec]:
        fields = {"value": FieldSpec(dtype="int64")}
        if self.p.payload_bytes:
            fields["blob"] = FieldSpec(dtype="uint8", shape=(self.p.payload_bytes,))
        return [
            StreamSpec(
                name=f"{self.context.sensor_id}/{self.p.channel}",
                kind=FrameKind.DEVICE_POSE,
                fields=fields,
                rate_hz=self.p.rate_hz,
            )
        ]

    def open(self) -> None:
        if self.p.open_fails:
            raise DriverError("simulated: device not found")
        self.opened = True

    def read(self) -> list[Frame]:
        if not self.opened:
            raise DriverError("read before open")
        if self.p.frames is not None and self.i >= self.p.frames:
            raise EndOfStream()
        if self.p.block_at is not None and self.i >= self.p.block_at:
            FOREVER.wait()  # stuck in a device call that ignores context.stop
        if self.p.block_after_stop and self.context.stop.is_set():
            FOREVER.wait()
        period = int(1e9 / self.p.rate_hz)
        if self.context.realtime:
            self.context.stop.wait(max(0.0, (self.context.start_ns + self.i * period - time.time_ns()) / 1e9))
            if self.p.block_after_stop and self.context.stop.is_set():
                FOREVER.wait()
        if self.p.cost_s:
            time.sleep(self.p.cost_s)
        data: dict[str, np.ndarray] = {"value": np.array(self.i, dtype=np.int64)}
        if self.p.payload_bytes:
            data["blob"] = payload(self.i, self.p.payload_bytes, noise=self.p.noise)
        f = Frame(f"{self.context.sensor_id}/{self.p.channel}", self.i * period, time.time_ns(), self.i, data)
        self.i += 1
        return [f]

    def close(self) -> None:
        if not self.opened:
            self.closed_after_failed_open = True
        self.opened = False

    def summary(self) -> dict[str, Any]:
        return {"frames_read": self.i}


class StallParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    block_at: int | None = None
    sleep_s: float = 0.0


class Stall(Estimator):
    name = "faults.stall"
    Params = StallParams
    input_kinds = (FrameKind.DEVICE_POSE,)

    def outputs(self) -> list[StreamSpec]:
        return [
            StreamSpec(
                name=f"{self.context.stage_id}/value",
                kind=FrameKind.DEVICE_POSE,
                fields={"value": FieldSpec(dtype="int64")},
            )
        ]

    def process(self, frameset: Any) -> dict[str, dict[str, np.ndarray]]:
        assert isinstance(self.params, StallParams)
        if self.params.block_at is not None and frameset.index >= self.params.block_at:
            FOREVER.wait()
        if self.params.sleep_s:
            time.sleep(self.params.sleep_s)
        return {f"{self.context.stage_id}/value": {"value": np.array(frameset.index, dtype=np.int64)}}


class Members(Estimator):
    """Records which frame of each input stream a frameset holds (seq, -1 when absent)."""

    name = "faults.members"

    def outputs(self) -> list[StreamSpec]:
        n = len(self.context.inputs)
        return [
            StreamSpec(
                name=f"{self.context.stage_id}/members",
                kind=FrameKind.DEVICE_POSE,
                fields={
                    "member_seq": FieldSpec(dtype="int64", shape=(n,)),
                    "member_t_ns": FieldSpec(dtype="int64", shape=(n,)),
                },
            )
        ]

    def process(self, frameset: Any) -> dict[str, dict[str, np.ndarray]]:
        names = [s.name for s in self.context.inputs]
        frames = [frameset.frames.get(n) for n in names]
        seq = np.array([-1 if f is None else f.seq for f in frames], dtype=np.int64)
        t = np.array([-1 if f is None else f.t_sensor_ns for f in frames], dtype=np.int64)
        return {f"{self.context.stage_id}/members": {"member_seq": seq, "member_t_ns": t}}


class StallSink(Sink):
    name = "faults.stall_sink"
    Params = StallParams

    def write(self, frameset: Any) -> None:
        assert isinstance(self.params, StallParams)
        if self.params.block_at is not None and frameset.index >= self.params.block_at:
            FOREVER.wait()


@hookimpl
def sensorfusion_add_drivers() -> list[type[Driver]]:
    return [Ticker]


@hookimpl
def sensorfusion_add_estimators() -> list[type[Estimator]]:
    return [Stall, Members]


@hookimpl
def sensorfusion_add_sinks() -> list[type[Sink]]:
    return [StallSink]
