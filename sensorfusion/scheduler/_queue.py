"""The one bounded queue of the scheduler, with its drop policy.

Every hand-over between threads of a run goes through a :class:`BoundedQueue`: source
frames into the pipeline (one per stream, in the :class:`~sensorfusion.scheduler.FrameBus`),
framesets into each stage and sink, items into the recorder. When a queue is full its
policy decides: ``block`` makes the producer wait (back-pressure), ``drop_oldest``
discards the oldest item and counts it. Nothing blocks forever: :meth:`BoundedQueue.close`
ends a queue gracefully (the consumer drains what is left), :meth:`BoundedQueue.cancel`
ends it at once (waiting producers are released, queued items are discarded).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from ..schema._streams import QueuePolicy

__all__ = ["BoundedQueue", "QueueClosed"]

T = TypeVar("T")


class QueueClosed(Exception):
    """Raised by :meth:`BoundedQueue.get` once a closed queue is empty (or it was cancelled)."""


class BoundedQueue(Generic[T]):
    """A bounded FIFO between threads.

    Args:
        size: capacity in items (>= 1).
        policy: ``block`` (a full queue makes :meth:`put` wait) or ``drop_oldest`` (the
            oldest item is discarded and counted in :attr:`dropped`).
        name: for messages.
        cond: a condition shared with other queues (the frame bus waits on all its
            streams at once); default: the queue's own.
        on_drop: called with each discarded item (under the queue's lock: keep it cheap).
    """

    def __init__(
        self,
        size: int,
        policy: QueuePolicy = "block",
        *,
        name: str = "",
        cond: threading.Condition | None = None,
        on_drop: Callable[[T], None] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"queue size must be >= 1, got {size}")
        if policy not in ("block", "drop_oldest"):
            raise ValueError(f"unknown queue policy {policy!r}")
        self.size = int(size)
        self.policy: QueuePolicy = policy
        self.name = name
        self.cond = cond if cond is not None else threading.Condition()
        self._items: deque[T] = deque()
        self._closed = False
        self._cancelled = False
        self._on_drop = on_drop
        self.dropped = 0
        self.put_count = 0

    # -- producer side ------------------------------------------------------------------------
    def put(self, item: T, *, timeout: float | None = None) -> bool:
        """Queue ``item``; False when it was refused (the queue is closed or cancelled, or a
        ``block`` queue stayed full for ``timeout`` seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while True:
                if self._closed or self._cancelled:
                    return False
                if len(self._items) < self.size:
                    break
                if self.policy == "drop_oldest":
                    old = self._items.popleft()
                    self.dropped += 1
                    if self._on_drop is not None:
                        self._on_drop(old)
                    continue
                wait = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
                if wait <= 0:
                    return False
                self.cond.wait(wait)
            self._items.append(item)
            self.put_count += 1
            self.cond.notify_all()
            return True

    def close(self) -> None:
        """No more items: later puts are refused; the consumer drains what is queued."""
        with self.cond:
            self._closed = True
            self.cond.notify_all()

    def cancel(self) -> list[T]:
        """End the queue now: waiting producers are released (their puts return False) and
        the queued items are discarded (returned)."""
        with self.cond:
            self._cancelled = True
            items = list(self._items)
            self._items.clear()
            self.cond.notify_all()
            return items

    # -- consumer side ------------------------------------------------------------------------
    def get(self, timeout: float | None = None) -> T:
        """The oldest item. Raises :class:`TimeoutError` after ``timeout`` seconds without
        one and :class:`QueueClosed` once the queue is closed and empty (or cancelled)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while not self._items:
                if self._closed or self._cancelled:
                    raise QueueClosed(self.name)
                wait = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
                if wait <= 0:
                    raise TimeoutError(self.name)
                self.cond.wait(wait)
            item = self._items.popleft()
            self.cond.notify_all()
            return item

    def get_all(self) -> list[T]:
        """Every queued item, oldest first, without waiting."""
        with self.cond:
            items = list(self._items)
            self._items.clear()
            if items:
                self.cond.notify_all()
            return items

    # -- state --------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once :meth:`close` or :meth:`cancel` was called."""
        return self._closed or self._cancelled

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        state = "cancelled" if self._cancelled else "closed" if self._closed else "open"
        return f"BoundedQueue({self.name!r}, {len(self._items)}/{self.size}, {self.policy}, {state})"
