"""Scoring against 3D ground truth — used by ``sensorfusion selfsup eval`` and the benchmark only.

Training never imports this module (a test checks it). Ground truth is a ``SKELETON3D`` source
stream of the session (default: the only one, e.g. the simulator's ``gt/skeleton3d``), mapped
onto the recording's skeleton by joint names. Estimated tracks are matched one-to-one to
ground-truth people (Hungarian on the median joint distance over shared frames, at most
0.5 m).

Metrics per method: MPJPE (mm) over every (frame, joint) where both the estimate and the
ground truth exist, the coverage (share of ground-truth joints that got an estimate), and the
same on **hard joints**: joints whose observation is *corrupted* in at least two views —
missing (not detected, confidence ≤ ``min_confidence``) or farther than ``hard_px`` from the
ground truth's projection.

Baselines, computed on the same 2D and tracks: (a) the confidence-weighted DLT, (b) the SDK's
robust triangulation (outlier views rejected, 2 Gauss–Newton steps), (c) (b) followed by the
best of the SDK's temporal filters (``sensorfusion.fusion``: gap filling, zero-phase Butterworth,
One-Euro, Kalman, bone-length constraint; every setting of a small grid is tried and the one
with the lowest MPJPE *on the evaluated data itself* is kept — an oracle choice that flatters
the baseline), and a centred moving average over (b) (the peer that won on hard joints in an
earlier experiment).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from sensorfusion import ConfigError, FrameKind
from sensorfusion.fusion import (
    BoneLengthConstraint,
    ConstantVelocityKalman,
    OneEuroFilter,
    butterworth_zero_phase,
    fill_gaps,
    triangulate_points,
)
from sensorfusion.geometry import world_to_pixels
from sensorfusion.store import Session

from ._recording import Recording, skeleton_by_name
from ._views import view_geometries

__all__ = [
    "MethodScore",
    "ScoredTrack",
    "baseline_estimates",
    "best_filtered",
    "corrupted_views",
    "match_tracks",
    "read_ground_truth",
    "score",
]


def read_ground_truth(path: str | Path, recording: Recording, *, stream: str | None = None) -> dict[int, np.ndarray]:
    """``{person_id: (T, J, 3)}`` on the recording's frame times and skeleton (NaN where absent)."""
    s = Session.open(path)
    cands = {k: i for k, i in s.streams().items() if i.spec.kind == FrameKind.SKELETON3D}
    if stream is not None:
        if stream not in cands:
            raise ConfigError("no such 3D ground-truth stream", field_path="--ground-truth", value=stream,
                              choices=sorted(cands))  # fmt: skip
        name = stream
    elif len(cands) == 1:
        name = next(iter(cands))
    else:
        raise ConfigError(
            f"{path}: {'no' if not cands else 'several'} 3D ground-truth (skeleton3d) source streams; "
            "eval needs one (choose with --ground-truth)",
            field_path="--ground-truth",
            value=str(path),
            choices=sorted(cands),
        )
    spec = cands[name].spec
    gt_skel = skeleton_by_name(str(spec.skeleton or recording.skeleton.name))
    if gt_skel.name == recording.skeleton.name:
        mapping = np.eye(recording.skeleton.num_joints)
    else:
        from sensorfusion.plugins import get_plugin_host

        mapping = get_plugin_host().skeletons.mapping(gt_skel.name, recording.skeleton.name)
    index = {int(t): k for k, t in enumerate(recording.t_ns)}
    period = np.median(np.diff(recording.t_ns)) if len(recording.t_ns) > 1 else 1.0
    out: dict[int, np.ndarray] = {}
    J = recording.skeleton.num_joints
    for f in s.read(name):
        k = index.get(int(f.t_sensor_ns))
        if k is None:
            near = int(np.argmin(np.abs(recording.t_ns - f.t_sensor_ns))) if len(recording.t_ns) else -1
            if near < 0 or abs(int(recording.t_ns[near]) - f.t_sensor_ns) > period / 3:
                continue
            k = near
        for x, pid in zip(f["joints"], f["person_id"], strict=True):
            arr = out.setdefault(int(pid), np.full((len(recording.t_ns), J, 3), np.nan))
            with np.errstate(invalid="ignore"):
                arr[k] = mapping @ np.asarray(x, dtype=np.float64)
    return out


def match_tracks(
    tracks: Sequence[tuple[int, np.ndarray]], gt: dict[int, np.ndarray], *, max_m: float = 0.5
) -> list[int | None]:
    """For tracks ``(start, X (T, J, 3))``, the ground-truth person each one is (or None)."""
    ids = sorted(gt)
    cost = np.full((len(tracks), len(ids)), np.inf)
    for a, (start, X) in enumerate(tracks):
        for b, pid in enumerate(ids):
            G = gt[pid][start : start + len(X)]
            d = np.linalg.norm(X[: len(G)] - G, axis=-1)
            d = d[np.isfinite(d)]
            if d.size:
                cost[a, b] = float(np.median(d))
    out: list[int | None] = [None] * len(tracks)
    if cost.size:
        rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e9))
        for r, c in zip(rows, cols, strict=True):
            if cost[r, c] <= max_m:
                out[r] = ids[c]
    return out


def corrupted_views(
    keypoints: np.ndarray, gt: np.ndarray, recording: Recording, *, hard_px: float = 15.0, min_confidence: float = 0.3
) -> np.ndarray:
    """``(T, J)`` number of views whose observation of the joint is missing or off by > ``hard_px``."""
    T, _V, J, _ = keypoints.shape
    bad = np.zeros((T, J), dtype=np.int64)
    for v, sensor in enumerate(recording.views):
        cal = recording.calibration.sensors[sensor]
        assert cal.camera is not None
        proj = world_to_pixels(cal.camera, cal.world_from_sensor, gt.reshape(1, -1, 3), tier="numpy").reshape(T, J, 2)
        err = np.linalg.norm(keypoints[:, v, :, :2] - proj, axis=-1)
        conf = np.nan_to_num(keypoints[:, v, :, 2])
        bad += ~(err <= hard_px) | ~(conf > min_confidence)
    return bad


def baseline_estimates(recording: Recording, *, robust: bool, tier: str = "auto") -> list[np.ndarray]:
    """Per track ``(T, J, 3)``: the weighted DLT (``robust=False``) or the SDK's robust triangulation."""
    geoms = view_geometries(recording.calibration, recording.views)
    P = np.stack([g.P for g in geoms])
    out = []
    for tr in recording.tracks:
        kp = tr.keypoints
        und = np.stack([g.undistort(kp[:, v, :, :2]) for v, g in enumerate(geoms)])
        conf = np.moveaxis(np.nan_to_num(kp[..., 2]), 1, 0)
        r = triangulate_points(und, conf, P, min_confidence=0.3, robust=robust, threshold_px=15.0,
                               refine_iters=2 if robust else 0, tier=tier)  # fmt: skip
        out.append(r.points3d)
    return out


def _moving_average(X: np.ndarray, n: int) -> np.ndarray:
    k = np.ones(n) / n
    ok = np.isfinite(X)
    num = np.apply_along_axis(lambda c: np.convolve(c, k, "same"), 0, np.where(ok, X, 0.0))
    den = np.apply_along_axis(lambda c: np.convolve(c, k, "same"), 0, ok.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok & (den > 0), num / den, np.nan)


def _butter(X: np.ndarray, *, gap: int, rate_hz: float, cutoff_hz: float) -> np.ndarray:
    return butterworth_zero_phase(fill_gaps(X, gap) if gap else X, rate_hz, cutoff_hz)


def _online(X: np.ndarray, *, rate_hz: float, make: Callable[[], object]) -> np.ndarray:
    f = make()
    out = np.full(X.shape, np.nan)
    for t in range(len(X)):
        y = f(t / rate_hz, X[t])  # type: ignore[operator]
        out[t] = y[0] if isinstance(y, tuple) else y
    return out


def filter_grid(rate_hz: float, parents: Sequence[int]) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Named temporal filters of ``sensorfusion.fusion`` over ``(T, J, 3)`` tracks (a small grid)."""
    grid: dict[str, Callable[[np.ndarray], np.ndarray]] = {"none": lambda X: X}
    for gap in (0, 5, 15):
        for cut in (2.0, 3.0, 4.0, 6.0, 8.0):
            grid[f"gaps{gap}+butterworth{cut:g}Hz"] = partial(_butter, gap=gap, rate_hz=rate_hz, cutoff_hz=cut)
    for mc in (0.5, 1.0, 2.0):
        for beta in (0.5, 5.0, 20.0):
            grid[f"one_euro(min_cutoff={mc:g},beta={beta:g})"] = partial(
                _online, rate_hz=rate_hz, make=partial(OneEuroFilter, mc, beta)
            )
    for q in (1.0, 5.0, 20.0):
        for r in (0.01, 0.02, 0.04):
            grid[f"kalman(q={q:g},r={r:g})"] = partial(
                _online, rate_hz=rate_hz, make=partial(ConstantVelocityKalman, q, r)
            )
    grid["gaps5+butterworth3Hz+bones"] = lambda X: np.stack(
        [c for c in _bones_all(butterworth_zero_phase(fill_gaps(X, 5), rate_hz, 3.0), parents)]
    )
    return grid


def _bones_all(X: np.ndarray, parents: Sequence[int]) -> list[np.ndarray]:
    bl = BoneLengthConstraint(parents)
    return [bl(x) for x in X]


@dataclass
class MethodScore:
    name: str
    mpjpe_mm: float
    coverage: float
    hard_mpjpe_mm: float
    hard_coverage: float
    detail: dict[str, float] = field(default_factory=dict)


@dataclass
class ScoredTrack:
    """A track with its ground truth and its corrupted-view counts (the inputs of :func:`score`)."""

    start: int
    gt: np.ndarray  # (T, J, 3)
    corrupted: np.ndarray  # (T, J)


def score(
    name: str,
    estimates: Sequence[np.ndarray],
    tracks: Sequence[ScoredTrack],
    *,
    support: Sequence[np.ndarray] | None = None,
) -> MethodScore:
    """MPJPE of ``estimates[k] (T, J, 3)`` against ``tracks[k]`` (optionally only where ``support[k]``)."""
    errs, hard_errs, n_gt, n_hard, n_e, n_he = [], [], 0, 0, 0, 0
    for k, (X, tr) in enumerate(zip(estimates, tracks, strict=True)):
        gt_ok = np.isfinite(tr.gt).all(-1)
        e = np.linalg.norm(X - tr.gt, axis=-1)
        ok = np.isfinite(e) & gt_ok
        if support is not None:
            ok &= support[k]
            gt_ok = gt_ok & support[k]
        hard = (tr.corrupted >= 2) & gt_ok
        errs.append(e[ok])
        hard_errs.append(e[ok & hard])
        n_gt += int(gt_ok.sum())
        n_hard += int(hard.sum())
        n_e += int(ok.sum())
        n_he += int((ok & hard).sum())
    all_e = np.concatenate(errs) if errs else np.zeros(0)
    all_h = np.concatenate(hard_errs) if hard_errs else np.zeros(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return MethodScore(
            name=name,
            mpjpe_mm=float(np.mean(all_e) * 1000) if all_e.size else float("nan"),
            coverage=n_e / max(n_gt, 1),
            hard_mpjpe_mm=float(np.mean(all_h) * 1000) if all_h.size else float("nan"),
            hard_coverage=n_he / max(n_hard, 1),
            detail={"joints": float(n_gt), "hard_joints": float(n_hard)},
        )


def best_filtered(
    robust: Sequence[np.ndarray], tracks: Sequence[ScoredTrack], rate_hz: float, parents: Sequence[int]
) -> tuple[str, list[np.ndarray], dict[str, MethodScore]]:
    """The filter of :func:`filter_grid` with the lowest overall MPJPE over ``robust`` (ties: coverage)."""
    results: dict[str, MethodScore] = {}
    outputs: dict[str, list[np.ndarray]] = {}
    for name, fn in filter_grid(rate_hz, parents).items():
        est = [fn(X) for X in robust]
        outputs[name] = est
        results[name] = score(name, est, tracks)
    best = min(results, key=lambda n: (results[n].mpjpe_mm, -results[n].coverage))
    return best, outputs[best], results


def moving_average(robust: Sequence[np.ndarray], n: int, max_gap: int = 15) -> list[np.ndarray]:
    return [_moving_average(fill_gaps(X, max_gap), n) for X in robust]
