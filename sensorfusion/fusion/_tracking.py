"""Persistent 3D person ids: robust constant-velocity prediction + Hungarian assignment (numpy/scipy).

**State.** Each track keeps, per joint, the last *observed* position and time and a velocity
(exponentially smoothed over consecutive observations, capped at ``max_joint_speed_m_s``).
A joint is never moved by its own extrapolation: the prediction at time ``t`` is
``last + velocity * min(t - last_seen_of_joint, predict_horizon_s)`` — a missing joint is
extrapolated for a short horizon only, then held. A joint that reappears after a gap longer
than the horizon takes the body's velocity (the median over the joints seen continuously)
instead of a difference across the gap, so one reappearing joint cannot give a track a
velocity of metres per frame.

**Cost.** Pairing track ``i`` with hypothesis ``k`` costs the *trimmed mean* distance over the
joints both have (the ``match_trim`` fraction of the farthest ones left out; ``0`` is the plain
mean, ``0.5`` about the median), over the joints the track saw within ``predict_horizon_s`` of
its last update when at least 3 of them are shared (else over every shared joint; with fewer
than 3, the centroid distance). One wild joint therefore cannot push a person past the gate.
Pairs farther than the gate ``max_distance_m + max_speed_m_s * (time since the track was last
seen)`` are forbidden, so a person reappearing after a short occlusion gets their old id back
while far-away newcomers do not.

**Birth.** An unmatched hypothesis that is not within ``max_distance_m`` of a live track (a
duplicate, e.g. one person split into two hypotheses) starts a *tentative* track; it is
confirmed — and given a public id — after ``birth_hits`` matched frames. A tentative track dies
at its first miss. Ids are never reused; tentative tracks have no public id, so confirmed ids
are dense (0, 1, 2, ...).

**Loss and re-identification.** A confirmed track unseen for ``max_missing_s`` is *lost*: it is
no longer predicted or matched, but for ``reid_window_s`` a new track can re-claim its id. With
a skeleton (``parents``), every lost track its owner could have walked from — within
``reid_distance_m`` plus ``max_speed_m_s`` per second away, of where it was last seen (trimmed
joint distance) — is a candidate; a new track with candidates is held for ``reid_hits`` frames
while its bone-length signature (each bone's median length) builds up, then takes the id of the
candidate whose signature differs least, if by at most ``reid_bone_tolerance`` (``sum |a - b| /
sum (a + b) / 2`` over the bones both have: long bones count most), and a new id otherwise.
Without ``parents`` the nearest lost track within ``reid_distance_m`` is re-claimed at
confirmation. A lost track not re-claimed within ``reid_window_s`` dies.

The owner of a tracker (``PersonFusion``) holds the frames of tentative tracks and reports them
once the track is confirmed (back-fill): :meth:`Tracker.step` says which tracks were confirmed
and which tentative ones were dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["Track", "TrackStep", "Tracker"]

_FORBIDDEN = 1e9
_BONE_SAMPLES = 90  # bone-length samples a track keeps for its signature


@dataclass
class Track:
    """One track. ``key`` is internal and unique; ``track_id`` the public id (-1 while tentative)."""

    key: int
    joints: np.ndarray  # (J, 3) last observed position of each joint (NaN: never seen)
    joint_t_s: np.ndarray  # (J,) when each joint was last observed (-inf: never)
    velocity: np.ndarray  # (J, 3) m/s, capped
    last_seen_s: float
    first_seen_s: float
    track_id: int = -1
    hits: int = 1
    confirmed: bool = False
    lost_since_s: float | None = None
    bone_samples: list[np.ndarray] = field(default_factory=list)

    def signature(self) -> np.ndarray | None:
        """Median length of each bone over the samples (NaN where never seen), or ``None``."""
        if not self.bone_samples:
            return None
        with np.errstate(all="ignore"):
            s = np.stack(self.bone_samples)
            n = np.isfinite(s).sum(0)
            med = np.full(s.shape[1], np.nan)
            ok = n > 0
            if ok.any():
                med[ok] = np.nanmedian(s[:, ok], axis=0)
        return med


@dataclass(frozen=True)
class TrackStep:
    """What one :meth:`Tracker.step` did.

    ``matches``: ``(hypothesis, key, track_id)`` for every hypothesis given to a track this frame
    (``track_id`` -1 for tentative tracks); ``confirmed``: ``{key: track_id}`` of the tracks
    confirmed in this step (their earlier, held frames can now be reported); ``dropped``: keys of
    tentative tracks that died (their held frames are to be discarded); ``reclaimed``:
    ``{key: track_id}`` of the confirmations that re-claimed a lost id.
    """

    matches: list[tuple[int, int, int]]
    confirmed: dict[int, int]
    dropped: list[int]
    reclaimed: dict[int, int]

    def reported(self) -> list[tuple[int, int]]:
        """``(hypothesis, track_id)`` of the confirmed tracks, sorted by id."""
        return sorted(((h, tid) for h, _, tid in self.matches if tid >= 0), key=lambda x: x[1])


class Tracker:
    """Assigns persistent ids to per-frame 3D skeleton hypotheses (see the module docstring).

    ``match_trim=0``, ``max_joint_speed_m_s=inf``, ``predict_horizon_s=inf`` and
    ``reid_window_s=0`` give the plain mean cost, uncapped extrapolation and no re-claiming.
    """

    def __init__(
        self,
        *,
        max_distance_m: float = 0.4,
        max_speed_m_s: float = 2.0,
        max_missing_s: float = 1.0,
        birth_hits: int = 2,
        velocity_smoothing: float = 0.5,
        match_trim: float = 0.25,
        max_joint_speed_m_s: float = 5.0,
        predict_horizon_s: float = 0.25,
        reid_window_s: float = 10.0,
        reid_distance_m: float = 1.5,
        reid_bone_tolerance: float = 0.05,
        reid_hits: int = 8,
        parents: Sequence[int] | None = None,
    ) -> None:
        if not 0.0 <= match_trim < 1.0:
            raise ValueError(f"match_trim must be in [0, 1), got {match_trim}")
        self.max_distance_m = max_distance_m
        self.max_speed_m_s = max_speed_m_s
        self.max_missing_s = max_missing_s
        self.birth_hits = max(1, birth_hits)
        self.alpha = velocity_smoothing
        self.match_trim = match_trim
        self.max_joint_speed_m_s = max_joint_speed_m_s
        self.predict_horizon_s = predict_horizon_s
        self.reid_window_s = reid_window_s
        self.reid_distance_m = reid_distance_m
        self.reid_bone_tolerance = reid_bone_tolerance
        self.reid_hits = max(1, reid_hits)
        par = np.asarray(list(parents) if parents is not None else [], dtype=np.int64)
        self._child = np.flatnonzero(par >= 0)
        self._parent = par[self._child]
        self.tracks: list[Track] = []  # live: tentative and confirmed
        self.lost: list[Track] = []  # confirmed, unseen longer than max_missing_s, re-claimable
        self._next_id = 0
        self._next_key = 0
        self.births = 0
        self.deaths = 0
        self.reidentified = 0
        self.reclaimed = 0

    # -- prediction and cost ------------------------------------------------------------------

    def predict(self, track: Track, t_s: float) -> np.ndarray:
        """Joints ``(J, 3)`` of ``track`` at ``t_s``: each joint moved along its velocity for at
        most ``predict_horizon_s`` after it was last observed."""
        dt = np.clip(t_s - track.joint_t_s, 0.0, self.predict_horizon_s)
        dt = np.where(np.isfinite(dt), dt, 0.0)
        return np.asarray(track.joints + track.velocity * dt[:, None])

    def _fresh(self, track: Track) -> np.ndarray:
        return np.asarray(track.joint_t_s >= track.last_seen_s - self.predict_horizon_s)

    def _cost(self, a: np.ndarray, b: np.ndarray, fresh: np.ndarray | None = None) -> float:
        fa, fb = np.isfinite(a).all(-1), np.isfinite(b).all(-1)
        both = fa & fb
        if fresh is not None and (both & fresh).sum() >= 3:
            both = both & fresh
        n = int(both.sum())
        if n >= 3:
            d = np.sort(np.linalg.norm(a[both] - b[both], axis=-1))
            keep = max(3, n - int(self.match_trim * n))
            return float(d[:keep].mean())
        if fa.any() and fb.any():
            return float(np.linalg.norm(a[fa].mean(0) - b[fb].mean(0)))
        return _FORBIDDEN

    def _bones(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(np.linalg.norm(x[self._child] - x[self._parent], axis=-1))

    # -- one frame ------------------------------------------------------------------------------

    def update(self, t_s: float, hypotheses: np.ndarray) -> list[tuple[int, int]]:
        """Match ``hypotheses (H, J, 3)`` at time ``t_s``; returns ``(hypothesis, track_id)``
        for every hypothesis that belongs to a confirmed track."""
        return self.step(t_s, hypotheses).reported()

    def step(self, t_s: float, hypotheses: np.ndarray) -> TrackStep:
        """Match ``hypotheses (H, J, 3)`` at time ``t_s`` (see :class:`TrackStep`)."""
        hypotheses = np.asarray(hypotheses, dtype=np.float64)
        H = len(hypotheses)
        T = len(self.tracks)
        cost = np.full((T, H), _FORBIDDEN)
        for i, tr in enumerate(self.tracks):
            pred = self.predict(tr, t_s)
            fresh = self._fresh(tr)
            gate = self.max_distance_m + self.max_speed_m_s * max(0.0, t_s - tr.last_seen_s)
            for k in range(H):
                c = self._cost(pred, hypotheses[k], fresh)
                if c <= gate:
                    cost[i, k] = c
        rows, cols = linear_sum_assignment(cost) if T and H else (np.zeros(0, int), np.zeros(0, int))
        matched_t: set[int] = set()
        matched_h: dict[int, Track] = {}
        for i, k in zip(rows, cols, strict=True):
            if cost[i, k] >= _FORBIDDEN:
                continue
            tr = self.tracks[i]
            if t_s - tr.last_seen_s > 1.5 / 30 and tr.confirmed:
                self.reidentified += 1
            self._absorb(tr, t_s, hypotheses[k])
            matched_t.add(i)
            matched_h[int(k)] = tr
        dropped: list[int] = []
        survivors = []
        for i, tr in enumerate(self.tracks):
            if i in matched_t:
                survivors.append(tr)
            elif not tr.confirmed:
                dropped.append(tr.key)
            elif t_s - tr.last_seen_s <= self.max_missing_s:
                survivors.append(tr)
            elif self.reid_window_s > 0:
                tr.lost_since_s = t_s
                self.lost.append(tr)
            else:
                self.deaths += 1
        self.tracks = survivors
        keep_lost = []
        for tr in self.lost:
            if t_s - tr.last_seen_s <= self.max_missing_s + self.reid_window_s:
                keep_lost.append(tr)
            else:
                self.deaths += 1
        self.lost = keep_lost
        for k in range(H):
            # no birth for a duplicate of a person already tracked (e.g. a split hypothesis)
            duplicate = T > 0 and bool((cost[:, k] < self.max_distance_m).any())
            if k not in matched_h and not duplicate and np.isfinite(hypotheses[k]).all(-1).sum() >= 3:
                x = hypotheses[k]
                seen = np.isfinite(x).all(-1)
                tr = Track(
                    key=self._next_key,
                    joints=np.where(seen[:, None], x, np.nan),
                    joint_t_s=np.where(seen, t_s, -np.inf),
                    velocity=np.zeros_like(x),
                    last_seen_s=t_s,
                    first_seen_s=t_s,
                )
                self._next_key += 1
                if len(self._child):
                    tr.bone_samples.append(self._bones(tr.joints))
                self.tracks.append(tr)
                matched_h[k] = tr
        confirmed: dict[int, int] = {}
        reclaimed: dict[int, int] = {}
        for tr in matched_h.values():
            if not tr.confirmed and tr.hits >= self.birth_hits:
                self._try_confirm(tr, confirmed, reclaimed)
        matches = [(k, tr.key, tr.track_id if tr.confirmed else -1) for k, tr in sorted(matched_h.items())]
        return TrackStep(matches, confirmed, dropped, reclaimed)

    def _absorb(self, tr: Track, t_s: float, new: np.ndarray) -> None:
        """Update a matched track with its new observation."""
        obs = np.isfinite(new).all(-1)
        dtj = t_s - tr.joint_t_s
        cont = obs & np.isfinite(tr.joints).all(-1) & (dtj > 0) & (dtj <= self.predict_horizon_s)
        if cont.any():
            v = (new[cont] - tr.joints[cont]) / dtj[cont, None]
            v = self.alpha * tr.velocity[cont] + (1 - self.alpha) * v
            tr.velocity[cont] = self._cap(v)
        back = obs & ~cont
        if back.any():
            # a joint seen again after a gap moves with the body, not across the gap
            fresh = cont if cont.any() else (np.isfinite(tr.joints).all(-1) & (dtj <= self.predict_horizon_s))
            body = np.median(tr.velocity[fresh], axis=0) if fresh.any() else np.zeros(3)
            tr.velocity[back] = body
        tr.joints[obs] = new[obs]
        tr.joint_t_s[obs] = t_s
        tr.last_seen_s = t_s
        tr.hits += 1
        if len(self._child):
            tr.bone_samples.append(self._bones(np.where(obs[:, None], new, np.nan)))
            if len(tr.bone_samples) > _BONE_SAMPLES:
                del tr.bone_samples[0]

    def _cap(self, v: np.ndarray) -> np.ndarray:
        if not np.isfinite(self.max_joint_speed_m_s):
            return v
        s = np.linalg.norm(v, axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(s > self.max_joint_speed_m_s, self.max_joint_speed_m_s / s, 1.0)
        return np.asarray(v * f)

    def _try_confirm(self, tr: Track, confirmed: dict[int, int], reclaimed: dict[int, int]) -> None:
        candidates = []
        bones = len(self._child) > 0
        if self.lost:
            here = self.predict(tr, tr.last_seen_s)
            for lt in self.lost:
                d = self._cost(lt.joints, here)
                # with a bone signature to tell people apart, anyone who could have walked here
                reach = self.reid_distance_m + (
                    self.max_speed_m_s * (tr.first_seen_s - lt.last_seen_s) if bones else 0.0
                )
                if d <= reach:
                    candidates.append((d, lt))
        if candidates:
            sig = tr.signature() if len(self._child) else None
            if sig is not None and tr.hits < max(self.birth_hits, self.reid_hits):
                return  # hold: the signature is still building up
            best: Track | None = None
            best_score = np.inf
            for d, lt in candidates:
                if sig is None:
                    score = d
                else:
                    diff = _relative_difference(sig, lt.signature())
                    if diff is None or diff > self.reid_bone_tolerance:
                        continue
                    score = diff + 0.01 * d
                if score < best_score:
                    best, best_score = lt, score
            if best is not None:
                self.lost.remove(best)
                tr.track_id = best.track_id
                tr.confirmed = True
                confirmed[tr.key] = tr.track_id
                reclaimed[tr.key] = tr.track_id
                self.reidentified += 1
                self.reclaimed += 1
                return
        tr.track_id = self._next_id
        self._next_id += 1
        tr.confirmed = True
        self.births += 1
        confirmed[tr.key] = tr.track_id

    def track(self, track_id: int) -> Track:
        """The live track with public id ``track_id``."""
        for tr in self.tracks:
            if tr.track_id == track_id:
                return tr
        raise KeyError(track_id)


def _relative_difference(a: np.ndarray, b: np.ndarray | None) -> float | None:
    """``sum |a - b| / sum (a + b) / 2`` over the bones both signatures have: a length-weighted
    relative difference, so the long bones (noise small against their length) count most and
    the face's few centimetres little. ``None`` with fewer than 3 shared bones."""
    if b is None:
        return None
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or float((a[ok] + b[ok]).sum()) < 1e-6:
        return None
    return float(np.abs(a[ok] - b[ok]).sum() / (0.5 * (a[ok] + b[ok]).sum()))
