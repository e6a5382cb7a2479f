"""The stop watchdog: every run ends within a bounded time.

Once a stop is requested (a limit, Ctrl-C / SIGTERM, an error), a source, stage or sink still
inside one plugin call ``stop_timeout_s`` after the request is *abandoned*: named in a
``driver_abandoned`` / ``stage_abandoned`` / ``sink_abandoned`` event, its queues released
(whoever waits on them goes on), its stream ended, its thread left behind. Before a stop, a
live run whose ``duration_s`` has passed on the wall clock by ``stop_timeout_s`` without the
frameset that ends it (a silent source, a stage that holds the pipeline) is stopped
(``overdue``). The runner's main thread calls :meth:`StopWatchdog.tick` several times a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ._chain import StageChain, StageWorker
from ._supervisor import SourceSupervisor
from ._worker import Worker

__all__ = ["StopWatchdog"]

log = logging.getLogger("sensorfusion.run")


class StopWatchdog:
    """Abandons what does not return after a stop; stops a live run that is overdue.

    Args:
        sources: the source supervisors.
        chain: the stage chain (its workers).
        stop: set when the run stops.
        stop_timeout_s: how long one call may go on after the stop request.
        live_duration_s: a live, non-lossless run's ``duration_s`` (None: no overdue check).
        event: ``event(kind, source, message, **extra)``.
    """

    def __init__(
        self,
        sources: list[SourceSupervisor],
        chain: StageChain,
        *,
        stop: threading.Event,
        stop_timeout_s: float,
        live_duration_s: float | None,
        event: Callable[..., Any],
    ) -> None:
        self.sources = sources
        self.chain = chain
        self.stop = stop
        self.limit_s = stop_timeout_s
        self.live_duration_s = live_duration_s
        self.event = event
        self.abandoned: list[Worker] = []
        self._lock = threading.Lock()
        self._stop_at: float | None = None

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if not self.stop.is_set():
            self._overdue(now)
            return
        if self._stop_at is None:
            self._stop_at = now
        why = f"did not return within {self.limit_s:g} s of the stop request"
        for w in self._workers():
            if w.stuck_for(self._stop_at) > self.limit_s:
                self.abandon(w, why)

    def abandon_all(self, reason: str) -> None:
        """Give up on everything still running (a forced stop)."""
        for w in self._workers():
            self.abandon(w, reason)

    def _workers(self) -> list[Worker]:
        out: list[Worker] = [s for s in self.sources if not s.done.is_set() and not s.abandoned]
        return out + [w for w in self.chain.workers if not w.done.is_set() and not w.abandoned]

    def abandon(self, worker: Worker, reason: str) -> None:
        what = worker.describe()
        with self._lock:
            self.abandoned.append(worker)
        self.event(f"{worker.kind}_abandoned", worker.name, f"{what} {reason}; abandoned", plugin=worker.plugin)
        log.info("%s %s; abandoned", what, reason)
        if isinstance(worker, SourceSupervisor):
            worker.abandon()
            worker.end()  # its streams end: the dispatcher can finish
        elif isinstance(worker, StageWorker):
            self.chain.abandon(worker)

    def _overdue(self, now: float) -> None:
        dur = self.live_duration_s
        if dur is None:
            return
        starts = [s.first_frame_at for s in self.sources if s.first_frame_at is not None]
        if not starts or now - min(starts) < dur + self.limit_s:
            return
        self.event(
            "overdue",
            "run",
            f"{dur:g} s of sensor time should have passed {self.limit_s:g} s ago but the last frameset has "
            "not formed (a source went silent or a stage holds the pipeline); stopping",
        )
        self.stop.set()
