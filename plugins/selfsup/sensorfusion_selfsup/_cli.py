"""``sensorfusion selfsup train | eval | fuse``.

* ``train SESSION… [--openpose CAM=DIR …] --out MODEL`` — learn from recorded 2D keypoints
  (sessions, or OpenPose JSON folders with a calibration); a rich progress bar, a loss table,
  a versioned checkpoint.
* ``eval SESSION… --model MODEL`` — score on sessions with 3D ground truth, against the SDK's
  weighted DLT, robust triangulation and robust triangulation + its best temporal filter.
* ``fuse (SESSION | --openpose CAM=DIR …) --model MODEL --out OUT.{json,trc}`` — 3D from 2D
  offline (the whole recording, both temporal directions).

Heavy imports (torch) happen when a subcommand runs, not when the plugin loads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sensorfusion import ConfigError, MissingDependencyError, SensorfusionError

if TYPE_CHECKING:
    from ._recording import Recording

__all__ = ["check_tier", "configure_selfsup", "run_selfsup"]


def _add_input_args(p: argparse.ArgumentParser, *, sessions_required: bool = False) -> None:
    p.add_argument("sessions", nargs="+" if sessions_required else "*", metavar="SESSION",
                   help="recorded sessions (.zarr) with 2D keypoint streams and a calibration")  # fmt: skip
    p.add_argument("--views", default=None, metavar="CAM,CAM,…",
                   help="cameras to use, in this order (default: every camera with a 2D stream)")  # fmt: skip
    p.add_argument("--streams", default="*", metavar="PATTERN[,PATTERN]",
                   help="glob patterns choosing the 2D streams (e.g. 'detector:*')")  # fmt: skip
    p.add_argument("--identities", action="store_true",
                   help="person ids already agree across views (else people are associated)")  # fmt: skip
    p.add_argument("--calibration", default=None, metavar="FILE",
                   help="calibration file (any installed format); overrides the sessions' own")  # fmt: skip
    p.add_argument("--openpose", action="append", default=[], metavar="CAM=DIR",
                   help="an OpenPose JSON folder of camera CAM (repeat per camera; needs --calibration)")  # fmt: skip
    p.add_argument("--skeleton", default="body_25b", help="skeleton of the OpenPose keypoints (default body_25b)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of the OpenPose frames (default 30)")
    p.add_argument("--tier", choices=["auto", "numpy", "cpu", "cuda"], default="auto",
                   help="kernel tier of the SDK's robust triangulation (evidence)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar or tables")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line on stdout")


def configure_selfsup(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="selfsup_command", metavar="{train,eval,fuse}")
    sub.required = True
    pt = sub.add_parser("train", help="train a fusion model on recorded 2D keypoints (no 3D labels)")
    _add_input_args(pt)
    pt.add_argument("--out", required=True, metavar="MODEL", help="checkpoint to write (e.g. model.pt)")
    pt.add_argument("--epochs", type=int, default=20, help="epochs (default 20; an epoch covers every frame once, "
                    "and at least --min-steps steps)")  # fmt: skip
    pt.add_argument("--min-steps", type=int, default=25, help="least steps per epoch (small recordings; default 25)")
    pt.add_argument("--batch", type=int, default=12, help="chunks per step (default 12)")
    pt.add_argument("--chunk", type=int, default=20, help="frames per chunk (default 20)")
    pt.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    pt.add_argument("--seed", type=int, default=0)
    pt.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:0, auto (default cpu)")
    pt.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    pe = sub.add_parser("eval", help="score a model on sessions with 3D ground truth, against the SDK's baselines")
    _add_input_args(pe, sessions_required=True)
    pe.add_argument("--model", required=True, metavar="MODEL")
    pe.add_argument("--ground-truth", default=None, metavar="STREAM",
                    help="3D ground-truth stream (default: the session's only skeleton3d source stream)")  # fmt: skip
    pe.add_argument("--hard-px", type=float, default=15.0,
                    help="an observation off by more than this (or missing) is corrupted (default 15)")  # fmt: skip
    pe.add_argument("--causal", action="store_true", help="use past frames only (as the live estimator)")
    pe.add_argument("--device", default="cpu")
    pf = sub.add_parser("fuse", help="3D keypoints from 2D with a trained model (JSON or TRC)")
    _add_input_args(pf)
    pf.add_argument("--model", required=True, metavar="MODEL")
    pf.add_argument("--out", required=True, metavar="OUT", help="OUT.json, or OUT.trc (one file per person)")
    pf.add_argument("--causal", action="store_true", help="use past frames only")
    pf.add_argument("--device", default="cpu")


def run_selfsup(args: argparse.Namespace) -> int:
    try:
        if args.selfsup_command == "train":
            return _train(args)
        if args.selfsup_command == "eval":
            return _eval(args)
        return _fuse(args)
    except (ConfigError, MissingDependencyError) as e:
        print(f"sensorfusion selfsup {args.selfsup_command}: {e}", file=sys.stderr)
        return 2
    except SensorfusionError as e:
        print(f"sensorfusion selfsup {args.selfsup_command}: {e}", file=sys.stderr)
        return 1


def check_tier(tier: str, *, field_path: str) -> None:
    """A :class:`ConfigError` naming ``field_path`` when the triangulation kernel has no such tier here."""
    import numpy as np

    from sensorfusion.fusion import triangulate_points

    try:
        triangulate_points(np.zeros((2, 0, 2)), np.zeros((2, 0)), np.zeros((2, 3, 4)), tier=tier)
    except ConfigError as e:
        raise ConfigError(str(e), field_path=field_path, value=tier, choices=["auto", "numpy", "cpu", "cuda"]) from e


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("CUDA is not available to torch here", field_path="--device", value=name,
                          choices=["cpu", "auto"])  # fmt: skip
    try:
        torch.device(name)
    except RuntimeError as e:
        raise ConfigError(str(e), field_path="--device", value=name, choices=["cpu", "cuda", "auto"]) from e
    return name


def _recordings(args: argparse.Namespace) -> list[Recording]:
    from sensorfusion import load_calibration

    from ._loading import load_openpose, load_session

    views = [v for v in args.views.split(",") if v] if args.views else None
    cal = load_calibration(args.calibration) if args.calibration else None
    check_tier(args.tier, field_path="--tier")
    out = [
        load_session(s, views=views, streams=args.streams.split(","), identities=args.identities, calibration=cal)
        for s in args.sessions
    ]
    if args.openpose:
        if cal is None:
            raise ConfigError("--openpose needs --calibration", field_path="--calibration")
        folders: dict[str, str] = {}
        for spec in args.openpose:
            if "=" not in spec:
                raise ConfigError("--openpose must be CAM=DIR", field_path="--openpose", value=spec)
            cam, d = spec.split("=", 1)
            folders[cam] = d
        if views:
            folders = {v: folders[v] for v in views if v in folders}
        out.append(
            load_openpose(
                folders,
                cal,
                skeleton=args.skeleton,
                fps=args.fps,
                identities=args.identities,
                name=Path(next(iter(folders.values()))).parent.name or "openpose",
            )
        )
    if not out:
        raise ConfigError("give at least one SESSION or --openpose CAM=DIR", field_path="SESSION")
    return out


def _train(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ._features import FeatureSettings
    from ._train import TrainSettings, train

    out = Path(args.out)
    for name, v in (("--epochs", args.epochs), ("--batch", args.batch), ("--min-steps", args.min_steps)):
        if v < 1:
            raise ConfigError("must be at least 1", field_path=name, value=v)
    if args.chunk < 3:
        raise ConfigError("must be at least 3 frames", field_path="--chunk", value=args.chunk)
    device = _device(args.device)
    console = Console(stderr=True)
    recs = _recordings(args)
    settings = TrainSettings(
        epochs=args.epochs,
        batch_chunks=args.batch,
        chunk_frames=args.chunk,
        min_steps_per_epoch=args.min_steps,
        lr=args.lr,
        seed=args.seed,
        device=device,
        threads=args.threads,
        features=FeatureSettings(tier=args.tier),
    )
    if not args.quiet:
        for r in recs:
            frames = sum(t.num_frames for t in r.tracks)
            console.print(f"{r.name}: {len(r.views)} cameras ({', '.join(r.views)}), {r.skeleton.name}, "
                          f"{len(r.t_ns)} frames, {len(r.tracks)} tracks, {frames} person-frames")  # fmt: skip
    rows: list[dict[str, float]] = []
    with Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[loss]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=args.quiet,
        transient=False,
    ) as bar:
        task = bar.add_task("train", total=None, loss="")

        def progress(step: int, total: int, last: dict[str, float]) -> None:
            bar.update(task, completed=step, total=total,
                       loss=f"loss {last['total']:.3f}  reproj {last['reprojection']:.3f}")  # fmt: skip

        def epoch_end(epoch: int, mean: dict[str, float]) -> None:
            rows.append({"epoch": float(epoch), **mean})

        result = train(recs, settings, progress=progress, epoch_end=epoch_end)
    path = result.checkpoint.save(out)
    if not args.quiet:
        _loss_table(console, rows)
        console.print(f"{result.steps} steps in {result.seconds:.1f} s → {path}")
    if args.json:
        print(json.dumps({"model": str(path), "steps": result.steps, "seconds": round(result.seconds, 2),
                          "losses": rows[-1] if rows else {}, "history": rows}))  # fmt: skip
    return 0


def _loss_table(console: Any, rows: Sequence[dict[str, float]]) -> None:
    from rich.table import Table

    if not rows:
        return
    keys = [k for k in rows[0] if k != "epoch"]
    t = Table(title="training losses (mean per epoch; self-supervised terms, dimensionless)")
    t.add_column("epoch", justify="right")
    short = {"reprojection": "reproj", "consistency": "consist", "symmetry": "sym", "smoothness": "smooth"}
    for k in keys:
        t.add_column(short.get(k, k), justify="right")
    n = len(rows)
    show = sorted({0, n - 1, *(round(i * (n - 1) / 9) for i in range(10))}) if n > 10 else range(n)
    for i in show:
        r = rows[i]
        t.add_row(str(int(r["epoch"])), *[f"{r[k]:.4f}" for k in keys])
    console.print(t)


def _eval(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ._checkpoint import load_checkpoint
    from ._scoring import evaluate_recording, merge_scores

    device = _device(args.device)
    ck = load_checkpoint(args.model, device=device)
    console = Console(stderr=True)
    views_arg = args.views
    if views_arg is None:
        args.views = ",".join(ck.views)
    recs = _recordings(args)
    args.views = views_arg
    results = []
    for path, rec in zip(args.sessions, recs, strict=False):
        results.append(
            evaluate_recording(
                ck,
                rec,
                path,
                ground_truth=args.ground_truth,
                hard_px=args.hard_px,
                causal=args.causal,
                tier=args.tier,
                device=device,
            )
        )
    merged = merge_scores(results, causal=args.causal)
    if not args.quiet:
        t = Table(title=f"MPJPE against 3D ground truth ({len(results)} session(s), {ck.num_views} cameras)")
        for c in ("method", "MPJPE mm", "coverage", "hard MPJPE mm", "hard coverage"):
            t.add_column(c, justify="left" if c == "method" else "right")
        for m in merged["methods"]:
            t.add_row(m["name"], f"{m['mpjpe_mm']:.1f}", f"{m['coverage']:.3f}", f"{m['hard_mpjpe_mm']:.1f}",
                      f"{m['hard_coverage']:.3f}")  # fmt: skip
        console.print(t)
        c = merged["common"]
        console.print(
            f"on the joints both estimate: selfsup {c['selfsup_mm']:.1f} mm vs {c['baseline']} {c['baseline_mm']:.1f} mm "
            f"(ratio {c['ratio']:.3f}); hard joints {c['selfsup_hard_mm']:.1f} vs {c['baseline_hard_mm']:.1f} "
            f"(ratio {c['ratio_hard']:.3f})"
        )
    if args.json:
        print(json.dumps(merged))
    return 0


def _fuse(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ._checkpoint import load_checkpoint
    from ._infer import fuse_recording
    from ._writers import write_json, write_trc

    out = Path(args.out)
    if out.suffix.lower() not in (".json", ".trc"):
        raise ConfigError("--out must end in .json or .trc", field_path="--out", value=str(out),
                          choices=[".json", ".trc"])  # fmt: skip
    device = _device(args.device)
    ck = load_checkpoint(args.model, device=device)
    if args.views is None:
        args.views = ",".join(ck.views) if not args.openpose else None
    recs = _recordings(args)
    if len(recs) != 1:
        raise ConfigError("fuse takes one recording (one SESSION or one set of --openpose folders)",
                          field_path="SESSION", value=len(recs))  # fmt: skip
    rec = recs[0]
    t0 = time.perf_counter()
    est = fuse_recording(ck, rec, tier=args.tier, causal=args.causal, device=device)
    written = write_trc(out, rec, est) if out.suffix.lower() == ".trc" else [write_json(out, rec, est)]
    if not args.quiet:
        Console(stderr=True).print(
            f"{len(rec.t_ns)} frames, {len(est)} track(s) in {time.perf_counter() - t0:.1f} s → "
            + ", ".join(str(p) for p in written)
        )
    if args.json:
        print(json.dumps({"out": [str(p) for p in written], "tracks": len(est), "frames": len(rec.t_ns)}))
    return 0
