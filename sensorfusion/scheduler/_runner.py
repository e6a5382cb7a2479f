"""The runner: source threads, the dispatcher (record + synchronize), stage and sink workers.

Threads::

    driver thread (one per source) --FrameBus (bounded, per-stream policy)--> dispatcher
    dispatcher: record raw frames, synchronize -> framesets -> stage worker 1 -> ... -> stage worker n
    stage worker n -> record estimates, fan out to one worker per sink

Every queue is bounded; every drop is counted with its reason and reported through the
``sensorfusion_frame_dropped`` hook, the live table and the stored statistics.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .._components import Estimator, Sink
from .._errors import EndOfStream, PluginError
from ..plugins import PluginHost
from ..schema._streams import Frame, FrameSet
from ._bus import FrameBus
from ._graph import BuiltRig, SourceNode, StageNode
from ._runinfo import RunInfo
from ._stats import StatsBook
from ._sync import Synchronizer

__all__ = ["RunOptions", "RunResult", "Runner"]

log = logging.getLogger("sensorfusion.run")

_SENTINEL: Any = object()


@dataclass
class RunOptions:
    """How to run.

    Attributes:
        out: session path to record into (None: do not record).
        realtime: sources pace themselves to the wall clock; False = ``--fast``.
        duration_s: stop after this much *sensor* time of framesets (None: rig default / forever).
        max_framesets: stop after this many framesets.
        quiet: no live table.
        overwrite: replace an existing session at ``out``.
        replay_of: the session being replayed (for the record).
        lossless: never drop a frame — full queues and a full recorder make the sources wait.
            None (default): lossless exactly when not ``realtime``. Replays are lossless even
            when paced at the recorded timing: a recording can always wait.
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

    @property
    def never_drop(self) -> bool:
        return (not self.realtime) if self.lossless is None else self.lossless


@dataclass
class RunResult:
    summary: dict[str, Any]
    error: BaseException | None = None
    interrupted: bool = False


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
    """Runs a built rig until its sources end, a limit is reached, or ``stop()``."""

    def __init__(self, rig: BuiltRig, host: PluginHost, options: RunOptions) -> None:
        self.rig = rig
        self.host = host
        self.opt = options
        self.stats = StatsBook()
        self.bus = FrameBus()
        self.ctl = _Ctl()
        self.events: list[dict[str, Any]] = []
        self._events_lock = threading.Lock()
        self.framesets = 0
        self._first_t_ref: int | None = None
        self.writer: Any = None
        self._reported_drops: Counter[tuple[str, str]] = Counter()
        sync = rig.config.sync
        self.sync = Synchronizer(
            rig.sync_streams,
            rig.sync_reference,
            tolerance_ns=int(sync.tolerance_ms * 1e6),
            max_lateness_ns=int(sync.max_lateness_ms * 1e6),
            timeout_ns=int(sync.timeout_ms * 1e6),
            offsets_ns=rig.sync_offsets_ns,
            min_gap_ns={
                name: int(0.5e9 / rig.source_specs[name].rate_hz)
                for name in rig.sync_streams
                if sync.rate_watermarks and rig.source_specs[name].rate_hz > 0
            },
        )
        self.run_info = RunInfo(
            rig_name=rig.config.name,
            out=options.out,
            streams=tuple(sorted(rig.source_specs)),
            stages=tuple(s.id for s in rig.stages) + tuple(s.id for s in rig.sinks),
            start_ns=time.time_ns(),
            replay_of=options.replay_of,
        )
        self._stage_queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=s.queue_size) for s in rig.stages]
        self._sink_queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=s.queue_size) for s in rig.sinks]
        self._stage_drops: Counter[str] = Counter()
        self._threads: list[threading.Thread] = []
        self._sources_alive = 0
        self._sources_lock = threading.Lock()
        self._t_start_ns = time.time_ns()
        self._stop_requested = False
        for st in (*rig.stages, *rig.sinks):
            st.component.context.emit = self._stage_emitter(st.id, st.plugin)

    def _stage_emitter(self, stage_id: str, plugin: str) -> Any:
        return lambda kind, message, extra: self.event(kind, stage_id, message, plugin=plugin, **extra)

    # -- stopping ----------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask the run to stop cleanly (what Ctrl-C and SIGTERM do): sources stop, every queue
        drains, the session is flushed. Safe to call from a signal handler."""
        self._stop_requested = True
        self.ctl.stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    # -- events ----------------------------------------------------------------------------
    def event(self, kind: str, source: str, message: str, **extra: Any) -> None:
        ev = {"t_ns": time.time_ns(), "kind": kind, "source": source, "message": message, **extra}
        with self._events_lock:
            self.events.append(ev)
        if self.writer is not None:
            self.writer.event(kind, source, message, t_ns=ev["t_ns"], **extra)
        log.info("%s %s: %s", kind, source, message)

    # -- setup -----------------------------------------------------------------------------
    def _open_writer(self) -> None:
        if self.opt.out is None:
            return
        from ..store import SessionWriter

        rec = self.rig.config.record
        self.writer = SessionWriter(
            self.opt.out,
            rig=self.rig.config.model_dump(mode="json"),
            calibration=self.rig.calibration,
            compression=rec.compression,
            level=rec.level,
            commit_interval_s=rec.commit_interval_s,
            overwrite=self.opt.overwrite,
            # live: never stall the sources (drops are counted); --fast and replays lose nothing
            when_full="wait" if self.opt.never_drop else "drop",
        )
        for name in self.rig.record_streams:
            self.writer.add_stream(self.rig.source_specs[name])
        for st in self.rig.stages:
            for spec in st.outputs:
                self.writer.add_stream(spec, stage=st.id)
        self.writer.start()

    # -- sources ---------------------------------------------------------------------------
    def _source_loop(self, node: SourceNode) -> None:
        drv = node.driver
        drv.context.realtime = self.opt.realtime
        drv.context.stop = self.ctl.stop
        drv.context.start_ns = self._t_start_ns
        sid_for_events = node.config.id
        drv.context.emit = lambda kind, message, extra: self.event(kind, sid_for_events, message, plugin=node.plugin, **extra)
        sid = node.config.id
        restart = node.config.restart
        backoff = restart.initial_s
        failures = 0
        specs = {s.name: s for s in node.streams}
        opened = False
        failed_at_ns = 0
        try:
            while not self.ctl.stop.is_set():
                try:
                    if not opened:
                        drv.open()
                        opened = True
                        if failures:
                            gap_ns = time.time_ns() - failed_at_ns
                            self.event("driver_restarted", sid, f"reopened after {failures} failure(s); gap {gap_ns / 1e9:.3f} s", gap_ns=gap_ns)
                    frames = drv.read()
                    backoff = restart.initial_s
                    for f in frames:
                        spec = specs.get(f.stream)
                        if spec is None:
                            self._count_drop(f.stream, "invalid")
                            continue
                        try:
                            spec.validate_frame(f)
                        except Exception as exc:
                            self._count_drop(f.stream, "invalid")
                            self.event("invalid_frame", sid, str(exc))
                            continue
                        self.stats.stream(f.stream).tick()
                        self.bus.put(f)
                except EndOfStream:
                    self.event("end_of_stream", sid, "source finished")
                    break
                except Exception as exc:
                    failures += 1
                    failed_at_ns = time.time_ns()
                    try:
                        drv.close()
                    except Exception:
                        log.debug("close after failure raised", exc_info=True)
                    opened = False
                    if restart.max_restarts is not None and failures > restart.max_restarts:
                        self.event("driver_gave_up", sid, f"{type(exc).__name__}: {exc}", plugin=node.plugin)
                        break
                    self.event(
                        "driver_failed",
                        sid,
                        f"{type(exc).__name__}: {exc}",
                        plugin=node.plugin,
                        restart_in_s=backoff,
                    )
                    self.host.notify("sensorfusion_driver_failed", run=self.run_info, sensor_id=sid, error=exc, restart_in_s=backoff)
                    if self.ctl.stop.wait(backoff):
                        break
                    backoff = min(backoff * 2, restart.max_s)
        finally:
            if opened:
                try:
                    drv.close()
                except Exception:
                    log.warning("driver %s close() raised", sid, exc_info=True)
            for s in node.streams:
                self.bus.end_stream(s.name)
            with self._sources_lock:
                self._sources_alive -= 1

    def _count_drop(self, stream: str, reason: str, n: int = 1) -> None:
        self.stats.stream(stream).drops[reason] += n

    # -- dispatcher ------------------------------------------------------------------------
    def _dispatch_loop(self) -> None:
        record = set(self.rig.record_streams)
        ended: set[str] = set()
        all_streams = set(self.rig.source_specs)
        limit_reached = False
        try:
            while True:
                frames, newly_ended = self.bus.get_all(0.05)
                for f in frames:
                    if self.writer is not None and f.stream in record:
                        self.writer.write(f)
                    self.sync.push(f)
                for s in newly_ended:
                    ended.add(s)
                    self.sync.end(s)
                if not limit_reached:
                    sets = self.sync.poll()
                    if ended >= all_streams:
                        sets += self.sync.flush()
                    for fs in sets:
                        if self._limit_hit(fs):
                            limit_reached = True
                            self.ctl.stop.set()
                            break
                        self._emit(fs)
                if ended >= all_streams:
                    break
                if self.ctl.stop.is_set() and self._sources_done():
                    # drain what is queued, then finish
                    frames, newly_ended = self.bus.get_all(0.0)
                    for f in frames:
                        if self.writer is not None and f.stream in record:
                            self.writer.write(f)
                        if not limit_reached:
                            self.sync.push(f)
                    if not limit_reached:
                        for fs in self.sync.flush():
                            if self._limit_hit(fs):
                                break
                            self._emit(fs)
                    break
        except BaseException as exc:
            self.ctl.fail(exc)
        finally:
            self._put(self._stage_queues[0] if self._stage_queues else None, _SENTINEL, force=True)

    def _sources_done(self) -> bool:
        with self._sources_lock:
            return self._sources_alive <= 0

    def _limit_hit(self, fs: FrameSet) -> bool:
        if self.opt.max_framesets is not None and self.framesets >= self.opt.max_framesets:
            return True
        dur = self.opt.duration_s
        if dur is not None:
            if self._first_t_ref is None:
                self._first_t_ref = fs.t_ref_ns
            if fs.t_ref_ns - self._first_t_ref >= round(dur * 1e9):
                return True
        return False

    def _emit(self, fs: FrameSet) -> None:
        self.framesets += 1
        self.stats.stage("sync").tick((time.time_ns() - fs.t_host_ns) / 1e9 if self.opt.realtime else None)
        if self._stage_queues:
            self._put(self._stage_queues[0], fs, node=self.rig.stages[0])
        else:
            self._after_stages(fs)

    def _put(self, q: queue.Queue[Any] | None, item: Any, *, node: StageNode | None = None, force: bool = False) -> None:
        if q is None:
            if item is _SENTINEL:
                self._after_stages(_SENTINEL)
            return
        if force or node is None or node.queue_policy == "block":
            while True:
                try:
                    q.put(item, timeout=0.1)
                    return
                except queue.Full:
                    if self.ctl.error is not None and not force:
                        return
        else:
            while True:
                try:
                    q.put_nowait(item)
                    return
                except queue.Full:
                    try:
                        q.get_nowait()
                        self.stats.stage(node.id).drops["stage_queue_full"] += 1
                    except queue.Empty:
                        pass

    # -- stages ----------------------------------------------------------------------------
    def _stage_loop(self, i: int) -> None:
        node = self.rig.stages[i]
        q = self._stage_queues[i]
        nxt = self._stage_queues[i + 1] if i + 1 < len(self._stage_queues) else None
        meter = self.stats.stage(node.id)
        est = node.component
        assert isinstance(est, Estimator)
        outputs = {s.name: s for s in node.outputs}
        while True:
            fs = q.get()
            if fs is _SENTINEL:
                break
            if self.ctl.error is not None:
                continue
            t0 = time.perf_counter()
            try:
                result = est.process(fs)
                for name, data in result.items():
                    spec = outputs.get(name)
                    if spec is None:
                        raise PluginError(node.plugin, f"stage {node.id!r} returned undeclared stream {name!r}; declared: {sorted(outputs)}")
                    frame = Frame(name, fs.t_ref_ns, fs.t_host_ns, fs.index, dict(data))
                    spec.validate_frame(frame)
                    fs.frames[name] = frame
                meter.tick(time.perf_counter() - t0)
            except Exception as exc:
                meter.errors += 1
                err = exc if isinstance(exc, PluginError) else PluginError(
                    node.plugin,
                    f"stage {node.id!r} (estimator {node.component_name!r}) raised {type(exc).__name__}: {exc} at frameset {fs.index}",
                )
                if not isinstance(exc, PluginError):
                    err.__cause__ = exc
                self.event("stage_error", node.id, str(err), plugin=node.plugin, frameset=fs.index, traceback=traceback.format_exc(limit=8))
                if node.on_error == "stop":
                    self.ctl.fail(err)
                    continue
            if nxt is not None:
                self._put(nxt, fs, node=self.rig.stages[i + 1])
            else:
                self._after_stages(fs)
        if nxt is not None:
            self._put(nxt, _SENTINEL, force=True)
        else:
            self._after_stages(_SENTINEL)

    def _after_stages(self, fs: Any) -> None:
        if fs is not _SENTINEL and self.writer is not None:
            for st in self.rig.stages:
                for spec in st.outputs:
                    f = fs.frames.get(spec.name)
                    if f is not None:
                        self.writer.write(f, stage=st.id)
        for node, q in zip(self.rig.sinks, self._sink_queues, strict=True):
            self._put(q, fs, node=None if fs is _SENTINEL else node, force=fs is _SENTINEL)

    def _sink_loop(self, i: int) -> None:
        node = self.rig.sinks[i]
        q = self._sink_queues[i]
        meter = self.stats.stage(node.id)
        sink = node.component
        assert isinstance(sink, Sink)
        while True:
            fs = q.get()
            if fs is _SENTINEL:
                break
            t0 = time.perf_counter()
            try:
                sink.write(fs)
                meter.tick(time.perf_counter() - t0)
            except Exception as exc:
                meter.errors += 1
                err = PluginError(node.plugin, f"sink {node.id!r} ({node.component_name!r}) raised {type(exc).__name__}: {exc}")
                self.event("sink_error", node.id, str(err), plugin=node.plugin, traceback=traceback.format_exc(limit=8))
                if node.on_error == "stop":
                    self.ctl.fail(err)

    # -- run -------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Run to the end; returns the summary. Ctrl-C (KeyboardInterrupt) stops cleanly."""
        from ._live import LiveTable

        interrupted = False
        self._open_writer()
        self._sources_alive = len(self.rig.sources)
        for node in self.rig.sources:
            t = threading.Thread(target=self._source_loop, args=(node,), name=f"source:{node.config.id}", daemon=True)
            self._threads.append(t)
        for name in self.rig.source_specs:
            spec = self.rig.source_specs[name]
            # Live sources keep their own policy; --fast sources (files, replays, simulation)
            # and replays at recorded timing are never dropped: they wait for the pipeline.
            policy = "block" if self.opt.never_drop else spec.queue_policy
            self.bus.add_stream(name, spec.queue_size, policy)
        workers = [threading.Thread(target=self._dispatch_loop, name="dispatcher", daemon=True)]
        workers += [threading.Thread(target=self._stage_loop, args=(i,), name=f"stage:{s.id}", daemon=True) for i, s in enumerate(self.rig.stages)]
        workers += [threading.Thread(target=self._sink_loop, args=(i,), name=f"sink:{s.id}", daemon=True) for i, s in enumerate(self.rig.sinks)]
        live = LiveTable(self, enabled=not self.opt.quiet)
        self._t_start_ns = time.time_ns()
        try:
            for t in workers + self._threads:
                t.start()
            self.host.notify("sensorfusion_session_started", run=self.run_info)
            with live:
                announced = False
                while any(t.is_alive() for t in workers):
                    if self._stop_requested and not announced:
                        announced = interrupted = True
                        self.event("interrupted", "run", "stop requested (Ctrl-C / SIGTERM)")
                    for t in workers:
                        t.join(timeout=self.opt.live_refresh_s / max(len(workers), 1))
                    stats = self._publish_stats(live=True)
                    live.refresh(stats)
        except KeyboardInterrupt:
            interrupted = True
            self.event("interrupted", "run", "stopped by Ctrl-C")
            self.ctl.stop.set()
            for t in workers:
                t.join(timeout=30)
        finally:
            if self._stop_requested and not interrupted:
                interrupted = True
                self.event("interrupted", "run", "stop requested (Ctrl-C / SIGTERM)")
            self.ctl.stop.set()
            self.bus.close()
            for t in self._threads:
                t.join(timeout=10)
            final_stats = self._publish_stats(live=False)
            summary = self._summary(interrupted, final_stats)
            for stage_node in list(self.rig.stages) + list(self.rig.sinks):
                try:
                    stage_node.component.close()
                except Exception as exc:
                    self.event("close_error", stage_node.id, f"{type(exc).__name__}: {exc}", plugin=stage_node.plugin)
            if self.writer is not None:
                self.writer.close(summary=summary)
                summary["recorder"] = self._recorder_stats()
            self.host.notify("sensorfusion_session_finished", run=self.run_info, summary=summary)
            if not self.opt.quiet:
                live.final(summary)
        return RunResult(summary=summary, error=self.ctl.error, interrupted=interrupted)

    # -- reporting -------------------------------------------------------------------------
    def _all_drops(self) -> Counter[tuple[str, str]]:
        c: Counter[tuple[str, str]] = Counter()
        c.update(self.bus.dropped)
        c.update(self.sync.stats.dropped)
        for name, m in list(self.stats.streams.items()):
            for reason, n in m.drops.items():
                c[(name, reason)] += n
        for name, m in list(self.stats.stages.items()):
            for reason, n in m.drops.items():
                c[(f"stage:{name}", reason)] += n
        return c

    def _publish_stats(self, *, live: bool) -> dict[str, Any]:
        """One statistics pass per refresh: drop hooks, the session's stats, the live table."""
        drops = self._all_drops()
        self._report_drops(drops)
        stats = self._stats_dict(live=live, drops=drops)
        if self.writer is not None:
            self.writer.set_stats(stats)
        return stats

    def _report_drops(self, now: Counter[tuple[str, str]]) -> None:
        for key, n in now.items():
            delta = n - self._reported_drops.get(key, 0)
            if delta > 0:
                self.host.notify("sensorfusion_frame_dropped", run=self.run_info, stream=key[0], reason=key[1], count=delta)
        self._reported_drops = now

    def _stats_dict(self, live: bool = True, drops: Counter[tuple[str, str]] | None = None) -> dict[str, Any]:
        snap = self.stats.snapshot(live=live)
        drops = self._all_drops() if drops is None else drops
        for (stream, reason), n in drops.items():
            if stream in snap["streams"]:
                snap["streams"][stream]["drops"][reason] = n
            elif stream.startswith("stage:") and stream[6:] in snap["stages"]:
                snap["stages"][stream[6:]]["drops"][reason] = n
            else:
                snap["streams"].setdefault(stream, {"count": 0, "drops": {}})["drops"][reason] = n
        flat: dict[str, dict[str, int]] = {}
        for (stream, reason), n in sorted(drops.items()):
            flat.setdefault(stream, {})[reason] = n
        snap["drops"] = flat
        snap["framesets"] = self.framesets
        snap["partial_framesets"] = self.sync.stats.partial_sets
        return snap

    def _recorder_stats(self) -> dict[str, Any]:
        w = self.writer
        return {k: getattr(w, k) for k in ("dropped", "bytes_written") if hasattr(w, k)}

    def _summary(self, interrupted: bool, stats: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rig": self.rig.config.name,
            "out": self.opt.out,
            "replay_of": self.opt.replay_of,
            "interrupted": interrupted,
            "error": str(self.ctl.error) if self.ctl.error else None,
            "sync_reference": self.rig.sync_reference,
            "limits": {"duration_s": self.opt.duration_s, "max_framesets": self.opt.max_framesets},
            **stats,
            "drivers": {},
            "estimators": {},
            "sinks": {},
            "events": [{k: v for k, v in e.items() if k != "traceback"} for e in self.events],
            "wall_s": round((time.time_ns() - self.run_info.start_ns) / 1e9, 3),
        }
        for src in self.rig.sources:
            try:
                figures = src.driver.summary()
                if figures:
                    out["drivers"][src.config.id] = figures
            except Exception as exc:
                out["drivers"][src.config.id] = {"error": f"summary() raised {exc!r}"}
        for node in self.rig.stages:
            try:
                out["estimators"][node.id] = node.component.summary()
            except Exception as exc:
                out["estimators"][node.id] = {"error": f"summary() raised {exc!r}"}
        for node in self.rig.sinks:
            try:
                out["sinks"][node.id] = node.component.summary()
            except Exception as exc:
                out["sinks"][node.id] = {"error": f"summary() raised {exc!r}"}
        return out
