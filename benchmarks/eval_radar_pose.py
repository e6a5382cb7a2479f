"""radar.pose accuracy: the MARS recording and simulated radar with cross-modal labels.

    python benchmarks/eval_radar_pose.py [--epochs 150] [--sim-seconds 120] [--skip-mars] [--skip-sim] [--skip-cnn]

* **MARS** (``../shared/data/radar/mars-subject1``, or ``SENSORFUSION_TEST_DATA``): the
  default training of ``python -m sensorfusion_radar.train --mars`` (block split: every 5th
  block of 50 frames is the test set), its test MPJPE, the trivial baseline (the mean
  training pose at its mean position), and a MARS-style CNN on the same split (the MARS
  paper's design: per frame up to 64 points sorted by height, zero padded, as an 8×8×5 map of
  raw x, y, z, Doppler, intensity; two 3×3 convolutions, dropout, a 512-unit dense layer with
  batch norm, 75 outputs; Adam, MSE; our re-implementation, trained here on the same frames).
* **Simulated radar**: a recording of the simulated room (3 people, 4 cameras at 320×240,
  10 fps, ``sim.rig``'s on-chip radar point clouds; the cameras' simulated detections
  triangulated into ``fusion/skeleton3d``), then ``pairs_from_session`` with the cameras'
  skeletons as labels (cross-modal supervision), the same block split and training, and the
  test MPJPE against those labels and against the simulator's ground truth
  (``gt/skeleton3d``, same frame, nearest person); with the baseline of the mean training
  pose placed at each sample's point centroid, and the labels' own error.

Accuracy, not speed: a table, then one JSON line (``mpjpe_*_cm`` keys). One torch thread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SIM_RIG = """
name: radar-pose-sim
seed: 11
duration_s: 120
sensors:
  - id: sim
    driver: sim.rig
    params: {cameras: 4, people: 3, width: 320, height: 240, fps: 10, radars: 1, radar_adc: false, radar_points: true}
sync:
  streams: ["cam*/*", "gt/*", "radar0/*"]
  reference: cam0/image
  tolerance_ms: 5
stages:
  - {id: detector, estimator: sim.keypoints2d, inputs: ["cam*/image", "gt/skeleton3d"]}
  - {id: fusion, estimator: triangulate.dlt, inputs: ["cam*/keypoints2d"], params: {min_confidence: 0.3}}
record: {compression: zstd, level: 1}
"""


def _mean_pose_at_mean_position(train: Any, test: Any) -> float:
    from sensorfusion_radar._pose import mpjpe_m

    mean = np.nanmean(train.joints, axis=0)
    return mpjpe_m(np.broadcast_to(mean, test.joints.shape), test.joints)


def _mean_pose_at_centroid(train: Any, test: Any, truth: np.ndarray) -> float:
    from sensorfusion_radar._pose import mpjpe_m

    off = np.nanmean([j - np.median(p[:, :3], axis=0) for p, j in zip(train.points, train.joints, strict=True)], axis=0)
    return mpjpe_m(np.stack([np.median(p[:, :3], axis=0) + off for p in test.points]), truth)


def _mars_maps(pairs: Any) -> np.ndarray:
    """The MARS paper's input: up to 64 points sorted by height, zero padded, as (5, 8, 8)."""
    out = np.zeros((len(pairs), 64, 5), np.float32)
    for i, p in enumerate(pairs.points):
        p = p[np.argsort(p[:, 2], kind="stable")][:64]
        out[i, : len(p)] = p
    return np.ascontiguousarray(out.reshape(-1, 8, 8, 5).transpose(0, 3, 1, 2))


def mars_cnn(train: Any, test: Any, epochs: int, seed: int = 0) -> float:
    """Test MPJPE (m) of a MARS-style CNN trained on ``train`` (see the module docstring)."""
    import torch
    from sensorfusion_radar._pose import mpjpe_m

    torch.manual_seed(seed)
    xa, xb = _mars_maps(train), _mars_maps(test)
    mean = xa.mean(axis=(0, 2, 3), keepdims=True)
    std = xa.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    xa_t = torch.from_numpy(((xa - mean) / std).astype(np.float32))
    xb_t = torch.from_numpy(((xb - mean) / std).astype(np.float32))
    ya = torch.from_numpy(np.nan_to_num(train.joints.reshape(len(train), -1)).astype(np.float32))
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(5, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(32 * 64, 512),
        nn.ReLU(),
        nn.BatchNorm1d(512),
        nn.Linear(512, ya.shape[1]),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(xa_t), generator=gen)
        for k in range(0, len(perm), 64):
            idx = perm[k : k + 64]
            if len(idx) < 2:  # batch norm needs two samples
                continue
            loss = ((net(xa_t[idx]) - ya[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        pred = net(xb_t).numpy().reshape(test.joints.shape)
    return mpjpe_m(pred, test.joints)


def mars(folder: Path, epochs: int, cnn: bool) -> dict[str, Any]:
    from sensorfusion_radar._mars import load_mars
    from sensorfusion_radar.train import train

    pairs = load_mars(folder)
    t0 = time.perf_counter()
    res, tr, te = train(pairs, epochs=epochs, progress=False)
    out = {
        "train": len(tr),
        "test": len(te),
        "frames": res.model.frames,
        "train_s": round(time.perf_counter() - t0, 1),
        "mpjpe_cm": round(100 * (res.test_mpjpe_m or float("nan")), 2),
        "baseline_mean_pose_cm": round(100 * _mean_pose_at_mean_position(tr, te), 2),
    }
    if cnn:
        t0 = time.perf_counter()
        out["cnn_mpjpe_cm"] = round(100 * mars_cnn(tr, te, epochs), 2)
        out["cnn_train_s"] = round(time.perf_counter() - t0, 1)
        # accuracy, not speed: the CNN's error over ours (> 1: ours is more accurate)
        out["error_ratio_cnn_over_ours"] = round(out["cnn_mpjpe_cm"] / out["mpjpe_cm"], 2)
    return out


def simulated(seconds: float, epochs: int, workdir: Path) -> dict[str, Any]:
    from sensorfusion_radar._pose import mpjpe_m, pairs_from_session, predict_pairs
    from sensorfusion_radar.train import train

    from sensorfusion.run import main as run_main

    rig = workdir / "radar_pose_sim.yaml"
    rig.write_text(SIM_RIG)
    session = workdir / "sim.zarr"
    t0 = time.perf_counter()
    code = run_main([str(rig), "--fast", "--duration", str(seconds), "--out", str(session), "--quiet"])
    if code != 0:
        raise RuntimeError(f"recording the simulated rig failed (exit {code})")
    record_s = time.perf_counter() - t0
    labels = pairs_from_session(session, points_stream="radar0/points", skeleton_stream="fusion:fusion/skeleton3d")
    gt = pairs_from_session(session, points_stream="radar0/points", skeleton_stream="gt/skeleton3d")
    if len(labels) < 300:
        raise SystemExit(f"only {len(labels)} labelled radar samples: record longer (--sim-seconds)")
    t0 = time.perf_counter()
    res, tr, te = train(labels, epochs=epochs, progress=False)
    train_s = time.perf_counter() - t0
    # the simulator's skeleton of each test sample: same radar frame, nearest person
    truth = np.full(te.joints.shape, np.nan)
    for i in range(len(te)):
        same = np.flatnonzero(gt.t_ns == te.t_ns[i])
        if same.size:
            d = np.linalg.norm(gt.joints[same].mean(axis=1) - np.nanmean(te.joints[i], axis=0), axis=1)
            if d.min() < 0.5:
                truth[i] = gt.joints[same[np.argmin(d)]]
    pred = predict_pairs(res.model, te)
    return {
        "seconds": seconds,
        "record_s": round(record_s, 1),
        "train_s": round(train_s, 1),
        "pairs": len(labels),
        "train": len(tr),
        "test": len(te),
        "mpjpe_vs_labels_cm": round(100 * mpjpe_m(pred, te.joints), 2),
        "mpjpe_vs_gt_cm": round(100 * mpjpe_m(pred, truth), 2),
        "labels_vs_gt_cm": round(100 * mpjpe_m(te.joints, truth), 2),
        "baseline_mean_pose_at_centroid_vs_gt_cm": round(100 * _mean_pose_at_centroid(tr, te, truth), 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--sim-seconds", type=float, default=120.0)
    ap.add_argument("--skip-mars", action="store_true")
    ap.add_argument("--skip-sim", action="store_true")
    ap.add_argument("--skip-cnn", action="store_true", help="leave out the MARS-style CNN baseline")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    data = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    result: dict[str, Any] = {}
    rows: list[tuple[str, str]] = []
    if not args.skip_mars:
        folder = data / "radar" / "mars-subject1"
        if not (folder / "radar_data_test.csv").is_file():
            print(f"MARS: {folder} not found (set SENSORFUSION_TEST_DATA); skipped")
        else:
            m = mars(folder, args.epochs, cnn=not args.skip_cnn)
            result["mars"] = m
            rows += [
                (f"MARS subject 1, {m['train']} train / {m['test']} test frames", f"{m['mpjpe_cm']:.2f} cm"),
                ("  baseline: mean training pose", f"{m['baseline_mean_pose_cm']:.2f} cm"),
            ]
            if "cnn_mpjpe_cm" in m:
                rows.append(("  MARS-style CNN (8x8x5 map), same split", f"{m['cnn_mpjpe_cm']:.2f} cm"))
    if not args.skip_sim:
        with tempfile.TemporaryDirectory(prefix="sf-radar-pose-") as tmp:
            s = simulated(args.sim_seconds, args.epochs, Path(tmp))
        result["sim"] = s
        rows += [
            (
                f"simulated radar, {s['train']} train / {s['test']} test, vs camera labels",
                f"{s['mpjpe_vs_labels_cm']:.2f} cm",
            ),
            ("  vs the simulator's ground truth", f"{s['mpjpe_vs_gt_cm']:.2f} cm"),
            ("  the camera labels themselves vs ground truth", f"{s['labels_vs_gt_cm']:.2f} cm"),
            ("  baseline: mean pose at the point centroid", f"{s['baseline_mean_pose_at_centroid_vs_gt_cm']:.2f} cm"),
        ]
    print(f"{'radar.pose (default training, ' + str(args.epochs) + ' epochs)':70s} {'MPJPE':>10s}")
    for name, v in rows:
        print(f"{name:70s} {v:>10s}")
    flat = {"epochs": args.epochs}
    for part, d in result.items():
        flat.update({f"{part}_{k}": v for k, v in d.items()})
    print(json.dumps(flat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
