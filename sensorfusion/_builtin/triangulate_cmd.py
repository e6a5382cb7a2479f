"""Built-in plugin: the ``sensorfusion triangulate`` command.

Offline 3D from 2D keypoints another tool wrote: OpenPose-format JSON folders (one file per
frame; ``people[i].pose_keypoints_2d`` = flat x, y, confidence), a calibration in any format
``sensorfusion-calibration`` reads, and out comes a TRC file (OpenSim / Pose2Sim), JSON, or a
session. See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._components import Command
from .._errors import ConfigError, MissingDependencyError, SensorfusionError
from ..hookspecs import hookimpl
from ..schema._calibration import RigCalibration
from ..schema._skeletons import SkeletonSpec, builtin_skeletons

__all__ = ["POSE2SIM_BODY25B_MARKERS", "read_openpose_folder", "write_trc"]

#: Pose2Sim's BODY_25B marker names (its skeleton tree, in the order its TRC files list them)
#: and the body_25b joint each one is. Eyes and ears are not in Pose2Sim's tree.
POSE2SIM_BODY25B_MARKERS: tuple[tuple[str, str], ...] = (
    ("RHip", "right_hip"),
    ("RKnee", "right_knee"),
    ("RAnkle", "right_ankle"),
    ("RBigToe", "right_big_toe"),
    ("RSmallToe", "right_small_toe"),
    ("RHeel", "right_heel"),
    ("LHip", "left_hip"),
    ("LKnee", "left_knee"),
    ("LAnkle", "left_ankle"),
    ("LBigToe", "left_big_toe"),
    ("LSmallToe", "left_small_toe"),
    ("LHeel", "left_heel"),
    ("Neck", "upper_neck"),
    ("Head", "head_top"),
    ("Nose", "nose"),
    ("RShoulder", "right_shoulder"),
    ("RElbow", "right_elbow"),
    ("RWrist", "right_wrist"),
    ("LShoulder", "left_shoulder"),
    ("LElbow", "left_elbow"),
    ("LWrist", "left_wrist"),
)


def _markers(skel: SkeletonSpec) -> list[tuple[str, int]]:
    """(TRC marker name, joint index) for a skeleton."""
    if skel.name == "body_25b":
        return [(m, skel.index(j)) for m, j in POSE2SIM_BODY25B_MARKERS]
    return [("".join(w.capitalize() for w in name.split("_")), i) for i, name in enumerate(skel.joints)]


def _check_writable(out: Path) -> None:
    """The output's folder exists (created) and takes a file; else one line, exit 1."""
    import errno
    import os
    import tempfile

    from .._errors import StoreError

    try:
        out.resolve().parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".sensorfusion-probe-", dir=out.resolve().parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, "")
        raise StoreError(f"cannot write {out}: {os.strerror(exc.errno) if exc.errno else exc} [{code}]") from None


def _frame_number(path: Path, fallback: int) -> int:
    nums = re.findall(r"\d+", path.stem)
    return int(nums[-1]) if nums else fallback


def read_openpose_folder(folder: Path, num_joints: int) -> dict[int, np.ndarray]:
    """``{frame number: (P, J, 3)}`` from a folder of OpenPose JSON files (frame number: the last
    integer in the file name). Entries without ``pose_keypoints_2d`` are skipped; a wrong
    keypoint count raises :class:`ConfigError`."""
    files = sorted(folder.glob("*.json"))
    out: dict[int, np.ndarray] = {}
    for k, f in enumerate(files):
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read OpenPose JSON {f}: {e}", field_path="--view", value=str(f)) from e
        people = []
        entries = doc.get("people", []) if isinstance(doc, dict) else []
        if not isinstance(entries, list):
            raise ConfigError(f"{f}: 'people' must be a list", field_path="--view", value=entries)
        for p in entries:
            kp = p.get("pose_keypoints_2d") if isinstance(p, dict) else None
            if not kp:
                continue
            try:
                if not isinstance(kp, list) or any(isinstance(v, (str, bool)) for v in kp):
                    raise TypeError
                a = np.asarray(kp, dtype=np.float64)
            except (TypeError, ValueError):
                raise ConfigError(f"{f}: pose_keypoints_2d must be a flat list of numbers", field_path="--view", value=kp) from None
            if a.size % 3:
                raise ConfigError(
                    f"{f}: pose_keypoints_2d has {a.size} values, not a multiple of 3 (x, y, confidence per "
                    f"keypoint); the skeleton needs {3 * num_joints}",
                    field_path="--skeleton",
                )
            if a.size != 3 * num_joints:
                raise ConfigError(
                    f"{f}: pose_keypoints_2d has {a.size // 3} keypoints, the skeleton has {num_joints}",
                    field_path="--skeleton",
                    value=a.size // 3,
                )
            a = a.reshape(num_joints, 3)
            a[(a[:, 2] <= 0) | ~np.isfinite(a).all(-1), :2] = np.nan  # OpenPose writes 0, 0, 0 for a miss
            people.append(a)
        out[_frame_number(f, k)] = np.stack(people) if people else np.zeros((0, num_joints, 3))
    return out


def write_trc(
    path: Path, joints_world: np.ndarray, frames: Sequence[int], rate_hz: float, markers: Sequence[tuple[str, int]]
) -> None:
    """Write ``joints_world (T, J, 3)`` metres as an OpenSim TRC with Y up (TRC X, Y, Z = world
    Y, Z, X, as Pose2Sim writes Z-up calibrations). Missing values are left blank."""
    idx = [i for _, i in markers]
    X = joints_world[:, idx][..., [1, 2, 0]]
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate_hz:g}\t{rate_hz:g}\t{len(frames)}\t{len(markers)}\tm\t{rate_hz:g}\t{frames[0] if len(frames) else 0}\t{len(frames)}",
        "Frame#\tTime\t" + "\t\t\t".join(m for m, _ in markers) + "\t\t",
        "\t\t" + "\t".join(f"X{k + 1}\tY{k + 1}\tZ{k + 1}" for k in range(len(markers))),
        "",
    ]
    for r, f in enumerate(frames):
        vals = "\t".join("" if not math.isfinite(v) else repr(float(v)) for v in X[r].reshape(-1))
        lines.append(f"{f + 1}\t{(f + 1) / rate_hz!r}\t{vals}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _load_calibration(path: str, fmt: str | None) -> RigCalibration:
    from .._calibration_io import load_calibration

    try:
        return load_calibration(path, fmt)
    except ConfigError as exc:
        sub = "--calibration-format" if exc.field_path == "format" else "--calibration"
        raise ConfigError(exc.reason, field_path=sub, value=exc.value if exc.value is not None else path,
                          choices=exc.choices, source=exc.source) from None  # fmt: skip


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--calibration",
        required=True,
        metavar="CALIB",
        help="calibration file (any installed format: sensorfusion plugins lists them)",
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
    p.add_argument("--skeleton", default="body_25b", help="skeleton of the keypoints (body_25b, coco17, ...)")
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
        "--fps", type=float, default=30.0, help="frame rate of the videos (TRC DataRate, tracking time step)"
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
        help="OUT.trc (one file per person: _P1, _P2... when several), OUT.json or OUT.zarr",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _run(args: argparse.Namespace) -> int:
    try:
        return _triangulate(args)
    except (ConfigError, MissingDependencyError) as e:
        print(f"sensorfusion triangulate: {e}", file=sys.stderr)
        return 2
    except SensorfusionError as e:
        print(f"sensorfusion triangulate: {e}", file=sys.stderr)
        return 1


def _triangulate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from ..fusion._cameras import view_model
    from ..fusion._filters import butterworth_zero_phase, fill_gaps
    from ..fusion._pipeline import FusionSettings, PersonFusion

    out = Path(args.out)
    if out.suffix.lower() not in (".trc", ".json", ".zarr"):
        raise ConfigError(
            "--out must end in .trc, .json or .zarr",
            field_path="--out",
            value=str(out),
            choices=[".trc", ".json", ".zarr"],
        )
    _check_writable(out)  # before the work, not after it
    skeletons = {s.name: s for s in builtin_skeletons()}
    if args.skeleton not in skeletons:
        raise ConfigError("unknown skeleton", field_path="--skeleton", value=args.skeleton, choices=sorted(skeletons))
    skel = skeletons[args.skeleton]
    cal = _load_calibration(args.calibration, args.calibration_format)
    by_norm = {_norm(k): k for k in cal.sensors}
    names: list[str] = []
    folders: list[Path] = []
    models = []
    for spec in args.view:
        if "=" not in spec:
            raise ConfigError("--view must be NAME=DIR", field_path="--view", value=spec)
        name, d = spec.split("=", 1)
        sensor = name if name in cal.sensors else by_norm.get(_norm(name))
        if sensor is None:
            raise ConfigError(
                "camera not in the calibration", field_path="--view", value=name, choices=sorted(cal.sensors)
            )
        folder = Path(d)
        if not folder.is_dir():
            raise ConfigError("not a folder", field_path="--view", value=d)
        names.append(name)
        folders.append(folder)
        models.append(
            view_model(cal.camera(sensor), cal.sensors[sensor].world_from_sensor, field_path=f"--view {name}")
        )
    if len(names) < 2:
        raise ConfigError("triangulation needs at least two --view", field_path="--view", value=names)
    if args.tier != "auto":
        from ..kernels import resolve_tier

        resolve_tier(args.tier, field_path="--tier")
    per_view = [read_openpose_folder(f, skel.num_joints) for f in folders]
    frames = sorted(set().union(*[set(p) for p in per_view]))
    if not frames:
        raise ConfigError(
            "no OpenPose JSON files in the --view folders", field_path="--view", value=[str(f) for f in folders]
        )
    settings = FusionSettings(
        multiperson=args.multiperson,
        min_confidence=args.min_confidence,
        robust=args.robust,
        threshold_px=args.threshold_px,
        refine_iters=args.refine if args.refine is not None else (2 if args.robust else 0),
        tier=args.tier,
        filter=args.filter if args.filter in ("one_euro", "kalman") else "none",
    )
    fusion = PersonFusion(models, skel.parents, settings)
    results: dict[int, dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}  # track -> frame -> data
    console = Console(stderr=True)
    with Progress(
        TextColumn("triangulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=args.quiet,
        transient=True,
    ) as bar:
        task = bar.add_task("frames", total=len(frames))
        for f in frames:
            r = fusion.step(f / args.fps, [pv.get(f) for pv in per_view], stamp=f)
            for fr in (*r.backfill, r):  # back-fill: earlier frames of tracks confirmed now
                for k, tid in enumerate(fr.track_id.tolist()):
                    results.setdefault(tid, {})[fr.stamp] = (fr.joints[k], fr.reprojection_error_px[k], fr.views[k])
            bar.advance(task)
    tracks = sorted(results)
    T, J = len(frames), skel.num_joints
    fidx = {f: i for i, f in enumerate(frames)}
    series: dict[int, np.ndarray] = {}
    for tid in tracks:
        X = np.full((T, J, 3), np.nan)
        for f, (x, _, _) in results[tid].items():
            X[fidx[f]] = x
        if args.fill_gaps > 0:
            X = fill_gaps(X, args.fill_gaps)
        if args.filter == "butterworth":
            X = butterworth_zero_phase(X, args.fps, args.cutoff_hz, order=4)
        series[tid] = X
    _write(out, args, skel, frames, tracks, series, results, fusion, names, cal)
    table = Table(title="reprojection error per camera (inlier observations)")
    for col in ("camera", "mean px", "inliers", "rejected"):
        table.add_column(col, justify="right" if col != "camera" else "left")
    for name, s in zip(names, fusion.reprojection_summary(), strict=True):
        table.add_row(
            name,
            f"{s['mean_reprojection_error_px']:.2f}",
            str(s["inlier_observations"]),
            str(s["rejected_observations"]),
        )
    console.print(table)
    console.print(f"{len(frames)} frames, {len(tracks)} {'person' if len(tracks) == 1 else 'people'} → {out}")
    return 0


def _write(
    out: Path,
    args: argparse.Namespace,
    skel: SkeletonSpec,
    frames: list[int],
    tracks: list[int],
    series: dict[int, np.ndarray],
    results: dict[int, dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]],
    fusion: Any,
    names: list[str],
    cal: RigCalibration,
) -> None:
    suffix = out.suffix.lower()
    if suffix == ".trc":
        markers = _markers(skel)
        if len(tracks) <= 1:
            write_trc(
                out,
                series[tracks[0]] if tracks else np.full((len(frames), skel.num_joints, 3), np.nan),
                frames,
                args.fps,
                markers,
            )
        else:
            for k, tid in enumerate(tracks):
                write_trc(out.with_name(f"{out.stem}_P{k + 1}{out.suffix}"), series[tid], frames, args.fps, markers)
        return
    if suffix == ".json":
        doc = {
            "skeleton": skel.name,
            "joints": list(skel.joints),
            "units": "m",
            "frame_rate_hz": args.fps,
            "axes": "calibration world (not remapped)",
            "views": names,
            "per_view": dict(zip(names, fusion.reprojection_summary(), strict=True)),
            "frames": [
                {
                    "frame": f,
                    "people": [
                        {
                            "id": tid,
                            "joints": [[None if not math.isfinite(c) else float(c) for c in j] for j in series[tid][i]],
                            "reprojection_error_px": [
                                None if not math.isfinite(e) else float(e) for e in results[tid][f][1]
                            ],
                            "views": [int(v) for v in results[tid][f][2]],
                        }
                        for tid in tracks
                        if f in results[tid]
                    ],
                }
                for i, f in enumerate(frames)
            ],
        }
        out.write_text(json.dumps(doc), encoding="utf-8")
        return
    from ..schema._streams import FieldSpec, Frame, FrameKind, StreamSpec
    from ..store import SessionWriter

    J = skel.num_joints
    spec = StreamSpec(
        name="triangulate/skeleton3d",
        kind=FrameKind.SKELETON3D,
        ragged=True,
        skeleton=skel.name,
        fields={
            "joints": FieldSpec(dtype="float32", shape=(J, 3)),
            "person_id": FieldSpec(dtype="int64"),
            "reprojection_error_px": FieldSpec(dtype="float32", shape=(J,)),
            "views": FieldSpec(dtype="int8", shape=(J,)),
        },
    )
    rig = {
        "name": "sensorfusion-triangulate",
        "views": names,
        "skeleton": skel.name,
        "frame_rate_hz": args.fps,
        "calibration_file": str(args.calibration),
    }
    w = SessionWriter(out, rig=rig, calibration=cal)
    w.add_stream(spec, stage="triangulate")
    for i, f in enumerate(frames):
        here = [tid for tid in tracks if f in results[tid]]
        t_ns = round(f / args.fps * 1e9)
        data: dict[str, np.ndarray] = {
            "joints": np.stack([series[t][i] for t in here]).astype(np.float32)
            if here
            else np.zeros((0, J, 3), np.float32),
            "person_id": np.asarray(here, dtype=np.int64),
            "reprojection_error_px": np.stack([results[t][f][1] for t in here]).astype(np.float32)
            if here
            else np.zeros((0, J), np.float32),
            "views": np.stack([np.minimum(results[t][f][2], 127) for t in here]).astype(np.int8)
            if here
            else np.zeros((0, J), np.int8),
        }
        w.write(Frame(spec.name, t_ns, t_ns, i, data), stage="triangulate")
    w.close({"per_view": dict(zip(names, fusion.reprojection_summary(), strict=True))})


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    return [
        Command(
            "triangulate",
            "3D keypoints from OpenPose JSON folders and a calibration (TRC, JSON or session)",
            _configure,
            _run,
        )
    ]
