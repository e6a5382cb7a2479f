"""Filters for 3D keypoint tracks: One-Euro and constant-velocity Kalman (online), zero-phase
Butterworth (offline), gap filling, and rigid bone lengths.

Arrays are ``(..., 3)`` positions in metres, NaN = missing; times in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["BoneLengthConstraint", "ConstantVelocityKalman", "OneEuroFilter", "butterworth_zero_phase", "fill_gaps"]


class OneEuroFilter:
    """One-Euro filter (Casiez et al. 2012), element-wise over an array of any shape.

    Missing samples (NaN) pass through as NaN and leave the state untouched; after a gap
    longer than ``reset_s`` an element restarts from its next sample.
    """

    def __init__(
        self, min_cutoff_hz: float = 1.0, beta: float = 0.3, d_cutoff_hz: float = 1.0, reset_s: float = 0.5
    ) -> None:
        self.min_cutoff = min_cutoff_hz
        self.beta = beta
        self.d_cutoff = d_cutoff_hz
        self.reset_s = reset_s
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: np.ndarray | None = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: np.ndarray) -> np.ndarray:
        tau = 1.0 / (2 * np.pi * np.asarray(cutoff))
        return np.asarray(1.0 / (1.0 + tau / np.maximum(dt, 1e-9)))

    def __call__(self, t_s: float, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._x.shape != x.shape:
            self._x = np.full(x.shape, np.nan)
            self._dx = np.zeros(x.shape)
            self._t = np.full(x.shape, -np.inf)
        assert self._dx is not None and self._t is not None
        seen = np.isfinite(x)
        dt = t_s - self._t
        fresh = seen & (~np.isfinite(self._x) | (dt > self.reset_s) | ~(dt > 0))
        step = seen & ~fresh
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            dx = np.where(step, (x - self._x) / np.where(step, dt, 1.0), 0.0)
            a_d = self._alpha(self.d_cutoff, dt)
            dx_hat = np.where(step, a_d * dx + (1 - a_d) * self._dx, 0.0)
            cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
            a = self._alpha(cutoff, dt)
            x_hat = np.where(step, a * x + (1 - a) * self._x, x)
        self._x = np.where(seen, x_hat, self._x)
        self._dx = np.where(seen, dx_hat, self._dx)
        self._t = np.where(seen, t_s, self._t)
        return np.where(seen, x_hat, np.nan)


class ConstantVelocityKalman:
    """Independent constant-velocity Kalman filters per coordinate (state: position, velocity).

    ``process_noise`` is the white-acceleration spectral density (m²/s³), ``measurement_noise_m``
    the standard deviation of a measurement. A missing sample is predicted, for at most
    ``max_predict_s`` (gap filling); longer, the element restarts at its next sample.
    """

    def __init__(
        self, process_noise: float = 5.0, measurement_noise_m: float = 0.01, max_predict_s: float = 0.2
    ) -> None:
        self.q = process_noise
        self.r = measurement_noise_m**2
        self.max_predict_s = max_predict_s
        self._p: np.ndarray | None = None  # position
        self._v: np.ndarray | None = None
        self._P: np.ndarray | None = None  # (..., 2, 2)
        self._t: np.ndarray | None = None
        self._last_meas: np.ndarray | None = None

    def __call__(self, t_s: float, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Filter one sample; returns the estimate and a mask of elements that were predicted
        (gap-filled) rather than measured."""
        z = np.asarray(z, dtype=np.float64)
        if self._p is None or self._p.shape != z.shape:
            self._p = np.full(z.shape, np.nan)
            self._v = np.zeros(z.shape)
            self._P = np.zeros((*z.shape, 2, 2))
            self._t = np.full(z.shape, -np.inf)
            self._last_meas = np.full(z.shape, -np.inf)
        assert self._v is not None and self._P is not None and self._t is not None and self._last_meas is not None
        seen = np.isfinite(z)
        dt = np.where(np.isfinite(self._t), t_s - self._t, 0.0)
        alive = np.isfinite(self._p) & (t_s - self._last_meas <= self.max_predict_s)
        # predict
        p = self._p + self._v * dt
        P = self._P
        q = self.q
        P00 = P[..., 0, 0] + dt * (P[..., 1, 0] + P[..., 0, 1]) + dt * dt * P[..., 1, 1] + q * dt**3 / 3
        P01 = P[..., 0, 1] + dt * P[..., 1, 1] + q * dt**2 / 2
        P11 = P[..., 1, 1] + q * dt
        # update
        S = P00 + self.r
        K0 = P00 / S
        K1 = P01 / S
        y = np.where(seen, z - p, 0.0)
        upd = seen & alive
        p_new = np.where(upd, p + K0 * y, np.where(seen, z, p))
        v_new = np.where(upd, self._v + K1 * y, np.where(seen & ~alive, 0.0, self._v))
        n00 = np.where(upd, (1 - K0) * P00, np.where(seen & ~alive, self.r, P00))
        n01 = np.where(upd, (1 - K0) * P01, np.where(seen & ~alive, 0.0, P01))
        n11 = np.where(upd, P11 - K1 * P01, np.where(seen & ~alive, 1.0, P11))
        keep = seen | alive
        self._p = np.where(keep, p_new, np.nan)
        self._v = np.where(keep, v_new, 0.0)
        self._P = np.stack([np.stack([n00, n01], -1), np.stack([n01, n11], -1)], -2)
        self._t = np.where(keep, t_s, self._t)
        self._last_meas = np.where(seen, t_s, self._last_meas)
        predicted = ~seen & alive
        return np.where(keep, self._p, np.nan), predicted


def fill_gaps(x: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly interpolate interior NaN runs of at most ``max_gap`` samples along axis 0."""
    x = np.asarray(x, dtype=np.float64)
    out = x.copy()
    flat = out.reshape(len(out), -1)
    idx = np.arange(len(out))
    for c in range(flat.shape[1]):
        col = flat[:, c]
        good = np.isfinite(col)
        if good.sum() < 2 or good.all():
            continue
        gi = np.flatnonzero(good)
        interp = np.interp(idx, gi, col[gi])
        # run length of each gap
        prev = np.maximum.accumulate(np.where(good, idx, -1))
        nxt = np.minimum.accumulate(np.where(good, idx, len(col))[::-1])[::-1]
        fillable = ~good & (prev >= 0) & (nxt < len(col)) & (nxt - prev - 1 <= max_gap)
        col[fillable] = interp[fillable]
    return out


def butterworth_zero_phase(x: np.ndarray, rate_hz: float, cutoff_hz: float = 6.0, order: int = 4) -> np.ndarray:
    """Zero-phase (forward-backward) low-pass Butterworth along axis 0, per NaN-free run.

    Runs shorter than the filter's padding are left as they are; NaN stays NaN.
    """
    from scipy.signal import butter, filtfilt

    x = np.asarray(x, dtype=np.float64)
    out = x.copy()
    if cutoff_hz >= rate_hz / 2:
        return out
    b, a = butter(order // 2 if order > 1 else 1, cutoff_hz / (rate_hz / 2))
    pad = 3 * max(len(a), len(b))
    flat = out.reshape(len(out), -1)
    for c in range(flat.shape[1]):
        col = flat[:, c]
        good = np.isfinite(col)
        edges = np.flatnonzero(np.diff(np.r_[0, good.astype(np.int8), 0]))
        for s, e in zip(edges[::2], edges[1::2], strict=True):
            if e - s > pad:
                col[s:e] = filtfilt(b, a, col[s:e])
    return out


class BoneLengthConstraint:
    """Keeps each bone of a track at its (median) length.

    Lengths are the median of the first ``warmup`` finite observations of each bone, then held
    fixed; every frame, joints are moved along their bone direction from the root outwards
    (parents before children) so that each bone has that length.
    """

    def __init__(self, parents: Sequence[int], warmup: int = 30) -> None:
        self.parents = np.asarray(parents, dtype=np.int64)
        self.warmup = warmup
        J = len(self.parents)
        self._samples: list[list[float]] = [[] for _ in range(J)]
        self.lengths_m = np.full(J, np.nan)
        order: list[int] = []
        todo = [j for j in range(J) if self.parents[j] < 0]
        while todo:
            j = todo.pop(0)
            order.append(j)
            todo.extend(int(c) for c in np.flatnonzero(self.parents == j))
        self.order = order

    def __call__(self, joints: np.ndarray) -> np.ndarray:
        X = np.asarray(joints, dtype=np.float64).copy()
        for j in self.order:
            p = self.parents[j]
            if p < 0:
                continue
            if np.isnan(self.lengths_m[j]):
                d = X[j] - X[p]
                if np.isfinite(d).all():
                    self._samples[j].append(float(np.linalg.norm(d)))
                if len(self._samples[j]) >= self.warmup:
                    self.lengths_m[j] = float(np.median(self._samples[j]))
                    self._samples[j] = []
                continue
            d = X[j] - X[p]
            n = float(np.linalg.norm(d))
            if np.isfinite(n) and n > 1e-9:
                X[j] = X[p] + d / n * self.lengths_m[j]
        return X
