"""Filters, gap filling, bone lengths and the tracker."""

from __future__ import annotations

import numpy as np

from sensorfusion.fusion._associate import associate_views
from sensorfusion.fusion._filters import (
    BoneLengthConstraint,
    ConstantVelocityKalman,
    OneEuroFilter,
    butterworth_zero_phase,
    fill_gaps,
)
from sensorfusion.fusion._tracking import Tracker

RATE = 60.0


def noisy_track(T: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(T) / RATE
    truth = np.stack([0.5 * np.sin(2 * np.pi * 0.5 * t), 0.3 * t, 1.0 + 0.1 * np.cos(2 * np.pi * 1.0 * t)], -1)
    noisy = truth + np.random.default_rng(seed).normal(0, 0.01, truth.shape)
    return t, truth, noisy


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.nanmean(np.sum((a - b) ** 2, -1))))


def test_one_euro_and_kalman_reduce_noise_and_handle_gaps() -> None:
    t, truth, noisy = noisy_track()
    noisy[100:104] = np.nan
    oe, kf = (
        OneEuroFilter(min_cutoff_hz=1.0, beta=20.0, d_cutoff_hz=3.0),
        ConstantVelocityKalman(process_noise=2.0, measurement_noise_m=0.01),
    )
    out_oe = np.stack([oe(ti, x) for ti, x in zip(t, noisy, strict=True)])
    res = [kf(ti, x) for ti, x in zip(t, noisy, strict=True)]
    out_kf = np.stack([r[0] for r in res])
    predicted = np.stack([r[1] for r in res])
    assert np.isnan(out_oe[100:104]).all() and np.isfinite(out_oe[104:]).all()
    assert predicted[100:104].all() and not predicted[:100].any()
    assert np.isfinite(out_kf).all()  # gaps under max_predict_s are filled by prediction
    skip = slice(20, None)
    assert rms(out_oe[skip], truth[skip]) < 0.9 * rms(noisy[skip], truth[skip])  # it trades smoothing for lag
    assert rms(out_kf[skip], truth[skip]) < 0.75 * rms(noisy[skip], truth[skip])
    # standing still, One-Euro smooths hard
    still = np.random.default_rng(4).normal(0, 0.01, (200, 3))
    oe2 = OneEuroFilter(min_cutoff_hz=1.0, beta=20.0)
    out_still = np.stack([oe2(i / RATE, x) for i, x in enumerate(still)])
    assert rms(out_still[20:], 0 * still[20:]) < 0.5 * rms(still[20:], 0 * still[20:])
    # a long gap ends the prediction, the next sample restarts the element
    kf2 = ConstantVelocityKalman(max_predict_s=0.05)
    kf2(0.0, np.zeros(3))
    y, p = kf2(0.2, np.full(3, np.nan))
    assert np.isnan(y).all() and not p.any()
    y, _ = kf2(0.3, np.ones(3))
    np.testing.assert_allclose(y, 1.0)


def test_butterworth_is_zero_phase_and_keeps_nan() -> None:
    _, truth, noisy = noisy_track(600)
    noisy[300:310] = np.nan
    out = butterworth_zero_phase(noisy, RATE, cutoff_hz=6.0)
    assert np.isnan(out[300:310]).all()
    assert rms(out, truth) < 0.6 * rms(noisy, truth)
    # zero phase: no lag on a clean sine
    clean = butterworth_zero_phase(truth, RATE, cutoff_hz=6.0)
    assert np.abs(clean[60:-60] - truth[60:-60]).max() < 2e-3


def test_fill_gaps_only_short_interior_gaps() -> None:
    x = np.arange(20, dtype=float)[:, None].repeat(3, 1)
    x[3:5] = np.nan  # 2 frames: filled
    x[8:14] = np.nan  # 6 frames: too long
    x[:1] = np.nan  # leading: never
    y = fill_gaps(x, max_gap=3)
    np.testing.assert_allclose(y[3:5, 0], [3, 4])
    assert np.isnan(y[8:14]).all() and np.isnan(y[0]).all()


def test_bone_lengths_become_rigid() -> None:
    parents = [-1, 0, 1]
    rng = np.random.default_rng(2)
    bones = BoneLengthConstraint(parents, warmup=25)
    for _ in range(30):
        X = np.array([[0, 0, 1.0], [0, 0, 1.5], [0, 0.3, 1.5]]) + rng.normal(0, 0.01, (3, 3))
        Y = bones(X)
    np.testing.assert_allclose(bones.lengths_m[1:], [0.5, 0.3], atol=0.015)
    np.testing.assert_allclose(np.linalg.norm(Y[1] - Y[0]), bones.lengths_m[1])
    np.testing.assert_allclose(np.linalg.norm(Y[2] - Y[1]), bones.lengths_m[2])


def skeleton(center: tuple[float, float]) -> np.ndarray:
    return np.array([[center[0], center[1], z] for z in np.linspace(0.1, 1.7, 6)])


def test_tracker_keeps_ids_through_crossing_and_reidentifies_after_occlusion() -> None:
    tr = Tracker(birth_hits=2, max_missing_s=0.5)
    ids_a, ids_b = [], []
    for f in range(60):
        t = f / 30.0
        a = skeleton((-1.0 + 2.0 * f / 59, 0.25))
        b = skeleton((1.0 - 2.0 * f / 59, -0.25))
        hyps = [a, b] if not 20 <= f < 28 else [b]  # a is occluded for 8 frames
        order = [1, 0] if f % 2 else [0, 1]
        hyps = [hyps[i] for i in order if i < len(hyps)]
        pairs = dict(tr.update(t, np.stack(hyps)))
        for k, tid in pairs.items():
            (ids_a if hyps[k] is a else ids_b).append(tid)
    assert len(set(ids_a)) == 1 and len(set(ids_b)) == 1 and ids_a[0] != ids_b[0]
    assert tr.births == 2 and tr.reidentified >= 1
    # both leave; someone appears where neither was predicted while both tracks are still live: a
    # new id is born; the two tracks are lost after max_missing_s and die once the
    # re-identification window (reid_window_s) has passed without anyone re-claiming them
    for f in range(60, 120):
        tr.update(f / 30.0, np.stack([skeleton((1.0, -0.25))]))
    assert tr.births == 3 and len(tr.lost) == 2 and tr.deaths == 0
    for f in range(120, 420):
        tr.update(f / 30.0, np.stack([skeleton((1.0, -0.25))]))
    assert tr.deaths == 2 and tr.births == 3 and not tr.lost


def test_association_handles_unequal_counts_partial_skeletons_and_empty_views() -> None:
    from sensorfusion.geometry import look_at

    K = np.array([[800.0, 0, 320], [0, 800, 240], [0, 0, 1]])
    P = np.stack(
        [
            K @ np.linalg.inv(look_at(np.array([4 * np.cos(a), 4 * np.sin(a), 2.0]), np.array([0, 0, 1.0])).matrix)[:3]
            for a in np.linspace(0, 2 * np.pi, 5, endpoint=False)
        ]
    )
    people = np.stack([skeleton((0.0, 0.0)), skeleton((0.35, 0.0)), skeleton((-1.0, 0.8))])  # two close together
    q = np.einsum("vij,pkj->vpki", P, np.concatenate([people, np.ones((*people.shape[:-1], 1))], -1))
    uv = q[..., :2] / q[..., 2:]  # (V, 3, 6, 2)
    dets = []
    for v in range(5):
        d = np.concatenate([uv[v], np.full((3, 6, 1), 0.9)], -1)
        if v == 1:
            d = d[[0, 1]]  # third person not seen
        if v == 2:
            d[0, 3:, 2] = 0.0  # partial skeleton
        if v == 4:
            d = np.zeros((0, 6, 3))  # nobody
        dets.append(d[::-1].copy())
    a = associate_views(dets, P)
    assert len(a.groups) == 3
    for row in a.groups:
        truth = set()
        for v, i in enumerate(row):
            if i >= 0:
                truth.add(len(dets[v]) - 1 - i)  # undo the reversal
        assert len(truth) == 1
    assert associate_views([np.zeros((0, 6, 3))] * 3, P[:3]).groups.shape == (0, 3)
