"""The runner: wires a run's collaborators together, supervises them and ends the run.

::

    SourceSupervisor (one thread per source)
        -> FrameBus --tap--> Recorder (raw frames)
        -> dispatcher thread: Synchronizer -> framesets, limits
        -> StageChain: stage 1 -> ... -> stage n -> {Recorder (estimates), sinks}
    RunReport: events, statistics, drops, summary (read by the CLI's live table)

Every queue is bounded; every drop is counted with its reason and reported through the
``sensorfusion_frame_dropped`` hook, the live table and the stored statistics. A stop
request (a limit, Ctrl-C / SIGTERM, an error) ends the run within a bounded time: a
component still inside one call ``stop_timeout_s`` after the stop is abandoned, named in an
event and the summary, and the exit code says so.
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
from ..schema._streams import FrameSet
from ._bus import FrameBus
from ._chain import StageChain
from ._dispatch import Dispatcher
from ._graph import BuiltRig
from ._pacer import SensorTimePacer
from ._recorder import Recorder
from ._report import DropCounts, RunReport, RunStats
from ._runinfo import RunInfo
from ._stats import StatsBook
from ._supervisor import SourceSupervisor
from ._watchdog import StopWatchdog

__all__ = ["RunOptions", "RunResult", "Runner"]

log = logging.getLogger("sensorfusion.run")


@dataclass
class RunOptions:
    """How to run.

    Attributes:
        out: session path to record into (None: do not record).
        realtime: sources pace themselves to the wall clock; False = ``--fast``.
        duration_s: stop after this much *sensor* time of framesets (None: rig default / forever).
        max_framesets: stop after this many framesets.
        quiet: no live table (the command line's display; the runner itself prints nothing).
        overwrite: replace an existing session at ``out``.
        replay_of: the session being replayed (for the record).
        live_refresh_s: how often statistics are published (live table, session, drop hooks).
        lossless: never drop a frame — full queues and a full recorder make the sources wait.
            None (default): lossless exactly when not ``realtime``. Replays are lossless even
            when paced at the recorded timing: a recording can always wait.
        stop_timeout_s: after a stop request, how long a component may stay inside one call
            (``read()``, ``process()``, ``write()``) before it is abandoned.
    """

    out: str | None = None
    realtime: bool = True
    duration_s: float | None = None
    max_framesets: int | None = None
    quiet: bool = False
    overwrite: bool = False
    replay_of: str | None = None
    live_refresh_s: float = 0.5
    lossless: bool | None = None
    stop_timeout_s: float = 5.0

    @property
    def never_drop(self) -> bool:
        return (not self.realtime) if self.lossless is None else self.lossless


@dataclass
class RunResult:
    """How a run ended.

    Attributes:
        summary: the end-of-run summary (``--json``).
        error: the error that ended the run, if any.
        interrupted: stopped by Ctrl-C / SIGTERM (or :meth:`Runner.request_stop`).
        abandoned: components that did not return after the stop request (their descriptions).
    """

    summary: dict[str, Any]
    error: BaseException | None = None
    interrupted: bool = False
    abandoned: list[str] = field(default_factory=list)


@dataclass
class _Ctl:
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    error_lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, exc: BaseException) -> None:
        with self.error_lock:
            if self.error is None:
                self.error = exc
        self.stop.set()


class Runner:
    """Runs a built rig until its sources end, a limit is reached, or a stop is requested."""

    def __init__(self, rig: BuiltRig, host: PluginHost, options: RunOptions) -> None:
        self.rig = rig
        self.host = host
        self.opt = options
        self.ctl = _Ctl()
        self.stats = StatsBook()
        self.stats.stage("sync")
        self._stop_requested = False
        self._forced = threading.Event()
        self.warmup_s: dict[str, float] = {}
        self.run_info = RunInfo(
            rig_name=rig.config.name,
            out=options.out,
            streams=tuple(sorted(rig.source_specs)),
            stages=tuple(s.id for s in rig.stages) + tuple(s.id for s in rig.sinks),
            start_ns=time.time_ns(),
            replay_of=options.replay_of,
        )
        self.recorder: Recorder | None = None
        if options.out is not None:
            self.recorder = Recorder(
                rig,
                options.out,
                overwrite=options.overwrite,
                lossless=options.never_drop,
                on_failure=self.ctl.fail,
                live=options.realtime and not options.never_drop,
            )
        self.bus = FrameBus(tap=self.recorder.tap if self.recorder is not None else None)
        self.report = RunReport(
            rig,
            host,
            self.run_info,
            self.stats,
            drop_counts=[lambda: self.bus.dropped, lambda: self._dispatcher.drop_counts(), self._recorder_drops],
            framesets=lambda: self._dispatcher.counts(),
            on_event=self.recorder.event if self.recorder is not None else None,
        )
        self.chain = StageChain(
            rig.stages,
            rig.sinks,
            stats=self.stats,
            event=self.event,
            fail=self.ctl.fail,
            failed=lambda: self.ctl.error is not None,
            record=self.recorder.estimates if self.recorder is not None else _ignore,
        )
        self.pacer = _make_pacer(rig, options, self.ctl.stop)
        self.sources = [
            SourceSupervisor(
                node,
                deliver=self.bus.put,
                pace=self.pacer.release if self.pacer is not None else None,
                stats=self.stats,
                event=self.event,
                stop=self.ctl.stop,
                on_failed=self._driver_failed,
                on_fatal=self.ctl.fail,
                on_end=self._source_ended,
            )
            for node in rig.sources
        ]
        self._dispatcher = Dispatcher(
            rig,
            self.bus,
            self.chain,
            self.stats,
            realtime=options.realtime,
            duration_s=options.duration_s,
            max_framesets=options.max_framesets,
            on_limit=self.ctl.stop.set,
            fail=self.ctl.fail,
            forced=self._forced,
        )
        self.sync = self._dispatcher.sync
        self.watchdog = StopWatchdog(
            self.sources,
            self.chain,
            stop=self.ctl.stop,
            stop_timeout_s=options.stop_timeout_s,
            live_duration_s=options.duration_s if options.realtime and not options.never_drop else None,
            event=self.event,
        )
        for st in (*rig.stages, *rig.sinks):  # stages record events through their context
            st.component.context.emit = _emitter(self.event, st.id, st.plugin)

    @property
    def framesets(self) -> int:
        return self._dispatcher.framesets

    # -- stopping ----------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask the run to stop cleanly (what Ctrl-C and SIGTERM do): sources stop, every queue
        drains, the session is flushed. Safe to call from a signal handler."""
        self._stop_requested = True
        self.ctl.stop.set()

    def force_stop(self) -> None:
        """Stop now (a second Ctrl-C / SIGTERM): whatever is still running is abandoned and the
        session is closed with what it holds. Safe to call from a signal handler."""
        self._stop_requested = True
        self.ctl.stop.set()
        self._forced.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.report.events

    # -- events ------------------------------------------------------------------------------
    def event(self, kind: str, source: str, message: str, **extra: Any) -> None:
        """Record an event in the summary, the session and the log."""
        self.report.event(kind, source, message, **extra)

    def _driver_failed(self, sensor_id: str, error: BaseException, restart_in_s: float) -> None:
        self.host.notify(
            "sensorfusion_driver_failed", run=self.run_info, sensor_id=sensor_id, error=error, restart_in_s=restart_in_s
        )

    def _source_ended(self, sup: SourceSupervisor) -> None:
        if self.pacer is not None:
            self.pacer.finish(sup.name)
        for name in sup.streams:
            self.bus.end_stream(name)

    def _recorder_drops(self) -> DropCounts:
        return self.recorder.drop_counts() if self.recorder is not None else Counter()

    # -- run ---------------------------------------------------------------------------------
    def run(
        self,
        *,
        on_stats: Callable[[RunStats], None] | None = None,
        on_progress: Callable[[str], None] | None = None,
    ) -> RunResult:
        """Run to the end and return the summary.

        First every component's ``warmup()`` runs (compiling kernels before the live clock
        starts; ``on_progress`` gets a line per component), then the session is created and
        the sources start. ``on_stats`` is called from this thread with every statistics
        snapshot (the CLI's live table). Ctrl-C (KeyboardInterrupt) stops cleanly; a second
        one stops at once. Raises :class:`~sensorfusion.StoreError` when the session cannot be
        created and :class:`~sensorfusion.PluginError` when a warm-up fails.
        """
        self.warm_up(on_progress)
        if self.recorder is not None:
            self.recorder.open()
        for name, spec in self.rig.source_specs.items():
            # Live sources keep their own policy; --fast sources (files, replays, simulation)
            # and replays at recorded timing are never dropped: they wait for the pipeline.
            self.bus.add_stream(name, spec.queue_size, "block" if self.opt.never_drop else spec.queue_policy)
        t_start_ns = time.time_ns()
        for sup in self.sources:
            ctx = sup.node.driver.context
            ctx.realtime = self.opt.realtime
            ctx.stop = self.ctl.stop
            ctx.start_ns = t_start_ns
            ctx.emit = _emitter(self.event, sup.node.config.id, sup.node.plugin)
        self.chain.start()
        self._dispatcher.start()
        if self.pacer is not None:
            self.pacer.start()
        for sup in self.sources:
            sup.start()
        self.host.notify("sensorfusion_session_started", run=self.run_info)
        interrupted = False
        try:
            interrupted = self._supervise(on_stats)
        finally:
            result = self._finish(interrupted or self._stop_requested)
        return result

    def warm_up(self, on_progress: Callable[[str], None] | None = None) -> dict[str, float]:
        """Call every component's ``warmup()`` (``run()`` does it before the sources start and
        the live clock begins); returns the seconds each took (those over a millisecond)."""
        from ..plugins import plugin_errors

        items: list[tuple[str, str, str, Callable[[], None]]] = [
            ("driver", s.node.config.id, s.node.plugin, s.node.driver.warmup) for s in self.sources
        ]
        items += [("stage", n.id, n.plugin, n.component.warmup) for n in self.rig.stages]
        items += [("sink", n.id, n.plugin, n.component.warmup) for n in self.rig.sinks]
        for i, (kind, name, plugin, warm) in enumerate(items, 1):
            if on_progress is not None:
                on_progress(f"warming up {i}/{len(items)}: {kind} {name!r}")
            t0 = time.perf_counter()
            with plugin_errors(plugin, f"{kind} {name!r} warmup()"):
                warm()
            took = time.perf_counter() - t0
            if took >= 0.001:
                self.warmup_s[name] = round(took, 3)
        return dict(self.warmup_s)

    def _supervise(self, on_stats: Callable[[RunStats], None] | None) -> bool:
        """The main thread's loop: statistics, stop requests and the stop watchdog."""
        announced = False
        next_refresh = time.monotonic() + self.opt.live_refresh_s
        while not (self._dispatcher.done.is_set() and self.chain.done()):
            try:
                if self._dispatcher.done.is_set():
                    # the sources have ended and the stages drain: wait on the clock (the
                    # dispatcher's event is set and would return at once, and a main thread that
                    # spins holds the GIL away from the stages it is waiting for)
                    time.sleep(0.05)
                else:
                    self._dispatcher.done.wait(0.05)
                now = time.monotonic()
                if self._stop_requested and not announced:
                    announced = True
                    self.event("interrupted", "run", "stop requested (Ctrl-C / SIGTERM)")
                if self._forced.is_set():
                    self.watchdog.abandon_all("a second stop request forced the run to end")
                    break
                self.watchdog.tick(now)
                if now >= next_refresh:
                    next_refresh = now + self.opt.live_refresh_s
                    self._publish(on_stats, live=True)
            except KeyboardInterrupt:
                if self._stop_requested:
                    self.force_stop()
                else:
                    self.request_stop()
        return announced

    def _publish(self, on_stats: Callable[[RunStats], None] | None, *, live: bool) -> RunStats:
        stats = self.report.publish(live=live)
        if self.recorder is not None:
            self.recorder.stats(stats.as_dict())
        if on_stats is not None:
            on_stats(stats)
        return stats

    def _finish(self, interrupted: bool) -> RunResult:
        forced = self._forced.is_set()
        grace = 1.0 if forced else self.opt.stop_timeout_s
        self.ctl.stop.set()
        self.bus.close()
        for sup in self.sources:
            sup.done.wait(0.0 if sup.abandoned else grace)
        final = self._publish(None, live=False)
        abandoned_names = [w.name for w in self.watchdog.abandoned]
        summary = self.report.summary(
            final,
            out=self.opt.out,
            replay_of=self.opt.replay_of,
            interrupted=interrupted,
            error=self.ctl.error,
            limits={"duration_s": self.opt.duration_s, "max_framesets": self.opt.max_framesets},
            abandoned=abandoned_names,
        )
        summary["warmup_s"] = dict(self.warmup_s)
        self._close_components(grace, skip=set(abandoned_names))
        if self.recorder is not None:
            if (
                not self.recorder.close(summary, timeout_s=grace * 2 if forced else None)
                and self.recorder.error is None
            ):
                log.warning("the session %s was not closed in time; it holds its last commit", self.opt.out)
            summary["recorder"] = self.recorder.figures()
        if self.recorder is not None and self.recorder.error is not None and self.ctl.error is None:
            self.ctl.fail(self.recorder.error)
        self.host.notify("sensorfusion_session_finished", run=self.run_info, summary=summary)
        return RunResult(
            summary=summary,
            error=self.ctl.error,
            interrupted=interrupted,
            abandoned=[w.describe() for w in self.watchdog.abandoned],
        )

    def _close_components(self, timeout_s: float, *, skip: set[str]) -> None:
        """``close()`` every stage and sink that is not stuck, each with a bounded wait."""
        for node in list(self.rig.stages) + list(self.rig.sinks):
            if node.id in skip:
                continue
            err = _call_bounded(node.component.close, timeout_s, f"close:{node.id}")
            if err is not None:
                self.event("close_error", node.id, err, plugin=node.plugin)


def _make_pacer(rig: BuiltRig, options: RunOptions, stop: threading.Event) -> SensorTimePacer | None:
    """``--fast`` with several synchronized sources: keep them together in sensor time."""
    if options.realtime:
        return None
    synced = set(rig.sync_streams)
    sources = [(n.config.id, [s.name for s in n.streams if s.name in synced]) for n in rig.sources]
    sources = [(sid, streams) for sid, streams in sources if streams]
    if len(sources) < 2:
        return None
    sync = rig.config.sync
    return SensorTimePacer(
        sources,
        offsets_ns=rig.sync_offsets_ns,
        tolerance_ns=int(sync.tolerance_ms * 1e6),
        silence_s=sync.timeout_ms / 1e3,
        stop=stop,
    )


def _emitter(event: Callable[..., None], sid: str, plugin: str) -> Callable[[str, str, dict[str, Any]], None]:
    def emit(kind: str, message: str, extra: dict[str, Any]) -> None:
        event(kind, sid, message, plugin=plugin, **extra)

    return emit


def _ignore(_fs: FrameSet) -> None:
    return None


def _call_bounded(fn: Callable[[], None], timeout_s: float, name: str) -> str | None:
    """Call ``fn`` on a helper thread; an error message if it raised or did not return."""
    box: list[str] = []

    def body() -> None:
        try:
            fn()
        except Exception as exc:
            box.append(f"{type(exc).__name__}: {exc}")

    t = threading.Thread(target=body, name=name, daemon=True)
    t.start()
    t.join(timeout_s)
    if t.is_alive():
        return f"did not return within {timeout_s:g} s"
    return box[0] if box else None
