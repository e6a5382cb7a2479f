"""The source supervisor: one thread per source that opens, reads, backs off and restarts.

A driver that raises is closed, waits with exponential backoff (``restart:`` in the rig)
and is reopened *on the same instance* while the rest of the rig goes on; the gap is an
event. A driver that raises :class:`~sensorfusion.StoreError` (a damaged recording) is not
restarted: reopening cannot heal it, so the run stops with that error. Frames are checked
against their stream's contract, counted and handed on; a stop request ends the loop
after the current call (the runner bounds how long it waits for that call).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .._errors import EndOfStream, StoreError
from ..schema._streams import Frame
from ._graph import SourceNode
from ._stats import StatsBook
from ._worker import Worker

__all__ = ["SourceSupervisor"]

log = logging.getLogger("sensorfusion.run")

EventFn = Callable[..., Any]


class SourceSupervisor(Worker):
    """Runs one source (a :class:`~sensorfusion.Driver`) on its own thread.

    Args:
        node: the source as built from the rig.
        deliver: hands one checked frame on (the frame bus); False when it was refused
            because the run is ending.
        stats: the run's meters (one per stream).
        event: ``event(kind, source, message, **extra)`` records an event.
        stop: set when the run stops.
        on_failed: called after each failure with ``(sensor_id, error, restart_in_s)``.
        on_fatal: called with an error that ends the run.
        pace: blocks until a frame may be handed on (``--fast`` pacing); False when stopping.
        on_end: called once the source has ended (its streams end on the bus).
    """

    def __init__(
        self,
        node: SourceNode,
        *,
        deliver: Callable[[Frame], bool],
        stats: StatsBook,
        event: EventFn,
        stop: threading.Event,
        on_failed: Callable[[str, BaseException, float], None],
        on_fatal: Callable[[BaseException], None],
        pace: Callable[[Frame], bool] | None = None,
        on_end: Callable[[SourceSupervisor], None] | None = None,
    ) -> None:
        super().__init__(node.config.id, "driver", node.plugin, self._loop)
        self.node = node
        self._deliver = deliver
        self._stats = stats
        self._event = event
        self._stop = stop
        self._on_failed = on_failed
        self._on_fatal = on_fatal
        self._pace = pace
        self._on_end = on_end
        self._specs = {s.name: s for s in node.streams}
        self.ended = False
        self._end_lock = threading.Lock()
        self.first_frame_at: float | None = None  # monotonic time of the first frame handed on

    @property
    def streams(self) -> list[str]:
        return list(self._specs)

    def end(self) -> bool:
        """Mark the source ended (once); True the first time."""
        with self._end_lock:
            if self.ended:
                return False
            self.ended = True
        if self._on_end is not None:
            self._on_end(self)
        return True

    def _loop(self) -> None:
        node, drv = self.node, self.node.driver
        sid = node.config.id
        restart = node.config.restart
        backoff = restart.initial_s
        failures = 0
        opened = False
        failed_at_ns = 0
        try:
            while not self._stop.is_set():
                try:
                    if not opened:
                        with self.calling("open()"):
                            drv.open()
                        opened = True
                        if failures:
                            gap_ns = time.time_ns() - failed_at_ns
                            self._event(
                                "driver_restarted",
                                sid,
                                f"reopened after {failures} failure(s); gap {gap_ns / 1e9:.3f} s",
                                gap_ns=gap_ns,
                            )
                    with self.calling("read()"):
                        frames = drv.read()
                    if self.abandoned:
                        break
                    backoff = restart.initial_s
                    if not self._hand_on(frames):
                        break
                except EndOfStream:
                    self._event("end_of_stream", sid, "source finished")
                    break
                except StoreError as exc:
                    if self.abandoned:
                        break
                    # a damaged recording does not heal by reopening it: the run stops
                    self._event("driver_failed", sid, f"{type(exc).__name__}: {exc}", plugin=node.plugin, fatal=True)
                    self._on_fatal(exc)
                    break
                except Exception as exc:
                    if self.abandoned:
                        break
                    failures += 1
                    failed_at_ns = time.time_ns()
                    try:
                        with self.calling("close()"):
                            drv.close()
                    except Exception:
                        log.debug("close after failure raised", exc_info=True)
                    opened = False
                    if restart.max_restarts is not None and failures > restart.max_restarts:
                        self._event("driver_gave_up", sid, f"{type(exc).__name__}: {exc}", plugin=node.plugin)
                        break
                    self._event(
                        "driver_failed", sid, f"{type(exc).__name__}: {exc}", plugin=node.plugin, restart_in_s=backoff
                    )
                    self._on_failed(sid, exc, backoff)
                    if self._stop.wait(backoff):
                        break
                    backoff = min(backoff * 2, restart.max_s)
        finally:
            if opened:
                try:
                    with self.calling("close()"):
                        drv.close()
                except Exception:
                    if not self.abandoned:
                        log.warning("driver %s close() raised", sid, exc_info=True)
            if not self.abandoned:
                self.end()

    def _hand_on(self, frames: Sequence[Frame]) -> bool:
        sid = self.node.config.id
        for f in frames:
            spec = self._specs.get(f.stream)
            if spec is None:
                self._stats.stream(f.stream).drop("invalid")
                continue
            try:
                spec.validate_frame(f)
            except Exception as exc:
                self._stats.stream(f.stream).drop("invalid")
                self._event("invalid_frame", sid, str(exc)[:500])
                continue
            if self._pace is not None and not self._pace(f):
                return False
            self._stats.stream(f.stream).tick()
            if self.first_frame_at is None:
                self.first_frame_at = time.monotonic()
            if not self._deliver(f):
                return not self._stop.is_set()
        return True
