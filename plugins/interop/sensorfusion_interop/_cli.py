"""``sensorfusion triangulate``: 3D keypoints from OpenPose JSON folders and a calibration.

The arguments and the exit codes are documented in ``docs/cli.md``: 0 written, 2 bad input
(the message names the argument), 1 a failure while running.
"""

from __future__ import annotations

import argparse
import sys

from sensorfusion import ConfigError, MissingDependencyError, SensorfusionError

__all__ = ["configure_triangulate", "run_triangulate"]

_OUTPUTS = (".trc", ".json", ".zarr")


def configure_triangulate(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--calibration",
        required=True,
        metavar="CALIB",
        help="calibration file in any installed format (sensorfusion plugins lists them)",
    )
    p.add_argument(
        "--calibration-format", default=None, metavar="FMT", help="force the calibration format (default: detected)"
    )
    p.add_argument(
        "--view",
        action="append",
        required=True,
        metavar="NAME=DIR",
        help="a camera (its calibration id) and its OpenPose JSON folder; repeat",
    )
    p.add_argument("--skeleton", default="body_25b", help="skeleton of the keypoints (body_25b, coco17, or a plugin's)")
    p.add_argument(
        "--multiperson",
        action="store_true",
        help="several people: associate across views and track (ids in the files are ignored)",
    )
    p.add_argument(
        "--robust", action="store_true", help="reject outlier views (reprojection threshold, pair search) and refine"
    )
    p.add_argument(
        "--min-confidence",
        type=float,
        default=0.3,
        help="keypoints at or below this confidence are left out (default 0.3)",
    )
    p.add_argument(
        "--threshold-px",
        type=float,
        default=15.0,
        help="robust mode: outlier reprojection threshold in pixels (default 15)",
    )
    p.add_argument(
        "--refine", type=int, default=None, help="Gauss-Newton iterations (default: 2 with --robust, else 0)"
    )
    p.add_argument(
        "--fps",
        type=float,
        default=None,
        help="frame rate (default: from the source - a Pose2Sim Config.toml or the views' videos - else 30, announced)",
    )
    p.add_argument(
        "--filter",
        choices=["none", "butterworth", "one_euro", "kalman"],
        default="none",
        help="temporal filter (default none: raw)",
    )
    p.add_argument(
        "--cutoff-hz",
        type=float,
        default=6.0,
        help="butterworth: cut-off frequency (default 6 Hz, order 4, zero phase)",
    )
    p.add_argument(
        "--fill-gaps",
        type=int,
        default=0,
        metavar="N",
        help="linearly interpolate gaps of at most N frames (default 0: none)",
    )
    p.add_argument("--tier", choices=["auto", "numpy", "cpu", "cuda"], default="auto", help="kernel tier")
    p.add_argument(
        "--out",
        required=True,
        metavar="OUT",
        help="OUT.trc (one file per person: _P1, _P2... when several), OUT.json or OUT.zarr; folders are created",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")  # fmt: skip


def run_triangulate(args: argparse.Namespace) -> int:
    try:
        return _triangulate(args)
    except (ConfigError, MissingDependencyError) as e:
        print(f"sensorfusion triangulate: {e}", file=sys.stderr)
        return 2
    except SensorfusionError as e:
        print(f"sensorfusion triangulate: {e}", file=sys.stderr)
        return 1


def _check_writable(out: object) -> None:
    """The output's folder exists (created) and takes a file; else a :class:`StoreError` (exit 1)."""
    import errno
    import os
    import tempfile
    from pathlib import Path

    from sensorfusion import StoreError

    folder = Path(str(out)).resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".sensorfusion-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, "")
        raise StoreError(f"cannot write {out}: {os.strerror(exc.errno) if exc.errno else exc} [{code}]") from None


def _triangulate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from sensorfusion import load_calibration
    from sensorfusion.fusion import FusionSettings
    from sensorfusion.plugins import get_plugin_host

    from ._frame_rate import find_frame_rate
    from ._triangulate import triangulate_openpose
    from ._writers import write_json, write_session, write_trc_people

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in _OUTPUTS:
        raise ConfigError(
            "--out must end in .trc, .json or .zarr", field_path="--out", value=str(out), choices=list(_OUTPUTS)
        )
    if out.exists() and out.is_dir() and suffix != ".zarr":
        raise ConfigError("--out is a folder; give a file name", field_path="--out", value=str(out))
    _check_writable(out)  # before the work, not after it
    skeleton = get_plugin_host().skeletons.get(args.skeleton, field_path="--skeleton")
    try:
        cal = load_calibration(args.calibration, args.calibration_format)
    except ConfigError as exc:
        sub = "--calibration-format" if exc.field_path == "format" else "--calibration"
        raise ConfigError(exc.reason, field_path=sub, value=exc.value if exc.value is not None else args.calibration,
                          choices=exc.choices, source=exc.source) from None  # fmt: skip
    views = []
    for spec in args.view:
        if "=" not in spec:
            raise ConfigError("--view must be NAME=DIR", field_path="--view", value=spec)
        name, folder = spec.split("=", 1)
        views.append((name, Path(folder)))
    rate = find_frame_rate([f for _, f in views], [n for n, _ in views], given=args.fps)
    console = Console(stderr=True)
    settings = FusionSettings(
        multiperson=args.multiperson,
        min_confidence=args.min_confidence,
        robust=args.robust,
        threshold_px=args.threshold_px,
        refine_iters=args.refine if args.refine is not None else (2 if args.robust else 0),
        tier=args.tier,
        filter=args.filter if args.filter in ("one_euro", "kalman") else "none",
    )
    columns = (TextColumn("triangulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=args.quiet, transient=True) as bar:
        task = bar.add_task("frames", total=None)
        result = triangulate_openpose(
            cal,
            views,
            skeleton,
            settings,
            frame_rate=rate,
            fill_gaps_frames=args.fill_gaps,
            butterworth_cutoff_hz=args.cutoff_hz if args.filter == "butterworth" else None,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if not args.quiet or rate.defaulted:  # after the work: a failure stays one line
        console.print(rate.describe(), style="yellow" if rate.defaulted else None, highlight=False)
    if suffix == ".trc":
        written = write_trc_people(result, out)
    elif suffix == ".json":
        written = [write_json(result, out)]
    else:
        written = [write_session(result, out, cal, calibration_file=str(args.calibration))]
    table = Table(title="reprojection error per camera (inlier observations)")
    for col in ("camera", "mean px", "inliers", "rejected"):
        table.add_column(col, justify="right" if col != "camera" else "left")
    for name, s in result.per_view.items():
        table.add_row(
            name,
            f"{s['mean_reprojection_error_px']:.2f}",
            str(s["inlier_observations"]),
            str(s["rejected_observations"]),
        )
    if not args.quiet:
        console.print(table)
    n = len(result.tracks)
    console.print(f"{len(result.frames)} frames at {rate.hz:g} fps, {n} {'person' if n == 1 else 'people'} -> "
                  + ", ".join(str(p) for p in written), highlight=False)  # fmt: skip
    return 0
