"""Multi-sensor tracking of people on the floor plane, with stable ids and zones.

State per track: floor position and velocity ``[x, y, vx, vy]`` with a 4x4 covariance,
a constant-velocity Kalman filter (white acceleration of spectral density
``accel_sigma_m_s2²``). Every frame:

1. predict every track to the frame's time;
2. for each source in turn (each ceiling camera, then the rig's other sensors: triangulated
   skeletons, radar tracks), pair its measurements with the tracks by the Hungarian
   algorithm on the Mahalanobis distance (gate: ``chi2_gate`` on two degrees of freedom and
   ``max_gate_m``) and update each paired track with its measurement and covariance — one
   camera sees a person at most once, so its measurements never merge with each other;
3. measurements no track took are clustered across sources (each joins the nearest cluster
   within ``merge_distance_m`` that has nothing from its source yet) and each cluster starts
   a *tentative* track at its inverse-covariance mean - unless it lies within
   ``merge_distance_m`` of a track none of its sources fed this frame (then it is that
   person, seen a little differently);
4. a tentative track is confirmed (gets reported) after ``birth_hits`` updates and dropped
   at its second consecutive miss; a confirmed track survives ``max_missing_s`` without
   updates (predicted, flagged), then ends. Ids are never reused;
5. two tracks that stay within ``merge_distance_m`` for ``duplicate_s`` while no source feeds
   both in the same frame are one person seen differently by two cameras: they are merged
   (inverse-covariance mean) into the one with more updates.

Zones are named polygons on the floor plan; :func:`zone_of` returns the first one containing
a point (ray casting, boundary included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy.optimize import linear_sum_assignment

__all__ = ["FloorTrack", "FloorTracker", "FloorTrackerSettings", "Measurements", "Zone", "zone_of"]

_FORBIDDEN = 1e12


class Zone(BaseModel):
    """A named region of the floor plan: a simple polygon (metres, world ``x, y``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="zone name, shown in counts")
    polygon_m: list[tuple[float, float]] = Field(description="vertices (x, y) in metres, in order (>= 3)")

    @field_validator("polygon_m")
    @classmethod
    def _enough(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if len(v) < 3:
            raise ValueError(f"a zone polygon needs at least 3 vertices, got {len(v)}")
        return v


def _in_polygon(xy: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Points ``(N, 2)`` inside (or on) a polygon ``(V, 2)`` (even-odd rule)."""
    x, y = xy[:, 0], xy[:, 1]
    inside = np.zeros(len(xy), dtype=bool)
    on_edge = np.zeros(len(xy), dtype=bool)
    for k in range(len(poly)):
        (x0, y0), (x1, y1) = poly[k], poly[(k + 1) % len(poly)]
        cross = (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)
        within = (np.minimum(x0, x1) - 1e-12 <= x) & (x <= np.maximum(x0, x1) + 1e-12)
        within &= (np.minimum(y0, y1) - 1e-12 <= y) & (y <= np.maximum(y0, y1) + 1e-12)
        on_edge |= within & (np.abs(cross) <= 1e-12 * max(1.0, abs(x1 - x0) + abs(y1 - y0)))
        straddles = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= straddles & (x < x_cross)
    return np.asarray(inside | on_edge)


def zone_of(xy_m: np.ndarray, zones: Sequence[Zone]) -> np.ndarray:
    """Index ``(N,)`` of the first zone containing each point; -1 in none (or NaN)."""
    pts = np.asarray(xy_m, dtype=np.float64).reshape(-1, 2)
    out = np.full(len(pts), -1, dtype=np.int64)
    finite = np.all(np.isfinite(pts), axis=1)
    for z in range(len(zones) - 1, -1, -1):
        hit = finite & _in_polygon(
            np.where(finite[:, None], pts, 0.0), np.asarray(zones[z].polygon_m, dtype=np.float64)
        )
        out[hit] = z
    return out


class FloorTrackerSettings(BaseModel):
    """Tracking parameters (``overhead.floor_tracks`` shares them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accel_sigma_m_s2: float = Field(default=1.0, gt=0, description="white-acceleration noise of the motion model")
    chi2_gate: float = Field(
        default=13.8, gt=0, description="Mahalanobis² gate (13.8: 99.9 % for 2 degrees of freedom)"
    )
    max_gate_m: float = Field(default=1.2, gt=0, description="never pair farther than this")
    merge_distance_m: float = Field(
        default=0.6, gt=0, description="unpaired measurements closer than this are one person"
    )
    birth_hits: int = Field(default=3, ge=1, description="updates before a track is confirmed")
    max_missing_s: float = Field(default=1.0, ge=0, description="a confirmed track survives this long without updates")
    min_sigma_m: float = Field(default=0.05, gt=0, description="floor of every measurement's standard deviation")
    initial_speed_sigma_m_s: float = Field(default=1.0, gt=0, description="velocity uncertainty of a new track")
    duplicate_s: float = Field(
        default=0.5,
        ge=0,
        description="two tracks this long within merge_distance_m, never fed by one source together, are one",
    )


@dataclass
class Measurements:
    """One source's measurements in one frame: ``xy (n, 2)``, ``cov (n, 2, 2)``."""

    source: str
    xy: np.ndarray
    cov: np.ndarray


@dataclass
class FloorTrack:
    track_id: int
    x: np.ndarray  # (4,) x, y, vx, vy
    P: np.ndarray  # (4, 4)
    t_s: float
    last_update_s: float
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    sources: set[str] = field(default_factory=set)
    # other track id -> since when it is a suspected duplicate of this one
    close_since_s: dict[int, float] = field(default_factory=dict)

    @property
    def position(self) -> np.ndarray:
        return self.x[:2]


class FloorTracker:
    """Tracks people on the floor from several sources (see the module doc)."""

    def __init__(self, settings: FloorTrackerSettings | None = None) -> None:
        self.s = settings or FloorTrackerSettings()
        self.tracks: list[FloorTrack] = []
        self._next_id = 0
        self.births = 0
        self.confirmed_births = 0
        self.deaths = 0
        self.merged = 0

    # -- Kalman ---------------------------------------------------------------------------------

    def _predict(self, tr: FloorTrack, t_s: float) -> None:
        dt = t_s - tr.t_s
        if dt <= 0:
            return
        F = np.eye(4)
        F[0, 2] = F[1, 3] = dt
        q = self.s.accel_sigma_m_s2**2
        Q1 = q * np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]])
        Q = np.zeros((4, 4))
        Q[np.ix_([0, 2], [0, 2])] = Q1
        Q[np.ix_([1, 3], [1, 3])] = Q1
        tr.x = F @ tr.x
        tr.P = F @ tr.P @ F.T + Q
        tr.t_s = t_s

    def _meas_cov(self, cov: np.ndarray) -> np.ndarray:
        c = np.asarray(cov, dtype=np.float64)
        if not np.all(np.isfinite(c)):
            c = np.eye(2) * 0.3**2
        c = 0.5 * (c + c.T) + np.eye(2) * self.s.min_sigma_m**2
        return c

    @staticmethod
    def _update(tr: FloorTrack, z: np.ndarray, R: np.ndarray) -> None:
        H = np.zeros((2, 4))
        H[0, 0] = H[1, 1] = 1.0
        S = H @ tr.P @ H.T + R
        K = tr.P @ H.T @ np.linalg.inv(S)
        tr.x = tr.x + K @ (z - H @ tr.x)
        tr.P = (np.eye(4) - K @ H) @ tr.P
        tr.P = 0.5 * (tr.P + tr.P.T)

    # -- one frame ------------------------------------------------------------------------------

    def step(self, t_s: float, sources: Sequence[Measurements]) -> list[FloorTrack]:
        """Advance to ``t_s`` with every source's measurements; returns the confirmed tracks."""
        for tr in self.tracks:
            self._predict(tr, t_s)
            tr.sources = set()
        updated: set[int] = set()
        leftovers: list[tuple[str, np.ndarray, np.ndarray]] = []
        for src in sources:
            xy = np.asarray(src.xy, dtype=np.float64).reshape(-1, 2)
            covs = np.asarray(src.cov, dtype=np.float64).reshape(-1, 2, 2)
            ok = np.all(np.isfinite(xy), axis=1)
            xy, covs = xy[ok], covs[ok]
            R = [self._meas_cov(c) for c in covs]
            T, M = len(self.tracks), len(xy)
            cost = np.full((T, M), _FORBIDDEN)
            for i, tr in enumerate(self.tracks):
                for k in range(M):
                    d = xy[k] - tr.position
                    if float(np.hypot(*d)) > self.s.max_gate_m:
                        continue
                    S = tr.P[:2, :2] + R[k]
                    m2 = float(d @ np.linalg.solve(S, d))
                    if m2 <= self.s.chi2_gate:
                        cost[i, k] = m2 + float(np.log(np.linalg.det(S)))  # the likelihood's cost (scale-aware)
            taken = np.zeros(M, dtype=bool)
            if T and M:
                rows, cols = linear_sum_assignment(cost)
                for i, k in zip(rows, cols, strict=True):
                    if cost[i, k] >= _FORBIDDEN:
                        continue
                    tr = self.tracks[i]
                    self._update(tr, xy[k], R[k])
                    tr.sources.add(src.source)
                    updated.add(tr.track_id)
                    taken[k] = True
            for k in np.flatnonzero(~taken).tolist():
                leftovers.append((src.source, xy[k], R[k]))
        # bookkeeping of the existing tracks
        survivors: list[FloorTrack] = []
        for tr in self.tracks:
            if tr.track_id in updated:
                tr.hits += 1
                tr.misses = 0
                tr.last_update_s = t_s
                if tr.hits >= self.s.birth_hits and not tr.confirmed:
                    tr.confirmed = True
                    self.confirmed_births += 1
                survivors.append(tr)
                continue
            tr.misses += 1
            if tr.confirmed and t_s - tr.last_update_s <= self.s.max_missing_s:
                survivors.append(tr)
            elif not tr.confirmed and tr.misses < 2:
                survivors.append(tr)
            else:
                self.deaths += int(tr.confirmed)
        self.tracks = survivors
        self._merge_duplicates(t_s)
        # births from the unpaired measurements, clustered across sources
        clusters: list[list[tuple[str, np.ndarray, np.ndarray]]] = []
        for item in leftovers:
            best, best_d = -1, self.s.merge_distance_m
            for ci, cl in enumerate(clusters):
                if any(src == item[0] for src, _, _ in cl):
                    continue
                d = float(np.hypot(*(np.mean([m for _, m, _ in cl], axis=0) - item[1])))
                if d < best_d:
                    best, best_d = ci, d
            if best >= 0:
                clusters[best].append(item)
            else:
                clusters.append([item])
        for cl in clusters:
            info = sum(np.linalg.inv(R) for _, _, R in cl)
            cov = np.linalg.inv(info)
            mean = cov @ sum(np.linalg.inv(R) @ m for _, m, R in cl)
            srcs = {src for src, _, _ in cl}
            # near a track: the same person (no birth) - unless one of these sources already gave that
            # track a detection this frame, then it is someone else close by
            if any(
                float(np.hypot(*(tr.position - mean))) < self.s.merge_distance_m and not (tr.sources & srcs)
                for tr in self.tracks
            ):
                continue
            P = np.zeros((4, 4))
            P[:2, :2] = cov
            P[2, 2] = P[3, 3] = self.s.initial_speed_sigma_m_s**2
            tr = FloorTrack(self._next_id, np.array([mean[0], mean[1], 0.0, 0.0]), P, t_s, t_s)
            tr.sources = {src for src, _, _ in cl}
            tr.confirmed = self.s.birth_hits <= 1
            self.confirmed_births += int(tr.confirmed)
            self._next_id += 1
            self.births += 1
            self.tracks.append(tr)
        return [tr for tr in self.tracks if tr.confirmed]

    def _merge_duplicates(self, t_s: float) -> None:
        """One person followed by two tracks (each fed by other cameras, whose estimates disagree):
        tracks that stay within ``merge_distance_m`` for ``duplicate_s`` while no source feeds both
        in the same frame are merged into the one with more updates (its id is kept). Two people
        close together are seen by some camera as two detections in one frame, so they never merge."""
        merged: set[int] = set()
        for a in self.tracks:
            for b in self.tracks:
                if a.track_id >= b.track_id or a.track_id in merged or b.track_id in merged:
                    continue
                close = float(np.hypot(*(a.position - b.position))) < self.s.merge_distance_m
                if not close or (a.sources & b.sources):
                    a.close_since_s.pop(b.track_id, None)
                    continue
                since = a.close_since_s.setdefault(b.track_id, t_s)
                if t_s - since < self.s.duplicate_s:
                    continue
                keep, drop = (a, b) if (a.hits, -a.track_id) >= (b.hits, -b.track_id) else (b, a)
                info = np.linalg.inv(keep.P) + np.linalg.inv(drop.P)
                P = np.linalg.inv(info)
                keep.x = P @ (np.linalg.solve(keep.P, keep.x) + np.linalg.solve(drop.P, drop.x))
                keep.P = 0.5 * (P + P.T)
                keep.hits += drop.hits
                keep.sources |= drop.sources
                keep.last_update_s = max(keep.last_update_s, drop.last_update_s)
                merged.add(drop.track_id)
                self.merged += 1
        if merged:
            self.tracks = [tr for tr in self.tracks if tr.track_id not in merged]
