"""Self-supervised multi-view fusion: trained without 3D labels, scored on held-out recordings.

    python benchmarks/eval_selfsup.py                 # the default (the figures in plugins/selfsup/README.md)
    python benchmarks/eval_selfsup.py --quick         # a smoke run (small, minutes)

**Simulated rig** (``sim.rig`` + its 2D detector ``sim.keypoints2d``; the room, 4 cameras at
640×480, 30 fps, 4 people walking, turning, waving, crouching and crossing). Heavy occlusion:
the detector's occluded joints are 6× as noisy as visible ones (σ 12 px) and, at a believable
confidence (0.45), 30 % missed, 2 % of joints are outliers and 2 % of people are left/right
swapped in a view; four people in the room hide each other. Sessions are recorded through the
real pipeline (``python -m sensorfusion.run``): ``--train-sessions`` for training (2D only: the
model never reads ``gt/skeleton3d``), ``--test-sessions`` held out, other seeds. Few cameras:
views ``cam0..cam{V-1}`` of the ring for V = 2, 3, 4, one model per V.

Methods, on the same 2D and the same person tracks (oracle ids, so every method is scored on
fusion alone): (a) the confidence-weighted DLT, (b) the SDK's robust triangulation, (c) (b) +
the best of the SDK's temporal filters (gap filling, zero-phase Butterworth, One-Euro, Kalman,
bone lengths; a grid, the best chosen by MPJPE on the test data itself), a centred moving
average over (b) (3–9 frames, the best), and the model offline (both temporal directions) and
causal (past frames only, as the live ``selfsup.fusion`` stage; against the best *online*
filter). MPJPE over every (frame, joint) both estimate, and on **hard joints**: corrupted
(missing, or > 15 px off the ground truth's projection) in at least two views.

**Pose2Sim's real demo** (``../shared/data/pose2sim-demo-single``: 4 real cameras, OpenPose
BODY_25B, 100 frames at 60 fps): trained on the recording itself (``pose-associated``), scored
against Pose2Sim's own ``.trc`` (agreement, mm, 21 markers) and by bone-length CV (std/mean of
each limb over time, median over the 20 bones), beside the robust triangulation's.

Training time is wall-clock on ``--threads`` torch threads (default 2), including the
evidence (the SDK's robust triangulation, Numba CPU tier). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", ROOT.parent / "shared" / "data"))
P2S = DATA / "pose2sim-demo-single"

DETECTOR = {
    "identities": True,
    "occluded_noise_scale": 6.0,
    "occluded_confidence": 0.45,
    "occluded_miss_prob": 0.3,
    "outlier_prob": 0.02,
    "swap_prob": 0.02,
}


def _record(out: Path, *, seed: int, seconds: float, people: int) -> Path:
    from sensorfusion.run import main as run_main

    rig = {
        "name": f"selfsup-bench-{seed}",
        "seed": seed,
        "duration_s": seconds,
        "sensors": [{"id": "sim", "driver": "sim.rig",
                     "params": {"cameras": 4, "people": people, "width": 640, "height": 480, "fps": 30}}],
        "sync": {"tolerance_ms": 5, "rate_watermarks": True},
        "stages": [{"id": "detector", "estimator": "sim.keypoints2d", "inputs": ["cam*/image", "gt/skeleton3d"],
                    "params": DETECTOR}],
        "record": {"compression": "zstd", "level": 1, "streams": ["gt/*"]},
    }  # fmt: skip
    key = hashlib.sha1(json.dumps(rig, sort_keys=True).encode()).hexdigest()[:10]
    path = out / f"sim-{seed}-{key}.zarr"
    if (path / "zarr.json").exists():
        from sensorfusion.store import Session

        if Session.open(path).finished:
            return path
    out.mkdir(parents=True, exist_ok=True)
    rig_path = path.with_suffix(".yaml")
    rig_path.write_text(yaml.safe_dump(rig))
    if run_main([str(rig_path), "--fast", "--quiet", "--overwrite", "--out", str(path)]) != 0:
        raise SystemExit(f"recording {path} failed")
    return path


def _sim(args: argparse.Namespace, report: dict[str, Any], rows: list[list[str]]) -> None:
    from sensorfusion_selfsup._loading import load_session
    from sensorfusion_selfsup._scoring import evaluate_recording, merge_scores
    from sensorfusion_selfsup._train import TrainSettings, train

    work = Path(args.workdir)
    t0 = time.perf_counter()
    train_paths = [_record(work, seed=1000 + i, seconds=args.train_seconds, people=args.people)
                   for i in range(args.train_sessions)]  # fmt: skip
    test_paths = [_record(work, seed=2000 + i, seconds=args.test_seconds, people=args.people)
                  for i in range(args.test_sessions)]  # fmt: skip
    report["record_s"] = round(time.perf_counter() - t0, 1)
    train_total = 0.0
    train_cpu_total = 0.0  # CPU seconds of every thread: on a shared machine, / threads ~ the idle wall time
    for V in args.views:
        views = [f"cam{i}" for i in range(V)]
        recs = [load_session(p, views=views, identities=True) for p in train_paths]
        settings = TrainSettings(epochs=args.epochs, seed=args.seed, threads=args.threads)
        cpu0 = time.process_time()
        res = train(
            recs,
            settings,
            epoch_end=lambda e, m, V=V: print(
                f"  {V} views: epoch {e}/{args.epochs}, loss {m['total']:.4f}", file=sys.stderr, flush=True
            ),
        )
        train_total += res.seconds
        train_cpu_total += time.process_time() - cpu0
        if args.save_models:
            res.checkpoint.save(work / f"model-{V}v.pt")
        offline, causal = [], []
        for p in test_paths:
            rec = load_session(p, views=views, identities=True)
            offline.append(evaluate_recording(res.checkpoint, rec, p))
            causal.append(evaluate_recording(res.checkpoint, rec, p, causal=True))
        m = merge_scores(offline)
        mc = merge_scores(causal, causal=True)
        c, cc = m["common"], mc["common"]
        for meth in m["methods"]:
            rows.append([f"{V}", meth["name"], f"{meth['mpjpe_mm']:.1f}", f"{meth['coverage']:.3f}",
                         f"{meth['hard_mpjpe_mm']:.1f}", f"{meth['hard_coverage']:.3f}"])  # fmt: skip
        online = mc["methods"][2]
        rows.append([f"{V}", f"(live) {online['name']}", f"{online['mpjpe_mm']:.1f}", f"{online['coverage']:.3f}",
                     f"{online['hard_mpjpe_mm']:.1f}", f"{online['hard_coverage']:.3f}"])  # fmt: skip
        live = mc["methods"][-1]
        rows.append([f"{V}", "(live) selfsup causal", f"{live['mpjpe_mm']:.1f}", f"{live['coverage']:.3f}",
                     f"{live['hard_mpjpe_mm']:.1f}", f"{live['hard_coverage']:.3f}"])  # fmt: skip
        report[f"mpjpe_mm_selfsup_{V}v"] = round(c["selfsup_mm"], 2)
        report[f"mpjpe_mm_baseline_{V}v"] = round(c["baseline_mm"], 2)
        report[f"mpjpe_mm_selfsup_{V}v_hard"] = round(c["selfsup_hard_mm"], 2)
        report[f"mpjpe_mm_baseline_{V}v_hard"] = round(c["baseline_hard_mm"], 2)
        report[f"ratio_mpjpe_{V}v"] = round(c["ratio"], 3)
        report[f"ratio_mpjpe_hard_{V}v"] = round(c["ratio_hard"], 3)
        report[f"baseline_{V}v"] = c["baseline"]
        report[f"hard_joint_share_{V}v"] = round(c["hard_joints"] / max(c["joints"], 1), 3)
        report[f"mpjpe_mm_selfsup_causal_{V}v"] = round(cc["selfsup_mm"], 2)
        report[f"mpjpe_mm_online_baseline_{V}v"] = round(cc["baseline_mm"], 2)
        report[f"ratio_mpjpe_causal_{V}v"] = round(cc["ratio"], 3)
        report[f"ratio_mpjpe_hard_causal_{V}v"] = round(cc["ratio_hard"], 3)
        report[f"train_s_{V}v"] = round(res.seconds, 1)
        report[f"train_steps_{V}v"] = res.steps
        print(f"  {V} views: trained {res.steps} steps in {res.seconds:.0f} s; selfsup {c['selfsup_mm']:.1f} mm vs "
              f"{c['baseline']} {c['baseline_mm']:.1f} mm", file=sys.stderr, flush=True)  # fmt: skip
    report["train_s"] = round(train_total, 1)
    report["train_cpu_s"] = round(train_cpu_total, 1)
    _tier_speed(test_paths[0], report, rows)


def _tier_speed(session: Path, report: dict[str, Any], rows: list[list[str]]) -> None:
    """The evidence (the SDK's robust triangulation over whole tracks) through the numpy and Numba
    CPU tiers, same input, same process, after a warm-up: median of 3."""
    from sensorfusion_selfsup._features import FeatureSettings, compute_features
    from sensorfusion_selfsup._loading import load_session
    from sensorfusion_selfsup._views import view_geometries

    rec = load_session(session, views=["cam0", "cam1", "cam2", "cam3"], identities=True)
    geoms = view_geometries(rec.calibration, rec.views)
    kp = np.stack([t.keypoints for t in rec.tracks if t.num_frames == len(rec.t_ns)])
    times = {}
    for tier in ("numpy", "cpu"):
        compute_features(kp[:, :10], geoms, FeatureSettings(tier=tier))
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            compute_features(kp, geoms, FeatureSettings(tier=tier))
            runs.append(time.perf_counter() - t0)
        times[tier] = float(np.median(runs))
    n = kp.shape[0] * kp.shape[1] * kp.shape[3]
    rows.append(["4", f"evidence of {n} points: numpy tier", f"{times['numpy']:.2f} s", "", "", ""])
    rows.append(["4", f"evidence of {n} points: Numba CPU tier", f"{times['cpu']:.2f} s", "", "", ""])
    report["ratio_evidence_speed_cpu_vs_numpy"] = round(times["numpy"] / times["cpu"], 2)


def _read_trc(path: Path) -> tuple[list[str], np.ndarray]:
    lines = path.read_text().splitlines()
    names = [n for n in lines[3].split("\t")[2:] if n]
    data = np.asarray([[float(x) if x else np.nan for x in ln.split("\t")] for ln in lines[5:] if ln.strip()])
    return names, data[:, 2:].reshape(len(data), -1, 3)


def _bone_cv(X: np.ndarray, bones: list[tuple[int, int]]) -> float:
    L = np.stack([np.linalg.norm(X[:, a] - X[:, b], axis=-1) for a, b in bones], -1)
    with np.errstate(invalid="ignore"):
        return float(np.nanmedian(np.nanstd(L, 0) / np.nanmean(L, 0)))


def _pose2sim(args: argparse.Namespace, report: dict[str, Any], rows: list[list[str]]) -> None:
    from sensorfusion_selfsup._evaluate import baseline_estimates
    from sensorfusion_selfsup._infer import fuse_recording
    from sensorfusion_selfsup._loading import load_openpose
    from sensorfusion_selfsup._train import TrainSettings, train
    from sensorfusion_selfsup._writers import POSE2SIM_BODY25B_MARKERS

    from sensorfusion import load_calibration

    cal = load_calibration(P2S / "calibration" / "Calib_qualisys.toml")
    folders = {f"cam0{i}": P2S / "trial" / "pose-associated" / f"cam0{i}_json" for i in range(1, 5)}
    rec = load_openpose(folders, cal, skeleton="body_25b", fps=60.0, identities=True, name="pose2sim-demo")
    cpu0 = time.process_time()
    res = train([rec], TrainSettings(epochs=args.p2s_epochs, seed=args.seed, threads=args.threads))
    report["pose2sim_train_cpu_s"] = round(time.process_time() - cpu0, 1)
    est = fuse_recording(res.checkpoint, rec)
    rob = baseline_estimates(rec, robust=True)
    names, trc = _read_trc(P2S / "trial" / "pose-3d" / "S00_P00_T01_BalancingTrial_0-100.trc")
    _, trc_f = _read_trc(P2S / "trial" / "pose-3d" / "S00_P00_T01_BalancingTrial_0-100_filt_butterworth.trc")
    assert names == [m for m, _ in POSE2SIM_BODY25B_MARKERS]
    idx = [list(rec.skeleton.joints).index(j) for _, j in POSE2SIM_BODY25B_MARKERS]
    world = trc[..., [2, 0, 1]]  # Pose2Sim writes world (x, y, z) as TRC (Y, Z, X)
    world_f = trc_f[..., [2, 0, 1]]
    tr = rec.tracks[0]
    # bones of Pose2Sim's marker tree (the 21 markers' parents in body_25b)
    parents = rec.skeleton.parents
    bones = [(k, idx.index(parents[i])) for k, i in enumerate(idx) if parents[i] in idx]

    def dense(X: np.ndarray) -> np.ndarray:
        out = np.full((len(rec.t_ns), rec.skeleton.num_joints, 3), np.nan)
        out[tr.start : tr.start + tr.num_frames] = X
        return out[:, idx]

    for name, X in (("selfsup (trained on the demo)", dense(est[0].joints)), ("robust", dense(rob[0])),
                    ("Pose2Sim raw .trc", world), ("Pose2Sim filtered .trc", world_f)):  # fmt: skip
        e = np.linalg.norm(X - world, axis=-1) * 1000
        ef = np.linalg.norm(X - world_f, axis=-1) * 1000
        cv = _bone_cv(X, bones)
        rows.append(["p2s", name, f"{np.nanmean(e):.1f}", f"{np.isfinite(e).mean():.3f}", f"{np.nanmean(ef):.1f}",
                     f"bone CV {cv:.4f}"])  # fmt: skip
        key = name.split(" ")[0].lower()
        if key == "selfsup":
            report["pose2sim_mm_vs_trc"] = round(float(np.nanmean(e)), 2)
            report["pose2sim_mm_vs_filtered_trc"] = round(float(np.nanmean(ef)), 2)
            report["pose2sim_bone_cv_selfsup"] = round(cv, 4)
        elif key == "robust":
            report["pose2sim_mm_robust_vs_trc"] = round(float(np.nanmean(e)), 2)
            report["pose2sim_bone_cv_robust"] = round(cv, 4)
        elif "raw" in name:
            report["pose2sim_bone_cv_trc"] = round(cv, 4)
        else:
            report["pose2sim_bone_cv_filtered_trc"] = round(cv, 4)
    report["pose2sim_train_s"] = round(res.seconds, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sessions and few steps (a smoke run)")
    ap.add_argument("--views", default="2,3,4", help="camera counts (default 2,3,4)")
    ap.add_argument("--train-sessions", type=int, default=2)
    ap.add_argument("--train-seconds", type=float, default=40.0)
    ap.add_argument("--test-sessions", type=int, default=2)
    ap.add_argument("--test-seconds", type=float, default=30.0)
    ap.add_argument("--people", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--p2s-epochs", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2: the 2-core figure)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=str(ROOT / "sessions" / "bench-selfsup"))
    ap.add_argument("--save-models", action="store_true", help="keep the trained checkpoints in --workdir")
    ap.add_argument("--skip-pose2sim", action="store_true")
    args = ap.parse_args(argv)
    args.views = [int(v) for v in args.views.split(",") if v]
    if args.quick:
        args.train_sessions, args.train_seconds, args.test_sessions, args.test_seconds = 1, 8.0, 1, 6.0
        args.people, args.epochs, args.p2s_epochs = 3, 1, 1
    import torch

    torch.set_num_threads(args.threads)
    report: dict[str, Any] = {"benchmark": "eval_selfsup", "quick": args.quick, "threads": args.threads}
    rows: list[list[str]] = []
    t0 = time.perf_counter()
    _sim(args, report, rows)
    if not args.skip_pose2sim and (P2S / "calibration" / "Calib_qualisys.toml").exists():
        _pose2sim(args, report, rows)
    elif not args.skip_pose2sim:
        print(f"Pose2Sim demo not found at {P2S}: skipped", file=sys.stderr)
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    from rich.console import Console
    from rich.table import Table

    t = Table(title="self-supervised fusion vs the SDK's triangulation (MPJPE mm against 3D ground truth)")
    for c in ("views", "method", "MPJPE mm", "coverage", "hard MPJPE mm", "hard coverage"):
        t.add_column(c, justify="left" if c == "method" else "right")
    for r in rows:
        t.add_row(*r)
    Console(stderr=False, width=140).print(t)
    print("(p2s rows: MPJPE vs Pose2Sim's raw .trc, coverage, MPJPE vs its filtered .trc, bone-length CV)")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
