"""A device's recent poses, as an estimator sees them frameset by frameset.

Estimators get a device's ``device_pose`` frames inside framesets, one at a time, and need the
pose at the time of *other* frames (a camera's keypoints, a skeleton). :class:`PoseTrack` keeps
the last poses and answers ``at(t_ns)``: SLERP between the two poses around ``t_ns`` when both
have been seen and lie at most ``max_gap_ns`` apart, else the nearest pose when it is at most
``max_age_ns`` away, else nothing (with the reason). Bad input is refused and *counted* by kind,
never silently used:

* ``backwards`` — a pose at or before the newest one (duplicate or time going back): dropped;
* ``invalid`` — not a finite rigid transform: dropped;
* ``gap`` — more than ``max_gap_ns`` after the previous pose: kept, but nothing is interpolated
  across it.
"""

from __future__ import annotations

from collections import Counter, deque

import numpy as np

from sensorfusion import SchemaError
from sensorfusion.geometry import interpolate_poses
from sensorfusion.schema import check_device_pose

__all__ = ["PoseTrack"]


class PoseTrack:
    """Recent poses of one device (see the module docstring).

    Args:
        max_gap_ns: two poses further apart than this are not interpolated between (a gap).
        max_age_ns: the nearest pose is used when at most this far from the query time.
        history: poses kept.
    """

    def __init__(self, *, max_gap_ns: int = 200_000_000, max_age_ns: int = 50_000_000, history: int = 64) -> None:
        self.max_gap_ns = int(max_gap_ns)
        self.max_age_ns = int(max_age_ns)
        self._t: deque[int] = deque(maxlen=history)
        self._m: deque[np.ndarray] = deque(maxlen=history)
        self.counts: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._t)

    @property
    def latest_ns(self) -> int | None:
        return self._t[-1] if self._t else None

    def push(self, t_ns: int, world_from_device: np.ndarray) -> str | None:
        """Add a pose; returns the issue (``backwards``, ``invalid``, ``gap``) or ``None``."""
        t = int(t_ns)
        m = np.asarray(world_from_device, dtype=np.float64)
        try:
            check_device_pose(m, tolerance=1e-4)
        except SchemaError:
            self.counts["invalid"] += 1
            return "invalid"
        if self._t and t <= self._t[-1]:
            self.counts["backwards"] += 1
            return "backwards"
        issue = None
        if self._t and t - self._t[-1] > self.max_gap_ns:
            self.counts["gap"] += 1
            issue = "gap"
        self._t.append(t)
        self._m.append(m.copy())
        self.counts["poses"] += 1
        return issue

    def at(self, t_ns: int) -> tuple[np.ndarray | None, str]:
        """``(world_from_device, how)``: how is ``interpolated``, ``exact``, ``nearest``, or why
        there is no pose: ``no_pose`` (none seen yet) or ``stale`` (nearest too far away)."""
        if not self._t:
            return None, "no_pose"
        t = int(t_ns)
        ts = np.fromiter(self._t, dtype=np.int64, count=len(self._t))
        i = int(np.searchsorted(ts, t))
        if i < len(ts) and ts[i] == t:
            return self._m[i].copy(), "exact"
        if 0 < i < len(ts) and ts[i] - ts[i - 1] <= self.max_gap_ns:
            pair = np.stack([self._m[i - 1], self._m[i]])
            return interpolate_poses(np.array([t]), ts[i - 1 : i + 1], pair)[0], "interpolated"
        near = int(np.argmin(np.abs(ts - t)))
        if abs(int(ts[near]) - t) <= self.max_age_ns:
            return self._m[near].copy(), "nearest"
        return None, "stale"
