"""A thread of a run that calls into a plugin, and knows which call it is in.

Sources, stages and sinks run plugin code (``read()``, ``process()``, ``write()``) that
may never return. Each runs on a :class:`Worker`, which records the call in progress and
since when, so that a stop can bound its wait: a worker still inside one call
``stop_timeout_s`` after the stop was requested is *abandoned* — named in an event and
the summary, its queues released, its thread left behind (Python cannot kill a thread;
it is a daemon and dies with the process).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

__all__ = ["Worker"]


class Worker:
    """One thread of a run.

    Args:
        name: the component's id (sensor, stage or sink id).
        kind: ``driver``, ``stage`` or ``sink``.
        plugin: the plugin the component comes from.
        target: the thread's body.
    """

    def __init__(self, name: str, kind: str, plugin: str, target: Callable[[], None]) -> None:
        self.name = name
        self.kind = kind
        self.plugin = plugin
        self.done = threading.Event()
        self.abandoned = False
        self._call: str | None = None
        self._call_since = 0.0
        self._lock = threading.Lock()
        self._target = target
        self.thread = threading.Thread(target=self._main, name=f"{kind}:{name}", daemon=True)

    def _main(self) -> None:
        try:
            self._target()
        finally:
            self.done.set()

    def start(self) -> None:
        self.thread.start()

    @contextlib.contextmanager
    def calling(self, what: str) -> Iterator[None]:
        """Mark the plugin call ``what`` (``read()``) as in progress for the block's duration."""
        with self._lock:
            self._call, self._call_since = what, time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._call = None

    def current_call(self) -> tuple[str, float] | None:
        """``(call, seconds in it)`` while inside a plugin call, else None."""
        with self._lock:
            if self._call is None:
                return None
            return self._call, time.monotonic() - self._call_since

    def stuck_for(self, since: float) -> float:
        """How long the current call has run counting from monotonic time ``since`` (0: not in one)."""
        with self._lock:
            if self._call is None:
                return 0.0
            return time.monotonic() - max(self._call_since, since)

    def abandon(self) -> None:
        """Give up on this worker: whatever its call returns later is discarded."""
        self.abandoned = True

    def describe(self) -> str:
        call = self.current_call()
        where = f" in {call[0]} for {call[1]:.1f} s" if call is not None else ""
        return f"{self.kind} {self.name!r} (plugin {self.plugin!r}){where}"
