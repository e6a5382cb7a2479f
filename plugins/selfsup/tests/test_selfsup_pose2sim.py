"""Pose2Sim's real demo (4 real cameras, OpenPose BODY_25B, 100 frames) as a training recording:
the data path the benchmark's real figure rests on, and a tiny model trained on it for a few steps."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from sensorfusion_selfsup._evaluate import baseline_estimates
from sensorfusion_selfsup._infer import fuse_recording
from sensorfusion_selfsup._loading import load_openpose
from sensorfusion_selfsup._train import TrainSettings, train
from sensorfusion_selfsup._writers import POSE2SIM_BODY25B_MARKERS

from sensorfusion import load_calibration

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"))
P2S = DATA / "pose2sim-demo-single"
TRC = P2S / "trial" / "pose-3d" / "S00_P00_T01_BalancingTrial_0-100.trc"

pytestmark = pytest.mark.needs_data


def _trc_world() -> np.ndarray:
    lines = TRC.read_text().splitlines()
    data = np.asarray([[float(x) if x else np.nan for x in ln.split("\t")] for ln in lines[5:] if ln.strip()])
    xyz = data[:, 2:].reshape(len(data), -1, 3)
    return xyz[..., [2, 0, 1]]  # Pose2Sim writes world (x, y, z) as TRC (Y, Z, X)


def test_the_real_demo_trains_and_fuses() -> None:
    if not TRC.is_file():
        pytest.skip(f"reference data missing: {P2S}")
    cal = load_calibration(P2S / "calibration" / "Calib_qualisys.toml")
    folders = {f"cam0{i}": P2S / "trial" / "pose-associated" / f"cam0{i}_json" for i in range(1, 5)}
    rec = load_openpose(folders, cal, skeleton="body_25b", fps=60.0, identities=True, name="pose2sim-demo")
    assert rec.num_views == 4 and len(rec.t_ns) == 100 and rec.skeleton.name == "body_25b"
    assert len(rec.tracks) == 1 and rec.tracks[0].num_frames >= 95
    tr = rec.tracks[0]
    idx = [list(rec.skeleton.joints).index(j) for _, j in POSE2SIM_BODY25B_MARKERS]
    world = _trc_world()[tr.start : tr.start + tr.num_frames]

    def agreement_mm(joints: np.ndarray) -> float:
        return float(np.nanmean(np.linalg.norm(joints[:, idx] - world, axis=-1)) * 1000)

    # the SDK's robust triangulation of the same 2D agrees with Pose2Sim's own result (~25 mm: it
    # weighs and rejects views differently); a wrong axis order or calibration would be metres off
    assert agreement_mm(baseline_estimates(rec, robust=True)[0]) < 40.0
    torch.set_num_threads(1)
    s = TrainSettings(epochs=5, batch_chunks=4, chunk_frames=16, min_steps_per_epoch=6, seed=2, lr=3e-3)
    res = train([rec], s)
    assert res.steps == 30 and res.history[-1]["total"] < 0.85 * res.history[0]["total"], res.history
    est = fuse_recording(res.checkpoint, rec, tier="numpy")
    assert len(est) == 1 and est[0].joints.shape == (tr.num_frames, 25, 3)
    assert np.isfinite(est[0].joints).all()
    # a few steps already fuse close to Pose2Sim's result (~28 mm here; the benchmark's 8 epochs: ~23 mm)
    assert agreement_mm(est[0].joints) < 60.0
