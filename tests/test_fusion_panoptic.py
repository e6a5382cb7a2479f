"""Multi-person association + tracking on CMU Panoptic geometry: the 3 people of
``160906_band1`` projected into the 31 HD cameras with 2 px noise, missed joints and people,
outlier joints, left/right swaps and false detections; no identities."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from sensorfusion.fusion._cameras import view_model
from sensorfusion.fusion._pipeline import FusionSettings, PersonFusion
from sensorfusion.geometry import transform_points, world_to_pixels

ROOT = Path(__file__).resolve().parent.parent
DATA = (
    Path(os.environ.get("SENSORFUSION_TEST_DATA", ROOT.parent / "shared" / "data"))
    / "multiview"
    / "panoptic"
    / "160906_band1"
)

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"CMU Panoptic sample not found at {DATA}")

# COCO-19 left/right pairs (Panoptic order: neck, nose, body centre, l-shoulder, l-elbow, l-wrist,
# l-hip, l-knee, l-ankle, r-shoulder, r-elbow, r-wrist, r-hip, r-knee, r-ankle, l-eye, l-ear, r-eye, r-ear)
FLIP = np.array([0, 1, 2, 9, 10, 11, 12, 13, 14, 3, 4, 5, 6, 7, 8, 17, 18, 15, 16])


def load_people() -> list[np.ndarray]:
    out = []
    for f in sorted((DATA / "hdPose3d_stage1_coco19").glob("*.json")):
        bodies = sorted(json.loads(f.read_text())["bodies"], key=lambda b: b["id"])
        frame = []
        for b in bodies:
            j = np.asarray(b["joints19"], dtype=np.float64).reshape(19, 4)
            X = j[:, :3] / 100.0  # cm -> m
            X[j[:, 3] < 0.1] = np.nan
            frame.append(X)
        out.append(np.stack(frame))
    return out


def test_association_tracking_recovers_three_people_with_stable_ids() -> None:
    cal_mod = pytest.importorskip(
        "sensorfusion_calibration.formats", reason="the calibration distribution is not installed"
    )
    cal = cal_mod.load_calibration(DATA / "calibration_160906_band1.json")
    hd = sorted(s for s in cal.sensors if s.startswith("00_"))
    assert len(hd) == 31
    cams = [cal.camera(s) for s in hd]
    poses = [cal.sensors[s].world_from_sensor for s in hd]
    a, b = load_people()
    # A 40-frame sequence between the two real frames (ping-pong interpolation): the dataset
    # ships two consecutive frames only.
    T = 40
    w = np.abs(((np.arange(T) / 10.0) % 2) - 1.0)
    seq = [(1 - x) * a + x * b for x in w]
    rng = np.random.default_rng(11)
    fusion = PersonFusion(
        [view_model(c, p) for c, p in zip(cams, poses, strict=True)],
        [-1] * 19,
        FusionSettings(multiperson=True, filter="none", threshold_px=10.0, min_joints=5),
    )
    ids_per_frame, errors = [], []
    gt_of_track: dict[int, int] = {}
    for t, X in enumerate(seq):
        dets = []
        for c, p in zip(cams, poses, strict=True):
            uv, depth = world_to_pixels(c, p, X, tier="numpy"), transform_points(p.inverse(), X)[..., 2]
            inside = (
                (uv[..., 0] >= 0) & (uv[..., 0] < c.width) & (uv[..., 1] >= 0) & (uv[..., 1] < c.height) & (depth > 0)
            )
            uv = uv + rng.normal(0, 2.0, uv.shape)
            conf = rng.uniform(0.6, 1.0, uv.shape[:-1])
            miss = ~inside | ~np.isfinite(uv).all(-1) | (rng.random(conf.shape) < 0.05)
            out = rng.random(conf.shape) < 0.01
            uv[out] += rng.uniform(40, 120, (int(out.sum()), 2))
            uv[miss] = np.nan
            conf[miss] = 0.0
            people = []
            for k in range(len(X)):
                if inside[k].mean() < 0.5 or rng.random() < 0.05:  # not detected in this view
                    continue
                d = np.concatenate([uv[k], conf[k, :, None]], -1)
                if rng.random() < 0.03:  # left/right swap of the whole body
                    d = d[FLIP]
                people.append(d)
            if people and rng.random() < 0.3:  # a false detection: a real 2D skeleton displaced
                ghost = people[0].copy()
                ghost[:, :2] += rng.uniform(150, 400, 2) * rng.choice([-1, 1], 2)
                people.append(ghost)
            order = rng.permutation(len(people))
            dets.append(np.stack([people[i] for i in order]) if people else np.zeros((0, 19, 3)))
        r = fusion.step(t / 30.0, dets)
        ids_per_frame.append(sorted(r.track_id.tolist()))
        for k, tid in enumerate(r.track_id.tolist()):
            if tid not in gt_of_track:
                d = [np.nanmean(np.linalg.norm(r.joints[k] - X[g], axis=-1)) for g in range(len(X))]
                gt_of_track[tid] = int(np.argmin(d))
            e = np.linalg.norm(r.joints[k] - X[gt_of_track[tid]], axis=-1)
            errors.append(e[np.isfinite(e)])
    # birth needs 2 frames; from then on the same three ids every frame
    assert all(len(ids) == 3 for ids in ids_per_frame[1:]), ids_per_frame
    assert all(ids == ids_per_frame[1] for ids in ids_per_frame[1:])
    assert sorted(gt_of_track.values()) == [0, 1, 2]
    mpjpe_mm = float(np.concatenate(errors).mean()) * 1e3
    print(f"panoptic MPJPE {mpjpe_mm:.2f} mm")
    assert mpjpe_mm <= 15.0, mpjpe_mm
