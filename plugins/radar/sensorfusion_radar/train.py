"""Train the radar → skeleton model (``radar.pose``).

    python -m sensorfusion_radar.train --mars ../shared/data/radar/mars-subject1 --out mars.pt
    python -m sensorfusion_radar.train --session runs/demo --points radar0/points \\
        --skeleton fusion:fusion/skeleton3d --out sim.pt

``--mars``: the MARS data set (radar frame; interleaved block split: every 5th block of 50
frames is the test set). ``--session``: cross-modal supervision from a recorded session —
radar points labelled by another modality's skeletons (e.g. the cameras' triangulation),
split the same way. Prints the per-epoch training MPJPE (rich progress bar), the test MPJPE
in cm, saves the checkpoint (``--out``) and optionally a PNG of the learning curve and of
a few test skeletons (``--plot``). Exit code 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from sensorfusion import SensorfusionError

from ._mars import block_split, load_mars
from ._pose import PosePairs, TrainResult, pairs_from_session, train_pose_model

__all__ = ["main", "train"]


def train(
    pairs: PosePairs,
    *,
    epochs: int = 150,
    width: int = 96,
    num_points: int = 64,
    seed: int = 0,
    threads: int | None = 1,
    jitter: float = 0.1,
    progress: bool = True,
) -> tuple[TrainResult, PosePairs, PosePairs]:
    """Split ``pairs`` (:func:`block_split`), train, evaluate: ``(result, train, test)``."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)  # small networks: threads only contend
    tr, te = block_split(pairs)
    if not progress:
        return (
            train_pose_model(tr, te, epochs=epochs, width=width, num_points=num_points, seed=seed, jitter=jitter),
            tr,
            te,
        )
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[err]}"), TimeRemainingColumn()
    ) as bar:
        task = bar.add_task("training radar pose", total=epochs, err="")

        def tick(ep: int, err_m: float) -> None:
            bar.update(task, advance=1, err=f"train MPJPE {err_m * 100:.1f} cm")

        res = train_pose_model(
            tr, te, epochs=epochs, width=width, num_points=num_points, seed=seed, jitter=jitter, progress=tick
        )
    return res, tr, te


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
    pred = res.model.predict([test.points[i] for i in k])
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
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--width", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jitter", type=float, default=0.1, help="augmentation noise (standardised units)")
    ap.add_argument("--out", type=Path, required=True, help="checkpoint to write")
    ap.add_argument("--plot", type=Path, default=None, help="PNG of the learning curve and test skeletons")
    args = ap.parse_args(argv)
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
        res, _, te = train(pairs, epochs=args.epochs, width=args.width, seed=args.seed, jitter=args.jitter)
    except (SensorfusionError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    res.model.meta["source"] = str(args.mars or args.session)
    res.model.save(args.out)
    print(
        f"pairs {len(pairs)}, test {len(te)}; train MPJPE {res.train_mpjpe_m[-1] * 100:.2f} cm; test MPJPE {(res.test_mpjpe_m or float('nan')) * 100:.2f} cm"
    )
    print(f"weights: {args.out}")
    if args.plot is not None:
        _plot(args.plot, res, te)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
