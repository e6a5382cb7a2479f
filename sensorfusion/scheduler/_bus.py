"""The frame bus: bounded per-stream queues between source threads and the pipeline."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable

from ..schema._streams import Frame, QueuePolicy

__all__ = ["FrameBus"]


class FrameBus:
    """Bounded per-stream queues with one shared wake-up.

    ``put`` applies the stream's policy when its queue is full: ``drop_oldest`` discards
    the oldest queued frame of that stream (counted as ``queue_full``), ``block`` waits
    until the consumer takes frames or the bus closes. ``get_all`` returns every queued
    frame in arrival order.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queues: dict[str, deque[tuple[int, Frame]]] = {}
        self._limits: dict[str, tuple[int, QueuePolicy]] = {}
        self._counter = 0
        self._closed = False
        self.dropped: Counter[tuple[str, str]] = Counter()
        self._ended: list[str] = []

    def add_stream(self, name: str, size: int, policy: QueuePolicy) -> None:
        with self._cond:
            self._queues[name] = deque()
            self._limits[name] = (size, policy)

    def put(self, frame: Frame) -> bool:
        """Queue a frame; False if it was refused (unknown stream or bus closed)."""
        with self._cond:
            q = self._queues.get(frame.stream)
            if q is None or self._closed:
                return False
            size, policy = self._limits[frame.stream]
            while len(q) >= size:
                if policy == "drop_oldest":
                    q.popleft()
                    self.dropped[(frame.stream, "queue_full")] += 1
                else:
                    self._cond.wait(0.1)
                    if self._closed:
                        return False
            self._counter += 1
            q.append((self._counter, frame))
            self._cond.notify_all()
            return True

    def put_many(self, frames: Iterable[Frame]) -> None:
        for f in frames:
            self.put(f)

    def end_stream(self, name: str) -> None:
        """Signal that a stream will send no more frames (delivered after its queued frames)."""
        with self._cond:
            self._ended.append(name)
            self._cond.notify_all()

    def get_all(self, timeout_s: float) -> tuple[list[Frame], list[str]]:
        """Wait up to ``timeout_s`` for frames; return them in arrival order, and the streams
        that ended (only once all their frames have been returned)."""
        with self._cond:
            if not any(self._queues.values()) and not self._ended and not self._closed:
                self._cond.wait(timeout_s)
            items: list[tuple[int, Frame]] = []
            for q in self._queues.values():
                items.extend(q)
                q.clear()
            ended, self._ended = self._ended, []
            self._cond.notify_all()
        items.sort(key=lambda x: x[0])
        return [f for _, f in items], ended

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def depth(self) -> dict[str, int]:
        with self._cond:
            return {k: len(v) for k, v in self._queues.items()}
