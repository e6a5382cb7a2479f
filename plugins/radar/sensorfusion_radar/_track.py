"""Multi-person tracking on the floor plane: constant-velocity Kalman filters with ids,
Hungarian association (``scipy.optimize.linear_sum_assignment``) gated by Mahalanobis distance,
track birth after ``confirm_hits`` hits and death after ``max_misses`` missed frames.

State ``[x, y, vx, vy]`` (world metres, m/s); measurements are cluster centres ``(x, y)``.
Heights (``z``) are smoothed separately (exponential average) for the output position.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["KalmanTracker", "Track"]

_CHI2_2DOF_99 = 9.21


@dataclass
class Track:
    """One tracked person."""

    track_id: int
    x: np.ndarray  # [x, y, vx, vy]
    P: np.ndarray  # 4x4
    z_m: float
    hits: int = 1
    misses: int = 0
    age: int = 1
    confirmed: bool = False
    history: list[tuple[float, float]] = field(default_factory=list)

    @property
    def position_m(self) -> np.ndarray:
        return np.array([self.x[0], self.x[1], self.z_m])

    @property
    def velocity_m_per_s(self) -> np.ndarray:
        return np.array([self.x[2], self.x[3], 0.0])


class KalmanTracker:
    """Tracks people from per-frame 3D detections (see the module docstring).

    Args:
        process_accel_m_per_s2: white-acceleration noise (how abruptly people change speed).
        measurement_std_m: standard deviation of a cluster centre.
        gate: Mahalanobis gate (chi-square, 2 dof); farther detections are not associated.
        max_gate_m: and never farther than this (Euclidean).
        confirm_hits: hits before a track is reported.
        max_misses: consecutive misses after which a track is deleted.
    """

    def __init__(
        self,
        *,
        process_accel_m_per_s2: float = 2.0,
        measurement_std_m: float = 0.15,
        gate: float = _CHI2_2DOF_99,
        max_gate_m: float = 1.0,
        confirm_hits: int = 3,
        max_misses: int = 10,
    ) -> None:
        self.q = process_accel_m_per_s2
        self.r = measurement_std_m
        self.gate = gate
        self.max_gate_m = max_gate_m
        self.confirm_hits = confirm_hits
        self.max_misses = max_misses
        self.tracks: list[Track] = []
        self.next_id = 0
        self.t_s: float | None = None
        self.H = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])

    def _predict(self, dt: float) -> None:
        F = np.eye(4)
        F[0, 2] = F[1, 3] = dt
        g = np.array([[0.5 * dt * dt, 0], [0, 0.5 * dt * dt], [dt, 0], [0, dt]])
        Q = g @ g.T * self.q**2
        for t in self.tracks:
            t.x = F @ t.x
            t.P = F @ t.P @ F.T + Q

    def step(self, t_s: float, detections_m: np.ndarray) -> list[Track]:
        """Advance to time ``t_s`` with ``(K, 3)`` detections; returns the confirmed live tracks.
        Non-finite detections are ignored."""
        det = np.asarray(detections_m, dtype=np.float64).reshape(-1, 3)
        det = det[np.all(np.isfinite(det), axis=1)]
        dt = 0.0 if self.t_s is None else max(t_s - self.t_s, 0.0)
        self.t_s = t_s
        if dt > 0:
            self._predict(dt)
        R = np.eye(2) * self.r**2
        n_t, n_d = len(self.tracks), det.shape[0]
        assigned_t: set[int] = set()
        assigned_d: set[int] = set()
        if n_t and n_d:
            cost = np.full((n_t, n_d), 1e6)
            for i, t in enumerate(self.tracks):
                S = self.H @ t.P @ self.H.T + R
                Si = np.linalg.inv(S)
                for j in range(n_d):
                    y = det[j, :2] - t.x[:2]
                    d2 = float(y @ Si @ y)
                    if d2 <= self.gate and np.hypot(*y) <= self.max_gate_m:
                        cost[i, j] = d2
            rows, cols = linear_sum_assignment(cost)
            for i, j in zip(rows, cols, strict=True):
                if cost[i, j] >= 1e6:
                    continue
                t = self.tracks[i]
                S = self.H @ t.P @ self.H.T + R
                K = t.P @ self.H.T @ np.linalg.inv(S)
                t.x = t.x + K @ (det[j, :2] - t.x[:2])
                t.P = (np.eye(4) - K @ self.H) @ t.P
                t.z_m = 0.7 * t.z_m + 0.3 * float(det[j, 2])
                t.hits += 1
                t.misses = 0
                if t.hits >= self.confirm_hits:
                    t.confirmed = True
                assigned_t.add(i)
                assigned_d.add(j)
        for i, t in enumerate(self.tracks):
            t.age += 1
            if i not in assigned_t:
                t.misses += 1
        self.tracks = [t for t in self.tracks if t.misses <= self.max_misses]
        for j in range(n_d):
            if j in assigned_d:
                continue
            P0 = np.diag([self.r**2, self.r**2, 1.0, 1.0])
            self.tracks.append(
                Track(
                    self.next_id,
                    np.array([det[j, 0], det[j, 1], 0.0, 0.0]),
                    P0,
                    float(det[j, 2]),
                    confirmed=self.confirm_hits <= 1,
                )
            )
            self.next_id += 1
        return [t for t in self.tracks if t.confirmed]
