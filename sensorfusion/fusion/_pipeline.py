"""One frame of multi-view fusion: association → robust triangulation → tracking → filtering →
capture volume.

Shared by the ``triangulate`` / ``multiperson`` estimators and the ``sensorfusion
triangulate`` command.

**Back-fill.** A new track is reported once it is confirmed (``birth_hits`` matched frames, more
while it may be re-claiming a lost id). Its frames before that are held, and the step that
confirms it returns them in :attr:`FusionFrame.backfill` — one :class:`FusionFrame` per earlier
step (oldest first, each holding only the newly confirmed tracks, stamped with that step's
``t_s`` and ``stamp``), filtered in time order before the current frame. A confirmed track is
therefore reported from its first frame: causally in the current frame from confirmation on,
and for the frames before through the back-fill. A tentative track that dies has its held
frames discarded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from ..kernels import check_limits
from ._associate import associate_views
from ._cameras import ViewModel
from ._filters import BoneLengthConstraint, ConstantVelocityKalman, OneEuroFilter
from ._tracking import Tracker
from ._triangulate import triangulate_points
from ._volume import CaptureVolume

__all__ = ["FusionFrame", "FusionSettings", "PersonFusion"]

FilterKind = Literal["none", "one_euro", "kalman"]


@dataclass(frozen=True)
class FusionSettings:
    multiperson: bool = True
    min_confidence: float = 0.3
    min_views: int = 2
    robust: bool = True
    threshold_px: float = 15.0
    refine_iters: int = 2
    tier: str = "auto"
    max_ray_distance_m: float = 0.15
    min_common_joints: int = 3
    min_joints: int = 5
    merge_distance_m: float = 0.25
    max_track_distance_m: float = 0.4
    max_speed_m_s: float = 2.0
    max_missing_s: float = 1.0
    birth_hits: int = 2
    match_trim: float = 0.25
    max_joint_speed_m_s: float = 5.0
    predict_horizon_s: float = 0.25
    reid_window_s: float = 10.0
    reid_distance_m: float = 1.5
    reid_bone_tolerance: float = 0.05
    reid_hits: int = 8
    backfill: bool = True
    filter: FilterKind = "one_euro"
    one_euro_min_cutoff_hz: float = 2.0
    one_euro_beta: float = 20.0
    kalman_process_noise: float = 5.0
    kalman_measurement_noise_m: float = 0.015
    bone_lengths: bool = False


def _no_people() -> np.ndarray:
    return np.zeros(0, dtype=bool)


@dataclass(frozen=True)
class FusionFrame:
    """The people of one frame: ``track_id (K,)``, ``joints (K, J, 3)`` metres (NaN: unknown),
    ``reprojection_error_px (K, J)`` (mean over inlier views), ``views (K, J)`` inlier views,
    ``status (K, J)`` :class:`TriangulationStatus` bits, ``in_volume (K,)`` inside the capture
    volume (all true without one); ``t_s`` and ``stamp`` of the step it belongs to; ``backfill``:
    the earlier frames of tracks confirmed in this step (see the module docstring)."""

    track_id: np.ndarray
    joints: np.ndarray
    reprojection_error_px: np.ndarray
    views: np.ndarray
    status: np.ndarray
    in_volume: np.ndarray = field(default_factory=_no_people)
    t_s: float = float("nan")
    stamp: int = -1
    backfill: tuple[FusionFrame, ...] = ()


@dataclass
class _Held:
    """One frame of a tentative track, kept until it is confirmed or dies."""

    stamp: int
    t_s: float
    joints: np.ndarray
    error_px: np.ndarray
    views: np.ndarray
    status: np.ndarray


class PersonFusion:
    """Stateful per-frame fusion for a fixed set of views (see the module docstring)."""

    def __init__(
        self,
        views: Sequence[ViewModel],
        parents: Sequence[int],
        settings: FusionSettings,
        *,
        volume: CaptureVolume | None = None,
    ) -> None:
        # a tier that cannot hold this many views is refused now, not at the first frame
        check_limits("fusion.triangulate", settings.tier, field_path="tier", views=len(views))
        self.views = list(views)
        self.volume = volume
        self.P = np.stack([v.P for v in views]) if views else np.zeros((0, 3, 4))
        self.J = len(parents)
        self.parents = list(parents)
        self.s = settings
        self.tracker = Tracker(
            max_distance_m=settings.max_track_distance_m,
            max_speed_m_s=settings.max_speed_m_s,
            max_missing_s=settings.max_missing_s,
            birth_hits=settings.birth_hits if settings.multiperson else 1,
            match_trim=settings.match_trim,
            max_joint_speed_m_s=settings.max_joint_speed_m_s,
            predict_horizon_s=settings.predict_horizon_s,
            reid_window_s=settings.reid_window_s if settings.multiperson else 0.0,
            reid_distance_m=settings.reid_distance_m,
            reid_bone_tolerance=settings.reid_bone_tolerance,
            reid_hits=settings.reid_hits,
            parents=parents,
        )
        self._held: dict[int, list[_Held]] = {}
        self._filters: dict[int, OneEuroFilter | ConstantVelocityKalman] = {}
        self._bones: dict[int, BoneLengthConstraint] = {}
        V = len(self.views)
        self.err_sum_px = np.zeros(V)
        self.err_count = np.zeros(V, dtype=np.int64)
        self.outliers = np.zeros(V, dtype=np.int64)
        self.hypotheses = 0
        self.frames = 0
        self.backfilled = 0  # person-frames reported late, through FusionFrame.backfill
        self.outside = 0  # person-frames outside the capture volume (flagged or dropped)

    def _undistorted(self, detections: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        out = []
        for v, d in enumerate(detections):
            if d is None or len(d) == 0:
                out.append(np.zeros((0, self.J, 3)))
                continue
            d = np.asarray(d, dtype=np.float64)[:, : self.J]
            u = np.empty((len(d), self.J, 3))
            u[..., :2] = self.views[v].undistort(d[..., :2])
            u[..., 2] = np.nan_to_num(d[..., 2], nan=0.0, posinf=0.0, neginf=0.0)
            out.append(u)
        return out

    def _triangulate(self, und: list[np.ndarray], groups: np.ndarray) -> tuple[np.ndarray, ...]:
        V, H, J = len(und), len(groups), self.J
        pts = np.full((V, H, J, 2), np.nan)
        conf = np.zeros((V, H, J))
        for h in range(H):
            for v in range(V):
                i = groups[h, v]
                if i >= 0:
                    pts[v, h] = und[v][i, :, :2]
                    conf[v, h] = und[v][i, :, 2]
        r = triangulate_points(
            pts,
            conf,
            self.P,
            min_confidence=self.s.min_confidence,
            min_views=self.s.min_views,
            robust=self.s.robust,
            threshold_px=self.s.threshold_px,
            refine_iters=self.s.refine_iters,
            tier=self.s.tier,
        )
        return r.points3d, r.reprojection_error_px, r.inliers, r.status

    def _hypotheses(self, und: list[np.ndarray]) -> np.ndarray:
        V = len(und)
        if not self.s.multiperson:
            row = np.full((1, V), -1, dtype=np.int64)
            for v, d in enumerate(und):
                if len(d):
                    row[0, v] = int(np.argmax(np.where(d[..., 2] > self.s.min_confidence, d[..., 2], 0.0).sum(-1)))
            return row if (row >= 0).sum() >= 2 else np.zeros((0, V), dtype=np.int64)
        return associate_views(
            und,
            self.P,
            min_confidence=self.s.min_confidence,
            max_ray_distance_m=self.s.max_ray_distance_m,
            min_common_joints=self.s.min_common_joints,
            min_views=self.s.min_views,
        ).groups

    def _merge(self, groups: np.ndarray, X: np.ndarray) -> np.ndarray | None:
        """Join hypotheses with disjoint views whose skeletons coincide (one person split in two)."""
        H = len(groups)
        merged = False
        alive = list(range(H))
        g = groups.copy()
        for a in range(H):
            for b in range(a + 1, H):
                if a not in alive or b not in alive:
                    continue
                if ((g[a] >= 0) & (g[b] >= 0)).any():
                    continue
                both = np.isfinite(X[a]).all(-1) & np.isfinite(X[b]).all(-1)
                if both.sum() < 3:
                    continue
                if np.median(np.linalg.norm(X[a, both] - X[b, both], axis=-1)) < self.s.merge_distance_m:
                    g[a] = np.where(g[b] >= 0, g[b], g[a])
                    alive.remove(b)
                    merged = True
        return g[alive] if merged else None

    def step(self, t_s: float, detections: Sequence[np.ndarray | None], *, stamp: int | None = None) -> FusionFrame:
        """Fuse one frame; ``detections[v]`` is ``(P_v, J, 3)`` raw x_px, y_px, confidence.

        ``stamp`` identifies the step in back-filled frames (default: the step's index, from 0);
        the live estimator passes the frameset's reference time in ns, the command its frame number.
        """
        stamp = self.frames if stamp is None else int(stamp)
        self.frames += 1
        und = self._undistorted(detections)
        groups = self._hypotheses(und)
        X, err, inl, status = self._triangulate(und, groups)
        if self.s.multiperson and len(groups) > 1:
            g2 = self._merge(groups, X)
            if g2 is not None:
                groups = g2
                X, err, inl, status = self._triangulate(und, groups)
        finite = np.isfinite(X).all(-1)
        keep = finite.sum(-1) >= (self.s.min_joints if self.s.multiperson else 1)
        X, err, inl, status = X[keep], err[:, keep], inl[:, keep], status[keep]
        self.hypotheses += int(keep.sum())
        e_in = np.where(inl, err, 0.0)
        self.err_sum_px += np.nan_to_num(e_in).sum(axis=(1, 2))
        self.err_count += inl.sum(axis=(1, 2))
        valid_obs = np.isfinite(err) | np.isinf(err)
        self.outliers += (valid_obs & ~inl).sum(axis=(1, 2))
        n_in = inl.sum(0)  # (H, J)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_err = np.where(n_in > 0, np.where(inl, err, 0.0).sum(0) / n_in, np.nan)
        tstep = self.tracker.step(t_s, X)
        for key in tstep.dropped:
            self._held.pop(key, None)
        current: list[_Held] = []
        ids: list[int] = []
        backfill: dict[int, list[tuple[int, _Held]]] = {}
        for h, key, tid in tstep.matches:
            rec = _Held(stamp, t_s, X[h], mean_err[h], n_in[h], status[h])
            if tid < 0:
                self._held.setdefault(key, []).append(rec)
                continue
            for old in self._held.pop(key, []):
                if self.s.backfill:
                    x = self._smooth(tid, old.t_s, old.joints)
                    backfill.setdefault(old.stamp, []).append((tid, _Held(old.stamp, old.t_s, x, *_rest(old))))
            current.append(_Held(stamp, t_s, self._smooth(tid, t_s, rec.joints), *_rest(rec)))
            ids.append(tid)
        order = np.argsort(ids, kind="stable")
        out = self._frame(stamp, t_s, [ids[i] for i in order], [current[i] for i in order])
        late = []
        for st in sorted(backfill):
            rows = sorted(backfill[st], key=lambda r: r[0])
            fr = self._frame(st, rows[0][1].t_s, [r[0] for r in rows], [r[1] for r in rows])
            self.backfilled += len(fr.track_id)
            if len(fr.track_id):
                late.append(fr)
        live = {tr.track_id for tr in self.tracker.tracks if tr.confirmed}
        for tid in [t for t in self._filters if t not in live]:
            del self._filters[tid]
            self._bones.pop(tid, None)
        return replace(out, backfill=tuple(late)) if late else out

    def _smooth(self, tid: int, t_s: float, x: np.ndarray) -> np.ndarray:
        if self.s.bone_lengths:
            x = self._bones.setdefault(tid, BoneLengthConstraint(self.parents))(x)
        return self._filter(tid, t_s, x)

    def _frame(self, stamp: int, t_s: float, ids: list[int], rows: list[_Held]) -> FusionFrame:
        """A frame of the given people, with the capture-volume rule applied."""
        J = self.J
        K = len(rows)
        joints = np.stack([r.joints for r in rows]) if K else np.zeros((0, J, 3))
        inside = self.volume.people_inside(joints) if self.volume is not None else np.ones(K, dtype=bool)
        self.outside += int((~inside).sum())
        keep = inside if self.volume is not None and self.volume.outside == "drop" else np.ones(K, dtype=bool)
        sel = [i for i in range(K) if keep[i]]
        return FusionFrame(
            track_id=np.asarray([ids[i] for i in sel], dtype=np.int64),
            joints=joints[sel] if K else joints,
            reprojection_error_px=np.stack([rows[i].error_px for i in sel]) if sel else np.full((0, J), np.nan),
            views=np.stack([rows[i].views for i in sel]).astype(np.int64) if sel else np.zeros((0, J), np.int64),
            status=np.stack([rows[i].status for i in sel]).astype(np.int8) if sel else np.zeros((0, J), np.int8),
            in_volume=np.asarray(inside[sel], dtype=bool),
            t_s=t_s,
            stamp=stamp,
        )

    def _filter(self, tid: int, t_s: float, x: np.ndarray) -> np.ndarray:
        if self.s.filter == "none":
            return x
        f = self._filters.get(tid)
        if f is None:
            if self.s.filter == "one_euro":
                f = OneEuroFilter(self.s.one_euro_min_cutoff_hz, self.s.one_euro_beta)
            else:
                f = ConstantVelocityKalman(self.s.kalman_process_noise, self.s.kalman_measurement_noise_m)
            self._filters[tid] = f
        if isinstance(f, OneEuroFilter):
            return f(t_s, x)
        y, _ = f(t_s, x)
        return y

    def reprojection_summary(self) -> list[dict[str, float | int]]:
        """Per view: mean reprojection error of inlier observations and outliers rejected."""
        return [
            {
                "mean_reprojection_error_px": round(float(self.err_sum_px[v] / self.err_count[v]), 3)
                if self.err_count[v]
                else float("nan"),
                "inlier_observations": int(self.err_count[v]),
                "rejected_observations": int(self.outliers[v]),
            }
            for v in range(len(self.views))
        ]


def _rest(h: _Held) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return h.error_px, h.views, h.status
