"""``sensorfusion egocentric train | export | simulate``.

* ``train SESSIONS... --out MODEL`` — train the learned stereo model on recorded sessions (with
  ground truth: simulated ones, see ``simulate``); ``--onnx`` also exports it.
* ``export MODEL --onnx OUT`` — export a checkpoint to ONNX.
* ``simulate OUT_DIR --sessions N`` — record simulated headset sessions to train on.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sensorfusion import Command, ConfigError, MissingDependencyError, StoreError

__all__ = ["egocentric_command"]


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[info]}"), console=Console(stderr=True))  # fmt: skip


def _configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="egocentric_command", metavar="{train,export,simulate}")
    sub.required = True
    t = sub.add_parser("train", help="train the learned stereo model on recorded sessions with ground truth")
    t.add_argument("sessions", nargs="+", metavar="SESSION", help="recorded sessions (.zarr)")
    t.add_argument("--out", required=True, metavar="MODEL", help="where to write the checkpoint")
    t.add_argument("--device", action="append", help="headset device id(s) to use (default: every headset)")
    t.add_argument("--keypoints-stage", help="the stage whose <camera>/keypoints2d to train on (default: any)")
    t.add_argument("--epochs", type=int, default=12)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--val-fraction", type=float, default=0.1, help="sessions held out to pick the best epoch")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1: robust on a busy machine; 2 on an idle one)"
    )
    t.add_argument("--onnx", metavar="PATH", help="also export the trained model to ONNX")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--json", action="store_true", help="print the training record as JSON")
    e = sub.add_parser("export", help="export a checkpoint to ONNX")
    e.add_argument("model", metavar="MODEL")
    e.add_argument("--onnx", required=True, metavar="PATH")
    s = sub.add_parser("simulate", help="record simulated headset sessions (needs sensorfusion-sim)")
    s.add_argument("out", metavar="OUT_DIR")
    s.add_argument("--sessions", type=int, default=16)
    s.add_argument("--seconds", type=float, default=20.0)
    s.add_argument("--first-seed", type=int, default=1000)
    s.add_argument("--people", type=int, default=2)


def _train(args: argparse.Namespace) -> int:
    from ._data import concat_samples, samples_from_session
    from ._model import export_onnx
    from ._train import TrainConfig, train_model

    parts = []
    for path in args.sessions:
        parts += samples_from_session(path, devices=args.device, keypoints_stage=args.keypoints_stage)
    samples = concat_samples(parts)
    from sensorfusion.plugins import get_plugin_host

    joints = get_plugin_host().skeletons.get(samples.skeleton).joints
    tc = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, val_fraction=args.val_fraction, seed=args.seed,
        threads=args.threads,
    )  # fmt: skip
    with _progress() as prog:
        task = prog.add_task(f"training on {len(samples)} samples", total=tc.epochs, visible=not args.quiet, info="")

        def on_epoch(done: int, total: int, rec: dict[str, float]) -> None:
            info = f"train {rec['train_mpjpe_mm']:.1f} mm" + (
                f", val {rec['val_mpjpe_mm']:.1f} mm" if "val_mpjpe_mm" in rec else ""
            )
            prog.update(task, completed=done, info=info)

        result = train_model(samples, train=tc, joints=joints, progress=on_epoch)
    result.model.save(args.out)
    if args.onnx:
        export_onnx(result.model, args.onnx)
    record = {"out": args.out, "onnx": args.onnx, **result.model.meta, "history": result.history}
    if args.json:
        print(json.dumps(record))
    elif not args.quiet:
        print(f"model written to {args.out}: {len(samples)} samples, {result.seconds:.0f} s, "
              f"best validation MPJPE {result.model.meta.get('best_val_mpjpe_mm')} mm")  # fmt: skip
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        if args.egocentric_command == "train":
            return _train(args)
        if args.egocentric_command == "export":
            from ._model import export_onnx, load_model

            export_onnx(load_model(args.model), args.onnx)
            print(f"{args.model} -> {args.onnx}")
            return 0
        from ._simulate import simulate_sessions

        paths = simulate_sessions(
            args.out,
            list(range(args.first_seed, args.first_seed + args.sessions)),
            seconds=args.seconds,
            people=args.people,
        )
        print("\n".join(str(p) for p in paths))
        return 0
    except (ConfigError, MissingDependencyError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


egocentric_command = Command(
    "egocentric", "egocentric headsets: train / export the learned stereo model, simulate sessions", _configure, _run
)
