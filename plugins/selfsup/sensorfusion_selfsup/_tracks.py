"""Person tracks from per-view 2D detections.

* ``identities=True``: the detections' ``person_id`` already agree across views (a simulator's
  oracle ids, a single-person recording, an upstream multi-view tracker): one track per id.
* ``identities=False`` (real detectors): the SDK's own multi-person fusion
  (``sensorfusion.fusion.PersonFusion``: cross-view association, robust triangulation, tracking
  with persistent ids, no filter) gives each frame's tracks in 3D; each track's skeleton is
  projected into every view and the detections are assigned to tracks by the median pixel
  distance over shared joints (Hungarian per view, gated at 3 % of the image diagonal).

Detections are undistorted once per call (``TrackBuilder.step`` takes a frame, ``form_tracks``
a whole recording in one batch) and the fusion runs on ideal pixels; per-frame work uses the
numpy kernel tier by default (a Numba ``prange`` launch costs more than ~70 points of work).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from sensorfusion.fusion import FusionSettings, PersonFusion

from ._recording import Track2D
from ._views import ViewGeometry

__all__ = ["Detections", "TrackBuilder", "form_tracks"]


@dataclass(frozen=True)
class Detections:
    """One view at one frame: ``keypoints (P, J, 3)`` raw pixels + confidence, ``person_id (P,)``."""

    keypoints: np.ndarray
    person_id: np.ndarray


_GATE_FRACTION = 0.03


@dataclass(frozen=True)
class _IdealView:
    """A view whose pixels are already undistorted (what PersonFusion reads: ``undistort``, ``P``)."""

    P: np.ndarray

    def undistort(self, uv: np.ndarray) -> np.ndarray:
        return np.asarray(uv, dtype=np.float64)


class TrackBuilder:
    """Assigns each frame's per-view detections to persistent person tracks (see the module doc).

    ``step(t_s, detections)`` returns ``{track_id: (V, J, 3) raw keypoints}`` for the frame;
    ``undistorted`` may pass the detections' ideal pixels when already computed.
    """

    def __init__(
        self,
        geometries: Sequence[ViewGeometry],
        parents: Sequence[int],
        *,
        identities: bool,
        min_confidence: float = 0.3,
        tier: str = "numpy",
        fusion: FusionSettings | None = None,
    ) -> None:
        self.geoms = list(geometries)
        self.J = len(parents)
        self.identities = identities
        self.min_confidence = min_confidence
        settings = fusion or FusionSettings(
            multiperson=True, filter="none", min_confidence=min_confidence, tier=tier, birth_hits=1
        )
        ideal = [_IdealView(g.P) for g in self.geoms]
        self.fusion = None if identities else PersonFusion(ideal, parents, settings)  # type: ignore[arg-type]
        self.gates_px = [_GATE_FRACTION * float(np.hypot(g.camera.width, g.camera.height)) for g in self.geoms]
        self.unassigned = 0

    def step(
        self,
        t_s: float,
        detections: Sequence[Detections | None],
        undistorted: Sequence[np.ndarray | None] | None = None,
    ) -> dict[int, np.ndarray]:
        V, J = len(self.geoms), self.J
        out: dict[int, np.ndarray] = {}
        if self.identities:
            for v, d in enumerate(detections):
                if d is None:
                    continue
                for kp, pid in zip(d.keypoints, d.person_id, strict=True):
                    if pid < 0:
                        self.unassigned += 1
                        continue
                    arr = out.setdefault(int(pid), _empty(V, J))
                    arr[v] = _clean(kp[:J])
            return out
        assert self.fusion is not None
        if undistorted is None:
            undistorted = [
                None if d is None else _undistort(self.geoms[v], d.keypoints, J) for v, d in enumerate(detections)
            ]
        r = self.fusion.step(t_s, list(undistorted))
        if len(r.track_id) == 0:
            self.unassigned += sum(0 if d is None else len(d.keypoints) for d in detections)
            return out
        K = len(r.track_id)
        for tid in r.track_id.tolist():
            out[int(tid)] = _empty(V, J)
        Xh = np.concatenate([r.joints, np.ones((K, J, 1))], axis=-1)
        for v, d in enumerate(detections):
            und = undistorted[v]
            if d is None or und is None or len(und) == 0:
                continue
            q = Xh @ self.geoms[v].P.T  # (K, J, 3)
            with np.errstate(invalid="ignore", divide="ignore"):
                proj = np.where((q[..., 2:] > 0), q[..., :2] / q[..., 2:], np.nan)
            seen = np.isfinite(und[..., :2]).all(-1) & (und[..., 2] > self.min_confidence)  # (P, J)
            dist = np.linalg.norm(und[None, :, :, :2] - proj[:, None], axis=-1)  # (K, P, J)
            ok = seen[None] & np.isfinite(dist)
            cost = np.full((K, len(und)), np.inf)
            for k in range(K):
                for i in range(len(und)):
                    if ok[k, i].sum() >= 3:
                        cost[k, i] = float(np.median(dist[k, i][ok[k, i]]))
            rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e12))
            taken = 0
            for k, i in zip(rows, cols, strict=True):
                if cost[k, i] <= self.gates_px[v]:
                    out[int(r.track_id[k])][v] = _clean(d.keypoints[i][:J])
                    taken += 1
            self.unassigned += len(und) - taken
        return out


def _undistort(g: ViewGeometry, keypoints: np.ndarray, J: int) -> np.ndarray:
    kp = np.asarray(keypoints, dtype=np.float64)[:, :J]
    out = np.empty(kp.shape)
    out[..., :2] = g.undistort(kp[..., :2])
    out[..., 2] = np.nan_to_num(kp[..., 2], nan=0.0, posinf=0.0, neginf=0.0)
    return out


def _empty(V: int, J: int) -> np.ndarray:
    a = np.full((V, J, 3), np.nan)
    a[..., 2] = 0.0
    return a


def _clean(kp: np.ndarray) -> np.ndarray:
    a = np.asarray(kp, dtype=np.float64).copy()
    bad = ~np.isfinite(a[:, :2]).all(-1) | ~np.isfinite(a[:, 2]) | (a[:, 2] <= 0)
    a[bad, :2] = np.nan
    a[bad, 2] = 0.0
    return a


def form_tracks(
    frames: Sequence[Sequence[Detections | None]],
    t_ns: np.ndarray,
    builder: TrackBuilder,
) -> list[Track2D]:
    """Dense :class:`Track2D` per person from ``frames[t][v]`` detections."""
    per_track: dict[int, dict[int, np.ndarray]] = {}
    und_frames: list[list[np.ndarray | None]] | None = None
    if not builder.identities:
        und_frames = [[None] * len(builder.geoms) for _ in frames]
        for v, g in enumerate(builder.geoms):
            idx = [(t, d) for t, row in enumerate(frames) if (d := row[v]) is not None]
            if not idx:
                continue
            allkp = np.concatenate([np.asarray(d.keypoints, dtype=np.float64)[:, : builder.J] for _, d in idx])
            und = _undistort(g, allkp, builder.J) if len(allkp) else allkp
            k = 0
            for t, d in idx:
                n = len(d.keypoints)
                und_frames[t][v] = und[k : k + n]
                k += n
    for t, dets in enumerate(frames):
        und_t = None if und_frames is None else und_frames[t]
        for tid, kp in builder.step(float(t_ns[t]) * 1e-9, dets, und_t).items():
            if np.isfinite(kp[..., 0]).any():
                per_track.setdefault(tid, {})[t] = kp
    V, J = len(builder.geoms), builder.J
    tracks = []
    for tid in sorted(per_track):
        frames_of = per_track[tid]
        lo, hi = min(frames_of), max(frames_of)
        arr = np.repeat(_empty(V, J)[None], hi - lo + 1, axis=0)
        for t, kp in frames_of.items():
            arr[t - lo] = kp
        tracks.append(Track2D(track_id=tid, start=lo, keypoints=arr))
    return tracks
