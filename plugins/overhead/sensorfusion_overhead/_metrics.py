"""Scores of overhead people detection, localisation and tracking against ground truth.

* :class:`DetectionAP` — average precision of rotated boxes at a rotated-IoU threshold
  (0.5: AP50), COCO style: detections of every frame ranked by score, greedily matched to the
  unmatched ground truth of their frame with the highest IoU, precision made monotone and
  sampled at 101 recall points. Ground truth that is mostly hidden (``visible_fraction`` below
  ``min_visible``) is "ignore": matching it is neither a true nor a false positive (as
  COCO's crowd / ignore regions).
* :class:`TrackScores` — per frame, estimated and true floor positions are paired as CLEAR-MOT
  does: a person keeps the track it had in the previous frame while that track is still within
  ``max_distance_m``, the rest are paired by the Hungarian algorithm within ``max_distance_m``.
  Scores: localisation error of the pairs, misses,
  false tracks, id switches (a person paired with another track id than the last time they
  were paired; CLEAR-MOT's definition), count accuracy (frames where the number of tracks
  equals the number of people) and MOTA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ._rbox import rbox_iou

__all__ = ["DetectionAP", "TrackScores", "pair_positions"]


class DetectionAP:
    """Accumulates frames of (detections, ground truth) and computes AP at ``iou_threshold``."""

    def __init__(self, iou_threshold: float = 0.5, *, min_visible: float = 0.3) -> None:
        self.iou_threshold = iou_threshold
        self.min_visible = min_visible
        self._scores: list[np.ndarray] = []
        self._tp: list[np.ndarray] = []
        self._keep: list[np.ndarray] = []
        self.num_gt = 0
        self.frames = 0

    def add(
        self,
        det_rboxes: np.ndarray,
        det_scores: np.ndarray,
        gt_rboxes: np.ndarray,
        gt_visible: np.ndarray | None = None,
    ) -> None:
        det = np.asarray(det_rboxes, dtype=np.float64).reshape(-1, 5)
        scores = np.asarray(det_scores, dtype=np.float64).reshape(-1)
        gt = np.asarray(gt_rboxes, dtype=np.float64).reshape(-1, 5)
        vis = np.ones(len(gt)) if gt_visible is None else np.asarray(gt_visible, dtype=np.float64).reshape(-1)
        care = vis >= self.min_visible
        self.num_gt += int(care.sum())
        self.frames += 1
        order = np.argsort(-scores, kind="stable")
        iou = rbox_iou(det[order], gt) if len(det) and len(gt) else np.zeros((len(det), len(gt)))
        used = np.zeros(len(gt), dtype=bool)
        tp = np.zeros(len(det), dtype=bool)
        keep = np.ones(len(det), dtype=bool)
        for r in range(len(det)):
            cand = np.where(used, -1.0, iou[r])
            # prefer cared-for ground truth; fall back to ignored ground truth
            j = int(np.argmax(np.where(care, cand, -1.0))) if len(gt) else -1
            if j >= 0 and care[j] and cand[j] >= self.iou_threshold:
                used[j] = True
                tp[r] = True
                continue
            j2 = int(np.argmax(np.where(~care, cand, -1.0))) if len(gt) else -1
            if j2 >= 0 and not care[j2] and cand[j2] >= self.iou_threshold:
                used[j2] = True
                keep[r] = False
        self._scores.append(scores[order])
        self._tp.append(tp)
        self._keep.append(keep)

    def ap(self) -> float | None:
        """AP (0-1) over everything added; None without ground truth."""
        if self.num_gt == 0:
            return None
        if not self._scores:
            return 0.0
        s = np.concatenate(self._scores)
        tp = np.concatenate(self._tp)
        keep = np.concatenate(self._keep)
        s, tp = s[keep], tp[keep]
        order = np.argsort(-s, kind="stable")
        tp = tp[order]
        ctp = np.cumsum(tp)
        cfp = np.cumsum(~tp)
        recall = ctp / self.num_gt
        precision = ctp / np.maximum(ctp + cfp, 1)
        # monotone envelope, sampled at 101 recall points (COCO)
        prec = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
        points = np.linspace(0.0, 1.0, 101)
        idx = np.searchsorted(recall, points, side="left")
        sampled = np.where(idx < len(prec), prec[np.minimum(idx, len(prec) - 1)] if len(prec) else 0.0, 0.0)
        return float(np.mean(sampled))

    def recall(self) -> float | None:
        if self.num_gt == 0:
            return None
        return float(sum(int(t.sum()) for t in self._tp)) / self.num_gt


def pair_positions(
    est_xy: np.ndarray, gt_xy: np.ndarray, max_distance_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hungarian pairing of estimated and true positions: ``(est_index, gt_index, distance)`` within the gate."""
    e = np.asarray(est_xy, dtype=np.float64).reshape(-1, 2)
    g = np.asarray(gt_xy, dtype=np.float64).reshape(-1, 2)
    if not len(e) or not len(g):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    d = np.linalg.norm(e[:, None] - g[None], axis=-1)
    d = np.where(np.isfinite(d), d, 1e9)
    r, c = linear_sum_assignment(np.where(d <= max_distance_m, d, 1e9))
    ok = d[r, c] <= max_distance_m
    return r[ok].astype(np.int64), c[ok].astype(np.int64), d[r[ok], c[ok]]


@dataclass
class TrackScores:
    """Accumulated tracking scores (see the module doc)."""

    max_distance_m: float = 1.0
    errors_m: list[float] = field(default_factory=list)
    frames: int = 0
    gt_objects: int = 0
    misses: int = 0
    false_tracks: int = 0
    id_switches: int = 0
    count_exact: int = 0
    count_abs_error: int = 0
    first_t_s: float | None = None
    last_t_s: float | None = None
    _last_track: dict[int, int] = field(default_factory=dict)

    def add(self, t_s: float, est_xy: np.ndarray, track_ids: np.ndarray, gt_xy: np.ndarray, gt_ids: np.ndarray) -> None:
        e = np.asarray(est_xy, dtype=np.float64).reshape(-1, 2)
        g = np.asarray(gt_xy, dtype=np.float64).reshape(-1, 2)
        tid = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        gid = np.asarray(gt_ids, dtype=np.int64).reshape(-1)
        # CLEAR-MOT: a person keeps last frame's track while it is still within the gate ...
        kept_r: list[int] = []
        kept_g: list[int] = []
        where = {int(t): i for i, t in enumerate(tid)}
        for c in range(len(g)):
            r = where.get(self._last_track.get(int(gid[c]), -1), -1)
            if r >= 0 and r not in kept_r and float(np.hypot(*(e[r] - g[c]))) <= self.max_distance_m:
                kept_r.append(r)
                kept_g.append(c)
        # ... and the others are paired by the Hungarian algorithm
        free_e = np.setdiff1d(np.arange(len(e)), kept_r)
        free_g = np.setdiff1d(np.arange(len(g)), kept_g)
        ri, gi, _ = pair_positions(e[free_e], g[free_g], self.max_distance_m)
        ri = np.concatenate([np.asarray(kept_r, np.int64), free_e[ri]])
        gi = np.concatenate([np.asarray(kept_g, np.int64), free_g[gi]])
        dist = np.hypot(*(e[ri] - g[gi]).T) if len(ri) else np.zeros(0)
        self.errors_m.extend(float(x) for x in dist)
        for r, c in zip(ri, gi, strict=True):
            person = int(gid[c])
            track = int(tid[r])
            if person in self._last_track and self._last_track[person] != track:
                self.id_switches += 1
            self._last_track[person] = track
        self.frames += 1
        self.gt_objects += len(g)
        self.misses += len(g) - len(gi)
        self.false_tracks += len(e) - len(ri)
        self.count_exact += int(len(e) == len(g))
        self.count_abs_error += abs(len(e) - len(g))
        self.first_t_s = t_s if self.first_t_s is None else min(self.first_t_s, t_s)
        self.last_t_s = t_s if self.last_t_s is None else max(self.last_t_s, t_s)

    @property
    def duration_s(self) -> float:
        if self.first_t_s is None or self.last_t_s is None or self.frames < 2:
            return 0.0
        return (self.last_t_s - self.first_t_s) * self.frames / (self.frames - 1)

    def summary(self) -> dict[str, Any]:
        err = np.asarray(self.errors_m)
        minutes = self.duration_s / 60.0
        return {
            "loc_median_m": round(float(np.median(err)), 4) if err.size else None,
            "loc_p90_m": round(float(np.percentile(err, 90)), 4) if err.size else None,
            "loc_mean_m": round(float(err.mean()), 4) if err.size else None,
            "matched": int(err.size),
            "misses": self.misses,
            "false_tracks": self.false_tracks,
            "id_switches": self.id_switches,
            "id_switches_per_min": round(self.id_switches / minutes, 3) if minutes > 0 else None,
            "count_accuracy": round(self.count_exact / self.frames, 4) if self.frames else None,
            "count_mae": round(self.count_abs_error / self.frames, 4) if self.frames else None,
            "mota": round(1.0 - (self.misses + self.false_tracks + self.id_switches) / self.gt_objects, 4)
            if self.gt_objects
            else None,
            "frames": self.frames,
            "duration_s": round(self.duration_s, 3),
        }
