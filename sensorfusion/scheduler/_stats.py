"""Running statistics: rates, latency percentiles and drops per stream and per stage.

Meters are written by the run's threads and read by whoever publishes statistics (the live
table, the session, the drop hooks); every access takes the meter's lock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Meter", "StatsBook"]


@dataclass
class Meter:
    """Counts events, their rate over a sliding window, latencies and drops. Thread-safe."""

    window_s: float = 2.0
    count: int = 0
    errors: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    _times: deque[float] = field(default_factory=lambda: deque(maxlen=4096))
    _lat_ms: deque[float] = field(default_factory=lambda: deque(maxlen=4096))
    first_s: float | None = None
    last_s: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def tick(self, latency_s: float | None = None, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self.count += 1
            self._times.append(now)
            if self.first_s is None:
                self.first_s = now
            self.last_s = now
            if latency_s is not None:
                self._lat_ms.append(latency_s * 1e3)

    def drop(self, reason: str, n: int = 1) -> None:
        """Count ``n`` items dropped for ``reason``."""
        with self._lock:
            self.drops[reason] += n

    def drop_counts(self) -> dict[str, int]:
        """Drops so far by reason."""
        with self._lock:
            return dict(self.drops)

    def error(self) -> None:
        """Count one error."""
        with self._lock:
            self.errors += 1

    def fps(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            times = list(self._times)
        recent = [t for t in times if now - t <= self.window_s]
        if len(recent) < 2:
            return 0.0
        span = max(now - recent[0], 1e-9)
        return (len(recent) - 1) / span if now - recent[-1] < self.window_s else 0.0

    def mean_fps(self) -> float:
        with self._lock:
            first, last, count = self.first_s, self.last_s, self.count
        if first is None or last is None or count < 2:
            return 0.0
        return (count - 1) / max(last - first, 1e-9)

    def latency_ms(self, q: float) -> float | None:
        with self._lock:
            lat = np.fromiter(self._lat_ms, float, count=len(self._lat_ms))
        if not lat.size:
            return None
        return float(np.percentile(lat, q))

    def as_dict(self, *, live: bool = True) -> dict[str, Any]:
        with self._lock:
            count, errors, drops = self.count, self.errors, dict(self.drops)
        return {
            "count": count,
            "fps": round(self.fps() if live else self.mean_fps(), 3),
            "mean_fps": round(self.mean_fps(), 3),
            "latency_ms_p50": _r(self.latency_ms(50)),
            "latency_ms_p99": _r(self.latency_ms(99)),
            "drops": drops,
            "errors": errors,
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


class StatsBook:
    """All meters of a run, by ``stream`` name and ``stage`` id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.streams: dict[str, Meter] = {}
        self.stages: dict[str, Meter] = {}

    def stream(self, name: str) -> Meter:
        with self.lock:
            return self.streams.setdefault(name, Meter())

    def stage(self, name: str) -> Meter:
        with self.lock:
            return self.stages.setdefault(name, Meter())

    def snapshot(self, *, live: bool = True) -> dict[str, Any]:
        with self.lock:
            streams = sorted(self.streams.items())
            stages = list(self.stages.items())
        return {
            "streams": {k: m.as_dict(live=live) for k, m in streams},
            "stages": {k: m.as_dict(live=live) for k, m in stages},
        }
