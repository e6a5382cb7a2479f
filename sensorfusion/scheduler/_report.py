"""The run report: events, statistics, drops and the end-of-run summary.

:class:`RunReport` is where every collaborator of a run reports what happened (events,
through :meth:`RunReport.event`) and where statistics are assembled, once per refresh, into
a plain :class:`RunStats` for the live table, the session and the drop hooks. It reads the
counters of the others through the callables it is given and never touches their threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..plugins import PluginHost
from ._graph import BuiltRig
from ._runinfo import RunInfo
from ._stats import StatsBook

__all__ = ["DropCounts", "RunReport", "RunStats"]

log = logging.getLogger("sensorfusion.run")

DropCounts = Counter[tuple[str, str]]
"""``(stream or "stage:<id>", reason) -> count``."""

_MAX_EVENTS = 10_000  # kept in memory and in the summary; the session keeps every one


@dataclass(frozen=True)
class RunStats:
    """A snapshot of a run's statistics: plain data, safe to keep and to hand to other threads.

    Attributes:
        streams: stream name -> ``{count, fps, mean_fps, latency_ms_p50, latency_ms_p99, drops, errors}``.
        stages: stage id (and ``sync``) -> the same keys.
        drops: stream name (or ``stage:<id>``) -> ``{reason: count}``.
        framesets: framesets formed so far.
        partial_framesets: of those, sets missing a stream.
    """

    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    drops: dict[str, dict[str, int]] = field(default_factory=dict)
    framesets: int = 0
    partial_framesets: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored in the session's ``stats`` and merged into the summary."""
        return {
            "streams": self.streams,
            "stages": self.stages,
            "drops": self.drops,
            "framesets": self.framesets,
            "partial_framesets": self.partial_framesets,
        }


class RunReport:
    """Events, statistics and the summary of one run.

    Args:
        rig: the built rig (names, limits, components for their ``summary()``).
        host: the plugin host, for the ``sensorfusion_frame_dropped`` hook.
        run_info: what observer hooks learn about the run.
        stats: the meters every collaborator ticks.
        drop_counts: callables returning drop counters kept elsewhere (bus, synchronizer).
        framesets: returns ``(framesets formed, partial framesets)``.
        on_event: called with every event (the recorder stores them).
    """

    def __init__(
        self,
        rig: BuiltRig,
        host: PluginHost,
        run_info: RunInfo,
        stats: StatsBook,
        *,
        drop_counts: list[Callable[[], DropCounts]],
        framesets: Callable[[], tuple[int, int]],
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.rig = rig
        self.host = host
        self.run_info = run_info
        self.stats = stats
        self._drop_counts = drop_counts
        self._framesets = framesets
        self.on_event = on_event
        self.events: list[dict[str, Any]] = []
        self._events_lock = threading.Lock()
        self._events_dropped = 0
        self._reported: DropCounts = Counter()
        self._publish_lock = threading.Lock()

    # -- events -------------------------------------------------------------------------------
    def event(self, kind: str, source: str, message: str, **extra: Any) -> dict[str, Any]:
        """Record an event (kept for the summary, logged, handed to ``on_event``)."""
        ev = {"t_ns": time.time_ns(), "kind": kind, "source": source, "message": message, **extra}
        with self._events_lock:
            if len(self.events) < _MAX_EVENTS:
                self.events.append(ev)
            else:
                self._events_dropped += 1
        log.info("%s %s: %s", kind, source, message)
        if self.on_event is not None:
            self.on_event(ev)
        return ev

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        with self._events_lock:
            return [e for e in self.events if e["kind"] == kind]

    # -- statistics ---------------------------------------------------------------------------
    def drops(self) -> DropCounts:
        c: DropCounts = Counter()
        for source in self._drop_counts:
            c.update(source())
        with self.stats.lock:
            streams = list(self.stats.streams.items())
            stages = list(self.stats.stages.items())
        for name, m in streams:
            for reason, n in m.drop_counts().items():
                c[(name, reason)] += n
        for name, m in stages:
            for reason, n in m.drop_counts().items():
                c[(f"stage:{name}", reason)] += n
        return c

    def publish(self, *, live: bool) -> RunStats:
        """One statistics pass: notify the drop hooks of new drops and return the snapshot."""
        with self._publish_lock:
            drops = self.drops()
            for key, n in drops.items():
                delta = n - self._reported.get(key, 0)
                if delta > 0:
                    self.host.notify(
                        "sensorfusion_frame_dropped", run=self.run_info, stream=key[0], reason=key[1], count=delta
                    )
            self._reported = drops
            return self._stats(live=live, drops=drops)

    def _stats(self, *, live: bool, drops: DropCounts) -> RunStats:
        snap = self.stats.snapshot(live=live)
        streams: dict[str, dict[str, Any]] = snap["streams"]
        stages: dict[str, dict[str, Any]] = snap["stages"]
        for (stream, reason), n in drops.items():
            if stream in streams:
                streams[stream]["drops"][reason] = n
            elif stream.startswith("stage:") and stream[6:] in stages:
                stages[stream[6:]]["drops"][reason] = n
            else:
                streams.setdefault(stream, {"count": 0, "drops": {}})["drops"][reason] = n
        flat: dict[str, dict[str, int]] = {}
        for (stream, reason), n in sorted(drops.items()):
            flat.setdefault(stream, {})[reason] = n
        framesets, partial = self._framesets()
        return RunStats(streams=streams, stages=stages, drops=flat, framesets=framesets, partial_framesets=partial)

    # -- summary ------------------------------------------------------------------------------
    def summary(
        self,
        stats: RunStats,
        *,
        out: str | None,
        replay_of: str | None,
        interrupted: bool,
        error: BaseException | None,
        limits: dict[str, Any],
        abandoned: list[str],
    ) -> dict[str, Any]:
        """The end-of-run summary (``--json``, the session's ``summary``, the final table)."""
        with self._events_lock:
            events = [{k: v for k, v in e.items() if k != "traceback"} for e in self.events]
        summary: dict[str, Any] = {
            "rig": self.rig.config.name,
            "out": out,
            "replay_of": replay_of,
            "interrupted": interrupted,
            "error": str(error) if error else None,
            "sync_reference": self.rig.sync_reference,
            "limits": limits,
            **stats.as_dict(),
            "abandoned": abandoned,
            "drivers": {},
            "estimators": {},
            "sinks": {},
            "events": events,
            "wall_s": round((time.time_ns() - self.run_info.start_ns) / 1e9, 3),
        }
        if self._events_dropped:
            summary["events_not_kept"] = self._events_dropped
        for src in self.rig.sources:
            if src.config.id in abandoned:
                continue  # never call into a component that is stuck
            figures = _figures(src.driver.summary)
            if figures:
                summary["drivers"][src.config.id] = figures
        for node in self.rig.stages:
            if node.id not in abandoned:
                summary["estimators"][node.id] = _figures(node.component.summary)
        for node in self.rig.sinks:
            if node.id not in abandoned:
                summary["sinks"][node.id] = _figures(node.component.summary)
        return summary


def _figures(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return call()
    except Exception as exc:
        return {"error": f"summary() raised {exc!r}"}
