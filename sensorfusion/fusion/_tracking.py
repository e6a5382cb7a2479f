"""Persistent 3D person ids: constant-velocity prediction + Hungarian assignment (numpy/scipy).

Each track keeps its last joints and a per-joint velocity. Every frame the tracks are predicted
to the new time, and the cost of pairing track ``i`` with hypothesis ``k`` is the mean distance
over the joints both have (the centroid distance when fewer than 3 are shared). Pairs farther
than the gate ``max_distance_m + max_speed_m_s * (time since the track was last seen)`` are
forbidden, so a person reappearing after a short occlusion gets their old id back
(re-identification) while far-away newcomers do not.

Birth: an unmatched hypothesis that is not within ``max_distance_m`` of an existing track (a
duplicate, e.g. one person split into two hypotheses) starts a *tentative* track, confirmed (and reported) after
``birth_hits`` matched frames. Death: a confirmed track unseen for ``max_missing_s`` is
dropped; a tentative one at its first miss. Ids are never reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["Track", "Tracker"]

_FORBIDDEN = 1e9


@dataclass
class Track:
    track_id: int
    joints: np.ndarray  # (J, 3) last estimate
    velocity: np.ndarray  # (J, 3) m/s
    last_seen_s: float
    hits: int = 1
    confirmed: bool = False
    history: list[float] = field(default_factory=list)


class Tracker:
    """Assigns persistent ids to per-frame 3D skeleton hypotheses."""

    def __init__(
        self,
        *,
        max_distance_m: float = 0.4,
        max_speed_m_s: float = 2.0,
        max_missing_s: float = 1.0,
        birth_hits: int = 2,
        velocity_smoothing: float = 0.5,
    ) -> None:
        self.max_distance_m = max_distance_m
        self.max_speed_m_s = max_speed_m_s
        self.max_missing_s = max_missing_s
        self.birth_hits = max(1, birth_hits)
        self.alpha = velocity_smoothing
        self.tracks: list[Track] = []
        self._next_id = 0
        self.births = 0
        self.deaths = 0
        self.reidentified = 0

    def predict(self, track: Track, t_s: float) -> np.ndarray:
        dt = max(0.0, t_s - track.last_seen_s)
        return np.asarray(track.joints + np.nan_to_num(track.velocity) * dt)

    @staticmethod
    def _cost(a: np.ndarray, b: np.ndarray) -> float:
        both = np.isfinite(a).all(-1) & np.isfinite(b).all(-1)
        if both.sum() >= 3:
            return float(np.linalg.norm(a[both] - b[both], axis=-1).mean())
        fa, fb = np.isfinite(a).all(-1), np.isfinite(b).all(-1)
        if fa.any() and fb.any():
            return float(np.linalg.norm(a[fa].mean(0) - b[fb].mean(0)))
        return _FORBIDDEN

    def update(self, t_s: float, hypotheses: np.ndarray) -> list[tuple[int, int]]:
        """Match ``hypotheses (H, J, 3)`` at time ``t_s``; returns ``(hypothesis, track_id)``
        for every hypothesis that belongs to a confirmed track."""
        H = len(hypotheses)
        T = len(self.tracks)
        cost = np.full((T, H), _FORBIDDEN)
        for i, tr in enumerate(self.tracks):
            pred = self.predict(tr, t_s)
            gate = self.max_distance_m + self.max_speed_m_s * max(0.0, t_s - tr.last_seen_s)
            for k in range(H):
                c = self._cost(pred, hypotheses[k])
                if c <= gate:
                    cost[i, k] = c
        rows, cols = linear_sum_assignment(cost) if T and H else (np.zeros(0, int), np.zeros(0, int))
        matched_t: set[int] = set()
        matched_h: dict[int, int] = {}
        for i, k in zip(rows, cols, strict=True):
            if cost[i, k] >= _FORBIDDEN:
                continue
            tr = self.tracks[i]
            dt = t_s - tr.last_seen_s
            if dt > 1.5 / 30 and tr.confirmed:
                self.reidentified += 1
            new = hypotheses[k]
            if dt > 0:
                vel = (new - tr.joints) / dt
                vel = np.where(np.isfinite(vel), vel, tr.velocity)
                tr.velocity = self.alpha * tr.velocity + (1 - self.alpha) * np.nan_to_num(vel)
            tr.joints = np.where(np.isfinite(new), new, self.predict(tr, t_s))
            tr.last_seen_s = t_s
            tr.hits += 1
            if tr.hits >= self.birth_hits:
                tr.confirmed = True
            matched_t.add(i)
            matched_h[k] = tr.track_id
        survivors = []
        for i, tr in enumerate(self.tracks):
            if i in matched_t:
                survivors.append(tr)
            elif tr.confirmed and t_s - tr.last_seen_s <= self.max_missing_s:
                survivors.append(tr)
            else:
                self.deaths += int(tr.confirmed)
        self.tracks = survivors
        for k in range(H):
            # no birth for a duplicate of a person already tracked (e.g. a split hypothesis)
            duplicate = T > 0 and bool((cost[:, k] < self.max_distance_m).any())
            if k not in matched_h and not duplicate and np.isfinite(hypotheses[k]).all(-1).sum() >= 3:
                tr = Track(self._next_id, hypotheses[k].copy(), np.zeros_like(hypotheses[k]), t_s)
                tr.confirmed = self.birth_hits <= 1
                self._next_id += 1
                self.births += 1
                self.tracks.append(tr)
                if tr.confirmed:
                    matched_h[k] = tr.track_id
        return sorted(((k, tid) for k, tid in matched_h.items() if self._track(tid).confirmed), key=lambda x: x[1])

    def _track(self, tid: int) -> Track:
        for tr in self.tracks:
            if tr.track_id == tid:
                return tr
        raise KeyError(tid)
