"""``--fast`` pacing: sources advance together in sensor time.

Paced to the wall clock, every source of a live rig is at about the same sensor time. With
``--fast`` each source runs as fast as it can produce, so a cheap 100 Hz source would race
minutes of data ahead of an expensive camera, and the synchronizer's buffer would have to
throw its frames away. :class:`SensorTimePacer` holds a source back instead: a frame of a
synchronized stream is handed on only when its adjusted sensor time is at most
``tolerance`` ahead of every other source's *position* (the newest sensor time it has
handed on or is waiting to hand on; a source never produces anything older than that).
The source with the smallest position can always go on, so the pacer never deadlocks.
A source that is not waiting here and has handed on nothing for ``silence_s`` (a device
that went quiet, a restart with backoff) is left out of the comparison until it speaks
again — the same rule the synchronizer applies (``sync.timeout_ms``). An ended source is
left out for good.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping

from ..schema._streams import Frame

__all__ = ["SensorTimePacer"]

_NEVER = float("-inf")


class SensorTimePacer:
    """Keeps sources within ``tolerance_ns`` of each other in sensor time.

    Args:
        sources: source ids and the synchronized streams each produces.
        offsets_ns: per-stream offsets added to sensor time (the synchronizer's).
        tolerance_ns: how far ahead of the slowest source a frame may be handed on.
        silence_s: wall time after which a source that hands on nothing is not waited for.
        stop: set when the run stops (waiting sources give up).
    """

    def __init__(
        self,
        sources: Iterable[tuple[str, Iterable[str]]],
        *,
        offsets_ns: Mapping[str, int],
        tolerance_ns: int,
        silence_s: float,
        stop: threading.Event,
    ) -> None:
        self._stream_source: dict[str, str] = {}
        for sid, streams in sources:
            for s in streams:
                self._stream_source[s] = sid
        self._offsets = dict(offsets_ns)
        self._tol = int(tolerance_ns)
        self._silence_s = float(silence_s)
        self._stop = stop
        self._cond = threading.Condition()
        now = time.monotonic()
        ids = set(self._stream_source.values())
        self._pos: dict[str, float] = dict.fromkeys(ids, _NEVER)
        self._active: set[str] = set(ids)
        self._waiting: set[str] = set()
        self._last: dict[str, float] = dict.fromkeys(ids, now)
        self.waits = 0

    def start(self) -> None:
        """The sources start now (silence is counted from here)."""
        with self._cond:
            now = time.monotonic()
            for sid in self._last:
                self._last[sid] = now

    @property
    def sources(self) -> set[str]:
        return set(self._pos)

    def release(self, frame: Frame) -> bool:
        """Block until ``frame`` may be handed on; False when the run is stopping."""
        sid = self._stream_source.get(frame.stream)
        if sid is None:
            return True  # not synchronized: nothing to keep in step
        t = frame.t_sensor_ns + self._offsets.get(frame.stream, 0)
        with self._cond:
            if t > self._pos[sid]:
                self._pos[sid] = t
                self._cond.notify_all()
            waited = False
            self._waiting.add(sid)
            try:
                while t > self._slowest_other(sid) + self._tol:
                    if self._stop.is_set():
                        return False
                    waited = True
                    self._cond.wait(0.05)
            finally:
                self._waiting.discard(sid)
            self._last[sid] = time.monotonic()
            if waited:
                self.waits += 1
            return True

    def finish(self, sid: str) -> None:
        """``sid`` has ended: nobody waits for it any more."""
        with self._cond:
            self._active.discard(sid)
            self._cond.notify_all()

    def _slowest_other(self, sid: str) -> float:
        now = time.monotonic()
        slowest = float("inf")
        for other in self._active:
            if other == sid:
                continue
            if other not in self._waiting and now - self._last[other] > self._silence_s:
                continue  # silent: left behind, like the synchronizer leaves it out
            slowest = min(slowest, self._pos[other])
        return slowest
