"""Egocentric accuracy: the wearers of simulated stereo fisheye headsets, per estimator.

    python benchmarks/eval_egocentric.py [--train-sessions 24] [--test-sessions 6] [--seconds 20]
                                         [--epochs 12] [--stride 2] [--work DIR] [--model MODEL]
                                         [--plot PNG] [--reuse-test-sessions]

1. **Training data**: ``--train-sessions`` simulated sessions (``sensorfusion egocentric simulate``:
   two people, one wearing a headset with two 256x256 fisheye cameras at the forehead, the 2D
   detector's error model in both views), seeds 1000...; every ``--stride``-th frame.
2. **Training**: ``sensorfusion egocentric train``'s defaults (one torch thread; the time is
   reported - the machine is shared, so it is an upper bound).
3. **Held-out test**: ``--test-sessions`` runs of the egocentric example rig's pipeline with other
   seeds (5000...: other people, heights, behaviour schedules and head motion): three people, two
   of them wearing headsets, two room cameras at 640x480, every estimator in the rig —
   ``egocentric.stereo`` (geometric), ``egocentric.learned``, ``egocentric.mean_pose`` (trivial:
   the training mean pose hung from the device pose), ``egocentric.fuse`` (learned + room), and
   the room cameras alone (``multiperson``) — recorded and scored here against ``gt/skeleton3d``.

Scores, over the wearers (by ``person_id``) and the 12 limb joints (shoulders, elbows, wrists:
upper body; hips, knees, ankles: lower body), world frame (so tracking drift counts): MPJPE,
PA-MPJPE (per frame similarity Procrustes), coverage (joints estimated / joints scored). Also the
learned model in the device frame with the true device pose (the UnrealEgo protocol), and where
one source is blind: joints the headset's detector missed in both views (legs under the chest,
out of the image) and joints fewer than two room views saw (the wearer hidden from the room).

A table, then one JSON line (``mpjpe_mm_*`` keys).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

LIMBS = list(range(5, 17))
UPPER = [5, 6, 7, 8, 9, 10]
LOWER = [11, 12, 13, 14, 15, 16]
ESTIMATORS = ("geometric", "learned", "fused", "trivial", "room")

TEST_RIG = """
name: ego-eval-{seed}
seed: {seed}
duration_s: {seconds}
sensors:
  - id: sim
    driver: sim.rig
    params:
      cameras: 2
      people: 3
      width: 640
      height: 480
      headsets: [{{person: 0, render: false}}, {{person: 1, render: false}}]
sync: {{tolerance_ms: 5}}
record: {{streams: ["gt/*", "gt_*/*", "hmd?/*"]}}
stages:
  - {{id: room_det, estimator: sim.keypoints2d, inputs: ["cam*/image", "gt/skeleton3d"], params: {{identities: false}}}}
  - {{id: ego_det, estimator: sim.headset_keypoints2d, inputs: ["gt/skeleton3d", "gt_hmd*/device_pose"]}}
  - {{id: geometric, estimator: egocentric.stereo, inputs: ["hmd*_*/keypoints2d", "hmd?/device_pose"]}}
  - {{id: learned, estimator: egocentric.learned, inputs: ["hmd*_*/keypoints2d", "hmd?/device_pose"], params: {{model: "{model}"}}}}
  - {{id: trivial, estimator: egocentric.mean_pose, inputs: ["hmd*_*/keypoints2d", "hmd?/device_pose"], params: {{model: "{model}"}}}}
  - {{id: fused, estimator: egocentric.fuse, inputs: ["learned/skeleton3d", "cam*/keypoints2d"]}}
  - {{id: room, estimator: multiperson, inputs: ["cam*/keypoints2d"], params: {{birth_hits: 1}}}}
"""


def procrustes(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``pred (J, 3)`` aligned to ``gt`` by the best similarity transform over the joints finite
    in both (NaN when fewer than 3)."""
    ok = np.isfinite(pred).all(-1) & np.isfinite(gt).all(-1)
    out = np.full_like(pred, np.nan)
    if ok.sum() < 3:
        return out
    a, b = pred[ok], gt[ok]
    ma, mb = a.mean(0), b.mean(0)
    a0, b0 = a - ma, b - mb
    u, s, vt = np.linalg.svd(a0.T @ b0)
    d = np.sign(np.linalg.det(u @ vt))
    corr = np.diag([1.0, 1.0, d])
    rot = u @ corr @ vt
    scale = (s * np.diag(corr)).sum() / max((a0**2).sum(), 1e-12)
    out[ok] = scale * a0 @ rot + mb
    return out


class Scores:
    """Per-joint errors of one estimator over the wearers' frames."""

    def __init__(self) -> None:
        self.err: list[np.ndarray] = []  # (J,) NaN where not estimated
        self.pa: list[np.ndarray] = []
        self.masks: dict[str, list[np.ndarray]] = {"ego_blind": [], "room_blind": []}

    def add(self, est: np.ndarray | None, gt: np.ndarray, ego_blind: np.ndarray, room_blind: np.ndarray) -> None:
        if est is None:
            est = np.full_like(gt, np.nan)
        self.err.append(np.linalg.norm(est[LIMBS] - gt[LIMBS], axis=-1))
        self.pa.append(np.linalg.norm(procrustes(est[LIMBS], gt[LIMBS]) - gt[LIMBS], axis=-1))
        self.masks["ego_blind"].append(ego_blind[LIMBS])
        self.masks["room_blind"].append(room_blind[LIMBS])

    def summary(self) -> dict[str, Any]:
        e, pa = np.stack(self.err) * 1e3, np.stack(self.pa) * 1e3
        up, lo = np.isin(LIMBS, UPPER), np.isin(LIMBS, LOWER)

        def m(x: np.ndarray) -> float | None:
            x = x[np.isfinite(x)]
            return round(float(x.mean()), 1) if x.size else None

        out: dict[str, Any] = {
            "mpjpe_mm": m(e), "pa_mpjpe_mm": m(pa), "upper_mm": m(e[:, up]), "lower_mm": m(e[:, lo]),
            "coverage": round(float(np.isfinite(e).mean()), 3),
        }  # fmt: skip
        for key, mask in self.masks.items():
            mk = np.stack(mask)
            out[f"{key}_mm"] = m(np.where(mk, e, np.nan))
            out[f"{key}_coverage"] = round(float(np.isfinite(e[mk]).mean()), 3) if mk.any() else None
            out[f"{key}_joints"] = int(mk.sum())
        return out


def score_session(path: Path, scores: dict[str, Scores]) -> None:
    from sensorfusion.store import Session

    s = Session.open(path)
    gt = {f.t_sensor_ns: f for f in s.read("gt/skeleton3d")}
    est: dict[str, dict[int, Any]] = {}
    for name in ESTIMATORS:
        est[name] = {f.t_sensor_ns: f for f in s.read(f"{name}/skeleton3d", stage=name)}
    kps = {}
    for dev in ("hmd0", "hmd1"):
        for side in ("left", "right"):
            kps[(dev, side)] = {f.t_sensor_ns: f for f in s.read(f"{dev}_{side}/keypoints2d", stage="ego_det")}
    for t, g in gt.items():
        for wearer, dev in ((0, "hmd0"), (1, "hmd1")):
            rows = np.nonzero(g["person_id"] == wearer)[0]
            truth = np.asarray(g["joints"][rows[0]], dtype=np.float64)
            seen = np.zeros(17, dtype=bool)
            for side in ("left", "right"):
                f = kps[(dev, side)].get(t)
                if f is not None and len(f["person_id"]):
                    kp = f["keypoints"][0]
                    seen |= np.isfinite(kp[:, 0]) & (kp[:, 2] > 0.3)
            fused = est["fused"].get(t)
            room_views = np.zeros(17, dtype=int)
            if fused is not None and wearer in fused["person_id"].tolist():
                room_views = fused["views"][fused["person_id"].tolist().index(wearer)]
            for name in ESTIMATORS:
                f = est[name].get(t)
                row = None
                if f is not None and len(f["person_id"]):
                    if name == "room":  # no identities: the room's track nearest to the wearer
                        d = [
                            np.nanmean(np.linalg.norm(f["joints"][k] - truth, axis=-1))
                            for k in range(len(f["person_id"]))
                        ]
                        k = int(np.nanargmin(d)) if np.isfinite(d).any() else -1
                        row = np.asarray(f["joints"][k], dtype=np.float64) if k >= 0 and d[k] < 0.5 else None
                    elif wearer in f["person_id"].tolist():
                        row = np.asarray(f["joints"][f["person_id"].tolist().index(wearer)], dtype=np.float64)
                scores[name].add(row, truth, ~seen, room_views < 2)


def plot_per_joint(scores: dict[str, Scores], path: str) -> None:
    """Bar chart: MPJPE per limb joint (mm) for every estimator."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sensorfusion.schema import builtin_skeletons

    names = [next(s for s in builtin_skeletons() if s.name == "coco17").joints[j] for j in LIMBS]
    fig, ax = plt.subplots(figsize=(12, 4.5))
    width = 0.8 / len(ESTIMATORS)
    for k, est in enumerate(ESTIMATORS):
        e = np.stack(scores[est].err) * 1e3
        means = [float(np.nanmean(col)) if np.isfinite(col).any() else 0.0 for col in e.T]
        ax.bar(np.arange(len(LIMBS)) + (k - (len(ESTIMATORS) - 1) / 2) * width, means, width, label=est)
    ax.set_xticks(np.arange(len(LIMBS)), [n.replace("_", " ") for n in names], rotation=30, ha="right")
    ax.set_ylabel("MPJPE (mm), over the frames each estimator covers")
    ax.set_ylim(0, 300)
    ax.set_title("Headset wearers on held-out simulated sessions")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-sessions", type=int, default=24)
    ap.add_argument("--test-sessions", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--stride", type=int, default=2, help="train on every n-th frame")
    ap.add_argument("--work", help="keep sessions and the model here (default: a temporary folder)")
    ap.add_argument("--model", help="use this checkpoint instead of training one")
    ap.add_argument("--plot", metavar="PNG", help="also draw the per-joint MPJPE of every estimator")
    ap.add_argument(
        "--reuse-test-sessions", action="store_true", help="score finished held-out sessions in --work again"
    )
    args = ap.parse_args(argv)

    from rich.console import Console
    from rich.table import Table
    from sensorfusion_egocentric import (
        TrainConfig,
        concat_samples,
        load_model,
        samples_from_session,
        simulate_sessions,
        train_model,
    )

    from sensorfusion.run import main as run_main

    console = Console(stderr=True)
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="eval_ego_")
    work = Path(args.work or tmp.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train_paths = simulate_sessions(work / "train", list(range(1000, 1000 + args.train_sessions)), seconds=args.seconds,
                                    progress=lambda k, n: console.print(f"train session {k}/{n}", end="\r"))  # fmt: skip
    gen_s = time.perf_counter() - t0
    record: dict[str, Any] = {
        "train_sessions": args.train_sessions,
        "test_sessions": args.test_sessions,
        "seconds_per_session": args.seconds,
    }
    if args.model:
        model_path = Path(args.model)
        model = load_model(model_path)
        train_s = None
    else:
        samples = concat_samples([s for p in train_paths for s in samples_from_session(p)])
        samples = samples.subset(np.arange(0, len(samples), args.stride))
        console.print(f"training on {len(samples)} samples from {len(train_paths)} sessions ...")
        t1 = time.perf_counter()
        res = train_model(samples, train=TrainConfig(epochs=args.epochs),
                          progress=lambda e, n, r: console.print(f"epoch {e}/{n}: {r}"))  # fmt: skip
        train_s = time.perf_counter() - t1
        model = res.model
        model_path = work / "egocentric_model.pt"
        model.save(model_path)
        record.update(train_samples=len(samples), train_seconds=round(train_s, 1), epochs=args.epochs)
    # held-out sessions: other seeds = other people and motions
    scores = {name: Scores() for name in ESTIMATORS}
    device_err: list[np.ndarray] = []
    for k in range(args.test_sessions):
        seed = 5000 + k
        rig = work / f"test_{seed}.yaml"
        rig.write_text(TEST_RIG.format(seed=seed, seconds=args.seconds, model=model_path))
        out = work / f"test_{seed}.zarr"
        console.print(f"held-out session {k + 1}/{args.test_sessions} (seed {seed}) ...")
        from sensorfusion.store import Session

        reuse = args.reuse_test_sessions and out.exists() and Session.open(out).finished
        if not reuse and run_main([str(rig), "--fast", "--out", str(out), "--overwrite", "--quiet"]) != 0:
            print(f"test session {seed} failed", file=sys.stderr)
            return 1
        score_session(out, scores)
        for part in samples_from_session(
            out, keypoints_stage="ego_det"
        ):  # the UnrealEgo protocol: device frame, true pose
            pred, _ = model.predict(part.keypoints)
            device_err.append(np.linalg.norm(pred - part.joints_device, axis=-1))
    results = {name: sc.summary() for name, sc in scores.items()}
    dev = np.concatenate(device_err) * 1e3
    record["mpjpe_mm_learned_device_limbs"] = round(float(np.nanmean(dev[:, LIMBS])), 1)
    record["mpjpe_mm_learned_device_all17"] = round(float(np.nanmean(dev)), 1)
    table = Table(title="egocentric wearers, held-out simulated sessions (12 limb joints, world frame)")
    for col in (
        "estimator",
        "MPJPE mm",
        "PA-MPJPE mm",
        "upper mm",
        "lower mm",
        "coverage",
        "headset-blind mm (cov)",
        "room-blind mm (cov)",
    ):
        table.add_column(col)
    for name in ESTIMATORS:
        r = results[name]
        table.add_row(name, str(r["mpjpe_mm"]), str(r["pa_mpjpe_mm"]), str(r["upper_mm"]), str(r["lower_mm"]), str(r["coverage"]),
                      f"{r['ego_blind_mm']} ({r['ego_blind_coverage']})", f"{r['room_blind_mm']} ({r['room_blind_coverage']})")  # fmt: skip
    Console(width=150).print(table)
    print(f"learned, device frame with the true pose (UnrealEgo protocol): {record['mpjpe_mm_learned_device_limbs']} mm "
          f"(12 limbs), {record['mpjpe_mm_learned_device_all17']} mm (all 17); training {record.get('train_seconds')} s "
          f"on {record.get('train_samples')} samples; simulating the training sessions {gen_s:.0f} s")  # fmt: skip
    for name in ESTIMATORS:
        for key, value in results[name].items():
            record[f"{key.replace('_mm', '')}_mm_{name}" if key.endswith("_mm") else f"{key}_{name}"] = value
    record["mpjpe_mm_trivial"] = results["trivial"]["mpjpe_mm"]
    if args.plot:
        plot_per_joint(scores, args.plot)
    print(json.dumps(record))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
