"""The stage chain: estimator stages in dependency order, then the recorder tap and the sinks.

::

    submit(frameset) -> [queue] stage 1 -> [queue] stage 2 -> ... -> stage n -+-> record(frameset)
                                                                              +-> [queue] sink 1
                                                                              +-> [queue] sink k

Each stage and sink runs on its own :class:`~sensorfusion.scheduler._worker.Worker` behind a
:class:`~sensorfusion.scheduler._queue.BoundedQueue` sized and governed by its ``queue:``
block (``block``: back-pressure; ``drop_oldest``: counted as ``stage_queue_full``). Closing
the chain (:meth:`StageChain.finish`) closes the first queue; each worker drains its queue
and closes the next, so every frameset already in flight is finished. Abandoning a stuck
worker releases whoever waits on its queue and closes what comes after it.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

from .._components import Estimator, Sink
from .._errors import PluginError
from ..schema._streams import Frame, FrameSet
from ._graph import StageNode
from ._queue import BoundedQueue, QueueClosed
from ._stats import StatsBook
from ._worker import Worker

__all__ = ["StageChain", "StageWorker"]

EventFn = Callable[..., Any]


class StageWorker(Worker):
    """A stage or sink on its own thread, with the queue in front of it."""

    def __init__(self, node: StageNode, chain: StageChain, index: int) -> None:
        super().__init__(
            node.id,
            "stage" if node.kind == "estimator" else "sink",
            node.plugin,
            self._run_stage if node.kind == "estimator" else self._run_sink,
        )
        self.node = node
        self.chain = chain
        self.index = index
        meter = chain.stats.stage(node.id)
        self.meter = meter
        self.inbox: BoundedQueue[FrameSet] = BoundedQueue(
            node.queue_size,
            node.queue_policy,  # type: ignore[arg-type]
            name=node.id,
            on_drop=lambda _fs: meter.drop("stage_queue_full"),
        )

    # -- estimator stage ----------------------------------------------------------------------
    def _run_stage(self) -> None:
        node = self.node
        est = node.component
        assert isinstance(est, Estimator)
        outputs = {s.name: s for s in node.outputs}
        try:
            while True:
                try:
                    fs = self.inbox.get()
                except QueueClosed:
                    break
                if self.chain.failed():
                    continue  # the run is failing: drain without work
                t0 = time.perf_counter()
                try:
                    with self.calling(f"process() of frameset {fs.index}"):
                        result = est.process(fs)
                    if self.abandoned:
                        return
                    for name, data in result.items():
                        spec = outputs.get(name)
                        if spec is None:
                            raise PluginError(
                                node.plugin,
                                f"stage {node.id!r} returned undeclared stream {name!r}; declared: {sorted(outputs)}",
                            )
                        frame = Frame(name, fs.t_ref_ns, fs.t_host_ns, fs.index, dict(data))
                        spec.validate_frame(frame)
                        fs.frames[name] = frame
                    self.meter.tick(time.perf_counter() - t0)
                except Exception as exc:
                    if self.abandoned:
                        return
                    self.meter.error()
                    err = (
                        exc
                        if isinstance(exc, PluginError)
                        else PluginError(
                            node.plugin,
                            f"stage {node.id!r} (estimator {node.component_name!r}) raised {type(exc).__name__}: {exc} at frameset {fs.index}",
                        )
                    )
                    if not isinstance(exc, PluginError):
                        err.__cause__ = exc
                    self.chain.event(
                        "stage_error",
                        node.id,
                        str(err),
                        plugin=node.plugin,
                        frameset=fs.index,
                        traceback=traceback.format_exc(limit=8),
                    )
                    if node.on_error == "stop":
                        self.chain.fail(err)
                        continue
                self.chain.forward(self.index, fs)
        finally:
            if not self.abandoned:
                self.chain.close_after(self.index)

    # -- sink -----------------------------------------------------------------------------------
    def _run_sink(self) -> None:
        node = self.node
        sink = node.component
        assert isinstance(sink, Sink)
        while True:
            try:
                fs = self.inbox.get()
            except QueueClosed:
                return
            t0 = time.perf_counter()
            try:
                with self.calling(f"write() of frameset {fs.index}"):
                    sink.write(fs)
                if self.abandoned:
                    return
                self.meter.tick(time.perf_counter() - t0)
            except Exception as exc:
                if self.abandoned:
                    return
                self.meter.error()
                err = PluginError(
                    node.plugin, f"sink {node.id!r} ({node.component_name!r}) raised {type(exc).__name__}: {exc}"
                )
                self.chain.event(
                    "sink_error", node.id, str(err), plugin=node.plugin, traceback=traceback.format_exc(limit=8)
                )
                if node.on_error == "stop":
                    self.chain.fail(err)


class StageChain:
    """Every stage and sink of a rig, wired in order.

    Args:
        stages: estimator stages in dependency order.
        sinks: sinks (each sees every finished frameset).
        stats: the run's meters.
        event: ``event(kind, source, message, **extra)``.
        fail: ends the run with an error.
        failed: true once the run is failing (stages then drain without work).
        record: the recorder tap for finished framesets (their estimates).
    """

    def __init__(
        self,
        stages: list[StageNode],
        sinks: list[StageNode],
        *,
        stats: StatsBook,
        event: EventFn,
        fail: Callable[[BaseException], None],
        failed: Callable[[], bool],
        record: Callable[[FrameSet], None],
    ) -> None:
        self.stats = stats
        self.event = event
        self.fail = fail
        self.failed = failed
        self.record = record
        self.stages = [StageWorker(n, self, i) for i, n in enumerate(stages)]
        self.sinks = [StageWorker(n, self, i) for i, n in enumerate(sinks)]

    @property
    def workers(self) -> list[StageWorker]:
        return self.stages + self.sinks

    def start(self) -> None:
        for w in self.workers:
            w.start()

    # -- data -----------------------------------------------------------------------------------
    def submit(self, fs: FrameSet) -> bool:
        """Hand a new frameset to the first stage (or straight on when there is none)."""
        if not self.stages:
            self._finished(fs)
            return True
        return self._put(self.stages[0], fs)

    def forward(self, index: int, fs: FrameSet) -> None:
        """Stage ``index`` is done with ``fs``: on to the next stage, or to the recorder and sinks."""
        if index + 1 < len(self.stages):
            self._put(self.stages[index + 1], fs)
        else:
            self._finished(fs)

    def _finished(self, fs: FrameSet) -> None:
        self.record(fs)
        for sink in self.sinks:
            self._put(sink, fs)

    def _put(self, worker: StageWorker, fs: FrameSet) -> bool:
        q = worker.inbox
        while not q.put(fs, timeout=0.1):
            if q.closed or self.failed():
                return False
        return True

    # -- ending ---------------------------------------------------------------------------------
    def finish(self) -> None:
        """No more framesets: every worker drains its queue, then the next one's."""
        if self.stages:
            self.stages[0].inbox.close()
        else:
            self.close_after(-1)

    def close_after(self, index: int) -> None:
        """Stage ``index`` ended: close what comes after it."""
        if index + 1 < len(self.stages):
            self.stages[index + 1].inbox.close()
        else:
            for sink in self.sinks:
                sink.inbox.close()

    def abandon(self, worker: StageWorker) -> None:
        """Give up on a stuck worker: release whoever waits on its queue, end what follows."""
        worker.abandon()
        worker.inbox.cancel()
        if worker.kind == "stage":
            self.close_after(worker.index)

    def done(self) -> bool:
        return all(w.done.is_set() or w.abandoned for w in self.workers)
