"""The frame bus: bounded per-stream queues between source threads and the pipeline."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterable

from ..schema._streams import Frame, QueuePolicy
from ._queue import BoundedQueue

__all__ = ["FrameBus"]


class FrameBus:
    """One :class:`~sensorfusion.scheduler._queue.BoundedQueue` per stream, with one shared
    wake-up, and an optional *tap* that sees every frame before it is queued.

    ``put`` applies the stream's policy when its queue is full: ``drop_oldest`` discards
    the oldest queued frame of that stream (counted as ``queue_full``), ``block`` waits
    until the consumer takes frames or the bus closes. ``get_all`` returns every queued
    frame in arrival order. The tap (the recorder) gets a frame whatever happens to it in
    the pipeline afterwards, so back-pressure from the stages never costs a recorded frame.
    """

    def __init__(self, *, tap: Callable[[Frame], None] | None = None) -> None:
        self._cond = threading.Condition()
        self._queues: dict[str, BoundedQueue[tuple[int, Frame]]] = {}
        self._order = itertools.count()
        self._closed = False
        self._ended: list[str] = []
        self._tap = tap

    def add_stream(self, name: str, size: int, policy: QueuePolicy) -> None:
        with self._cond:
            self._queues[name] = BoundedQueue(size, policy, name=name, cond=self._cond)

    def put(self, frame: Frame) -> bool:
        """Hand a frame to the tap, then queue it; False if it was refused (unknown stream
        or bus closed)."""
        q = self._queues.get(frame.stream)
        if q is None or self._closed:
            return False
        if self._tap is not None:
            self._tap(frame)
        return q.put((next(self._order), frame))

    def put_many(self, frames: Iterable[Frame]) -> None:
        for f in frames:
            self.put(f)

    def end_stream(self, name: str) -> None:
        """Signal that a stream will send no more frames (delivered after its queued frames)."""
        with self._cond:
            if name not in self._ended:
                self._ended.append(name)
            self._cond.notify_all()

    def get_all(self, timeout_s: float) -> tuple[list[Frame], list[str]]:
        """Wait up to ``timeout_s`` for frames; return them in arrival order, and the streams
        that ended (only once all their frames have been returned)."""
        with self._cond:
            if not any(len(q) for q in self._queues.values()) and not self._ended and not self._closed:
                self._cond.wait(timeout_s)
            items: list[tuple[int, Frame]] = []
            for q in self._queues.values():
                items.extend(q.get_all())
            ended, self._ended = self._ended, []
            self._cond.notify_all()
        items.sort(key=lambda x: x[0])
        return [f for _, f in items], ended

    def close(self) -> None:
        """Refuse further frames and release every producer waiting on a full queue."""
        with self._cond:
            self._closed = True
            for q in self._queues.values():
                q.close()
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def dropped(self) -> Counter[tuple[str, str]]:
        """``(stream, "queue_full") -> frames discarded`` so far."""
        return Counter({(name, "queue_full"): q.dropped for name, q in list(self._queues.items()) if q.dropped})

    def depth(self) -> dict[str, int]:
        with self._cond:
            return {k: len(v) for k, v in self._queues.items()}
