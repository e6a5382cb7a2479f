"""``selfsup eval`` (and the benchmark): a model and the SDK's baselines, scored on the same tracks.

Only here (and in :mod:`._evaluate`) is 3D ground truth read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._checkpoint import Checkpoint
from ._evaluate import (
    ScoredTrack,
    baseline_estimates,
    best_filtered,
    corrupted_views,
    match_tracks,
    moving_average,
    read_ground_truth,
    score,
)
from ._infer import fuse_recording
from ._recording import Recording

__all__ = ["RecordingEval", "evaluate_recording", "merge_scores"]


@dataclass
class RecordingEval:
    """Per matched track: the ground truth (:class:`ScoredTrack`) and each method's estimate."""

    name: str
    rate_hz: float
    parents: tuple[int, ...]
    tracks: list[ScoredTrack] = field(default_factory=list)
    estimates: dict[str, list[np.ndarray]] = field(default_factory=dict)
    unmatched_tracks: int = 0


def evaluate_recording(
    checkpoint: Checkpoint | None,
    rec: Recording,
    session: str | Path,
    *,
    ground_truth: str | None = None,
    hard_px: float = 15.0,
    causal: bool = False,
    tier: str = "auto",
    device: str = "cpu",
    selfsup: list[np.ndarray] | None = None,
) -> RecordingEval:
    """Estimates of every method on ``rec``'s tracks that match a ground-truth person.

    ``selfsup`` may pass the model's per-track estimates (already computed); otherwise the
    checkpoint is run.
    """
    gt = read_ground_truth(session, rec, stream=ground_truth)
    dlt = baseline_estimates(rec, robust=False, tier=tier)
    rob = baseline_estimates(rec, robust=True, tier=tier)
    if selfsup is None:
        assert checkpoint is not None
        selfsup = [e.joints for e in fuse_recording(checkpoint, rec, tier=tier, causal=causal, device=device)]
    # match with the method that covers everything (the model), falling back to the DLT
    probe = [(tr.start, np.where(np.isfinite(s), s, d)) for tr, s, d in zip(rec.tracks, selfsup, dlt, strict=True)]
    match = match_tracks(probe, gt)
    out = RecordingEval(rec.name, rec.rate_hz, tuple(rec.skeleton.parents))
    for k, pid in enumerate(match):
        if pid is None:
            out.unmatched_tracks += 1
            continue
        tr = rec.tracks[k]
        G = gt[pid][tr.start : tr.start + tr.num_frames]
        out.tracks.append(ScoredTrack(tr.start, G, corrupted_views(tr.keypoints, G, rec, hard_px=hard_px)))
        for name, est in (("weighted DLT", dlt), ("robust", rob), ("selfsup", selfsup)):
            out.estimates.setdefault(name, []).append(est[k])
    return out


def merge_scores(results: list[RecordingEval], *, causal: bool = False) -> dict[str, Any]:
    """Scores over every recording: the methods, the best filter (chosen on all of them; among the
    online filters when ``causal``) and the common-support comparison of the model with robust +
    best filter."""
    tracks = [t for r in results for t in r.tracks]
    est = {
        name: [e for r in results for e in r.estimates.get(name, [])] for name in ("weighted DLT", "robust", "selfsup")
    }
    rate = results[0].rate_hz if results else 30.0
    parents = results[0].parents if results else ()
    methods = [score(n, est[n], tracks) for n in ("weighted DLT", "robust")]
    best, filtered, _grid = best_filtered(est["robust"], tracks, rate, parents, causal_only=causal)
    methods.append(score(f"robust + {best}", filtered, tracks))
    if not causal:  # a centred moving average sees the future
        ma = {n: score(f"robust + moving average {n}", moving_average(est["robust"], n), tracks) for n in (3, 5, 7, 9)}
        methods.append(min(ma.values(), key=lambda m: m.mpjpe_mm))
    ss = score("selfsup", est["selfsup"], tracks)
    methods.append(ss)
    support = [np.isfinite(a).all(-1) & np.isfinite(b).all(-1) for a, b in zip(est["selfsup"], filtered, strict=True)]
    a = score("selfsup", est["selfsup"], tracks, support=support)
    b = score("baseline", filtered, tracks, support=support)
    return {
        "methods": [m.__dict__ for m in methods],
        "common": {
            "baseline": f"robust + {best}",
            "selfsup_mm": a.mpjpe_mm,
            "baseline_mm": b.mpjpe_mm,
            "ratio": a.mpjpe_mm / b.mpjpe_mm if b.mpjpe_mm else float("nan"),
            "selfsup_hard_mm": a.hard_mpjpe_mm,
            "baseline_hard_mm": b.hard_mpjpe_mm,
            "ratio_hard": a.hard_mpjpe_mm / b.hard_mpjpe_mm if b.hard_mpjpe_mm else float("nan"),
            "joints": a.detail["joints"],
            "hard_joints": a.detail["hard_joints"],
        },
        "sessions": [r.name for r in results],
        "unmatched_tracks": sum(r.unmatched_tracks for r in results),
    }
