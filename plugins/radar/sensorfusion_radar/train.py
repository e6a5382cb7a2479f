"""Train the radar → skeleton model (``radar.pose``).

    python -m sensorfusion_radar.train --mars ../shared/data/radar/mars-subject1 --out mars.pt
    python -m sensorfusion_radar.train --session runs/demo --points radar0/points \\
        --skeleton fusion:fusion/skeleton3d --out sim.pt

``--mars``: the MARS data set (radar frame; interleaved block split: every 5th block of 50
frames is the test set). ``--session``: cross-modal supervision from a recorded session —
radar points labelled by another modality's skeletons (e.g. the cameras' triangulation),
split the same way. ``--frames K``: each sample stacks the person's points of the current
and the K - 1 previous frames (causal temporal context; the history never crosses into
frames left out of the training set). ``--ensemble N`` averages N seeds. ``--validation``
keeps the test blocks unseen: it splits the training blocks again and reports the MPJPE on
that validation part, for choosing settings. Prints the per-epoch training MPJPE (rich
progress bar), the test (or validation) MPJPE in cm and the time, saves the checkpoint
(``--out``) and optionally a PNG of the learning curve and of a few test skeletons
(``--plot``). Exit code 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion import SensorfusionError

from ._mars import block_split, load_mars
from ._pose import PosePairs, TrainResult, ensemble, evaluate, pairs_from_session, predict_pairs, train_pose_model

__all__ = ["DEFAULTS", "main", "train"]

# The default settings, chosen on a validation part of MARS's training blocks (README).
DEFAULTS: dict[str, Any] = {
    "epochs": 150,
    "width": 96,
    "num_points": 192,
    "jitter": 0.1,
    "frames": 6,
    "rotate_deg": 0.0,
    "scale": 0.0,
    "point_dropout": 0.2,
    "history_dropout": 0.3,
    "ensemble": 1,
}


def train(
    pairs: PosePairs,
    *,
    epochs: int = DEFAULTS["epochs"],
    width: int = DEFAULTS["width"],
    num_points: int = DEFAULTS["num_points"],
    seed: int = 0,
    threads: int | None = 1,
    jitter: float = DEFAULTS["jitter"],
    frames: int = DEFAULTS["frames"],
    rotate_deg: float = DEFAULTS["rotate_deg"],
    scale: float = DEFAULTS["scale"],
    point_dropout: float = DEFAULTS["point_dropout"],
    history_dropout: float = DEFAULTS["history_dropout"],
    ensemble_size: int = DEFAULTS["ensemble"],
    validation: bool = False,
    progress: bool = True,
) -> tuple[TrainResult, PosePairs, PosePairs]:
    """Split ``pairs`` (:func:`block_split`), train ``ensemble_size`` models (seeds ``seed``,
    ``seed + 1``...; averaged), evaluate: ``(result, train, test)``.

    ``validation``: leave the test blocks alone — split the *training* blocks again the same
    way and report the MPJPE on that validation part instead (``test`` is then the
    validation set), for choosing settings without looking at the test set."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)  # small networks: threads only contend
    tr, te = block_split(pairs)
    if validation:
        tr, te = block_split(tr)
    kw: dict[str, Any] = dict(
        epochs=epochs,
        width=width,
        num_points=num_points,
        jitter=jitter,
        frames=frames,
        rotate_deg=rotate_deg,
        scale=scale,
        point_dropout=point_dropout,
        history_dropout=history_dropout,
    )
    seeds = [seed + k for k in range(max(1, ensemble_size))]
    results: list[TrainResult] = []
    if not progress:
        results = [train_pose_model(tr, None, seed=s, **kw) for s in seeds]
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[err]}"), TimeRemainingColumn()
        ) as bar:
            task = bar.add_task("training radar pose", total=epochs * len(seeds), err="")

            def tick(ep: int, err_m: float) -> None:
                bar.update(task, advance=1, err=f"train MPJPE {err_m * 100:.1f} cm")

            results = [train_pose_model(tr, None, seed=s, progress=tick, **kw) for s in seeds]
    model = ensemble([r.model for r in results]) if len(results) > 1 else results[0].model
    err = evaluate(model, te) if len(te) else None
    model.meta["validation_mpjpe_m" if validation else "test_mpjpe_m"] = err
    curve = list(np.mean([r.train_mpjpe_m for r in results], axis=0))
    return TrainResult(model, curve, err), tr, te


def _plot(path: Path, res: TrainResult, test: PosePairs) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    axes[0].plot(np.asarray(res.train_mpjpe_m) * 100)
    if res.test_mpjpe_m is not None:
        axes[0].axhline(res.test_mpjpe_m * 100, color="r", ls="--", label=f"test {res.test_mpjpe_m * 100:.1f} cm")
        axes[0].legend()
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("MPJPE (cm)")
    axes[0].set_title("radar pose training")
    k = np.linspace(0, len(test) - 1, 4).astype(int)
    pred = predict_pairs(res.model, test)[k]  # each with its history
    for n, i in enumerate(k):
        off = n * 1.0
        axes[1].scatter(
            test.joints[i, :, 0] + off, test.joints[i, :, 2], s=12, c="k", label="label" if n == 0 else None
        )
        axes[1].scatter(pred[n, :, 0] + off, pred[n, :, 2], s=12, c="r", marker="x", label="radar" if n == 0 else None)
        axes[1].scatter(
            test.points[i][:, 0] + off, test.points[i][:, 2], s=4, c="b", alpha=0.3, label="points" if n == 0 else None
        )
    axes[1].set_aspect("equal")
    axes[1].set_title("test frames: x–z (frames offset by 1 m)")
    axes[1].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sensorfusion_radar.train", description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--mars", type=Path, help="folder with radar_data_test.csv and kinect_data_test.csv")
    src.add_argument("--session", type=Path, help="recorded session with radar points and skeleton labels")
    ap.add_argument("--points", default="radar0/points", help="point cloud stream (--session)")
    ap.add_argument(
        "--skeleton", default="fusion:fusion/skeleton3d", help="label stream, '<stage>:<name>' for a stage output"
    )
    d = DEFAULTS
    ap.add_argument("--epochs", type=int, default=d["epochs"])
    ap.add_argument("--width", type=int, default=d["width"], help="network width")
    ap.add_argument("--num-points", type=int, default=d["num_points"], help="points per sample (all frames)")
    ap.add_argument(
        "--frames", type=int, default=d["frames"], help="consecutive frames per sample (causal temporal context)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ensemble", type=int, default=d["ensemble"], help="models (seeds) to average")
    ap.add_argument("--jitter", type=float, default=d["jitter"], help="augmentation noise (standardised units)")
    ap.add_argument("--rotate-deg", type=float, default=d["rotate_deg"], help="augmentation: rotation about z")
    ap.add_argument("--scale", type=float, default=d["scale"], help="augmentation: scaling 1 ± this")
    ap.add_argument("--point-dropout", type=float, default=d["point_dropout"], help="augmentation")
    ap.add_argument("--history-dropout", type=float, default=d["history_dropout"], help="augmentation")
    ap.add_argument(
        "--validation",
        action="store_true",
        help="report the MPJPE on a validation part of the training blocks (the test blocks stay unseen)",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--out", type=Path, required=True, help="checkpoint to write")
    ap.add_argument("--plot", type=Path, default=None, help="PNG of the learning curve and test skeletons")
    args = ap.parse_args(argv)
    for name in ("epochs", "width", "num_points", "frames", "ensemble", "threads"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}", file=sys.stderr)
            return 2
    for name in ("point_dropout", "history_dropout"):
        if not 0 <= getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be in [0, 1), got {getattr(args, name)}", file=sys.stderr)
            return 2
    for name in ("jitter", "rotate_deg", "scale"):
        if getattr(args, name) < 0:
            print(f"error: --{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}", file=sys.stderr)
            return 2
    try:
        if args.mars is not None:
            if not (args.mars / "radar_data_test.csv").is_file():
                print(f"error: --mars: {args.mars / 'radar_data_test.csv'} not found", file=sys.stderr)
                return 2
            pairs = load_mars(args.mars)
        else:
            pairs = pairs_from_session(args.session, points_stream=args.points, skeleton_stream=args.skeleton)
        if len(pairs) < 20:
            print(f"error: only {len(pairs)} training pairs", file=sys.stderr)
            return 2
        t0 = time.perf_counter()
        res, tr, te = train(
            pairs,
            epochs=args.epochs,
            width=args.width,
            num_points=args.num_points,
            seed=args.seed,
            threads=args.threads,
            jitter=args.jitter,
            frames=args.frames,
            rotate_deg=args.rotate_deg,
            scale=args.scale,
            point_dropout=args.point_dropout,
            history_dropout=args.history_dropout,
            ensemble_size=args.ensemble,
            validation=args.validation,
        )
        elapsed = time.perf_counter() - t0
    except (SensorfusionError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    res.model.meta["source"] = str(args.mars or args.session)
    res.model.save(args.out)
    which = "validation" if args.validation else "test"
    print(
        f"pairs {len(pairs)}: train {len(tr)}, {which} {len(te)}; frames {args.frames}, ensemble {args.ensemble}; "
        f"train MPJPE {res.train_mpjpe_m[-1] * 100:.2f} cm; {which} MPJPE {(res.test_mpjpe_m or float('nan')) * 100:.2f} cm "
        f"({elapsed:.0f} s)"
    )
    print(f"weights: {args.out}")
    if args.plot is not None:
        _plot(args.plot, res, te)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
