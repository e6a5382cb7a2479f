"""``sensorfusion calibrate intrinsics | extrinsics | convert``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sensorfusion import Command, ConfigError, MissingDependencyError

from ._boards import Board, BoardDetection, count_frames, detect_board, glob_key, is_glob, iter_frames, parse_board
from ._quality import DEFAULT_MAX_ASPECT_RATIO, DEFAULT_MIN_COVERAGE
from .formats import detect_format, load_calibration, save_calibration

__all__ = ["calibrate_command", "configure_calibrate", "run_calibrate"]


def _formats() -> Any:
    from sensorfusion.plugins import get_plugin_host

    return get_plugin_host().calibration_formats


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=False)  # fmt: skip


_INVERTED = {"auto": None, "yes": True, "no": False}


def _detect_all(
    board: Board, inputs: Sequence[str], *, label: str, every: int, quiet: bool, inverted: str = "auto"
) -> list[tuple[str, BoardDetection | None]]:
    total = count_frames(inputs, every=every)
    out: list[tuple[str, BoardDetection | None]] = []
    with _progress() as prog:
        task = prog.add_task(f"detecting {board.kind} in {label}", total=total or None, visible=not quiet)
        for name, img in iter_frames(inputs, every=every):
            out.append((name, detect_board(img, board, source=name, inverted=_INVERTED[inverted])))
            prog.advance(task)
    return out


def _warn(lines: Sequence[str]) -> None:
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


def _configure(p: argparse.ArgumentParser) -> None:
    formats = _formats().choices()  # every installed format and alias
    sub = p.add_subparsers(dest="calibrate_command", metavar="{intrinsics,extrinsics,convert}")
    sub.required = True
    pi = sub.add_parser("intrinsics", help="calibrate one camera from board images or videos")
    pi.add_argument(
        "--board", required=True, help="checkerboard:COLSxROWS:SQUARE_M or charuco:COLSxROWS:SQUARE_M:MARKER_M:DICT"
    )
    pi.add_argument("--model", default="pinhole", choices=["pinhole", "fisheye", "omni"])
    pi.add_argument("inputs", nargs="+", metavar="IMAGES_OR_VIDEOS")
    pi.add_argument("--out", required=True, help="calibration file to write (format from the suffix, or --to)")
    pi.add_argument(
        "--to", choices=formats, default=None, help="output format (default: from --out's suffix; .json = sensorfusion)"
    )
    pi.add_argument("--name", default=None, help="sensor id (default: the first input's name)")
    pi.add_argument("--every", type=int, default=1, help="use every N-th video frame")
    pi.add_argument("--no-reject", action="store_true", help="keep outlier frames")
    pi.add_argument("--inverted", choices=list(_INVERTED), default="auto",
                    help="ChArUco printed inverted (white markers on black): auto (default: tried when the normal "
                         "pass finds nothing), yes, no")  # fmt: skip
    pi.add_argument("--min-coverage", type=float, default=DEFAULT_MIN_COVERAGE,
                    help="warn when the board covered less than this fraction of the image (default %(default)s)")  # fmt: skip
    pi.add_argument("--max-aspect-ratio", type=float, default=DEFAULT_MAX_ASPECT_RATIO,
                    help="largest plausible fy/fx (or fx/fy); beyond it the result is degenerate (default %(default)s)")  # fmt: skip
    pi.add_argument("--allow-degenerate", action="store_true",
                    help="write an implausible result (with warnings) instead of exiting 2")  # fmt: skip
    pi.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    pe = sub.add_parser("extrinsics", help="calibrate the poses of several cameras from synchronized board views")
    pe.add_argument("--board", required=True)
    pe.add_argument(
        "--intrinsics", required=True, nargs="+", help="calibration file(s) holding every camera's intrinsics"
    )
    pe.add_argument("--view", action="append", required=True, metavar="CAM=PATH",
                    help="a camera's synchronized images (folder or quoted glob such as 'pairs/left*.png', sorted by "
                         "name) or video; repeat per camera. When every view is a glob, frames pair by the part of "
                         "the name the wildcards matched (left_07.png with right_07.png); otherwise by position")  # fmt: skip
    pe.add_argument("--inverted", choices=list(_INVERTED), default="auto",
                    help="ChArUco printed inverted (white markers on black): auto, yes, no")  # fmt: skip
    pe.add_argument("--out", required=True)
    pe.add_argument("--to", choices=formats, default=None)
    pe.add_argument("--reference", default=None, help="gauge camera (default: the first --view)")
    pe.add_argument("--world", default=None, help="camera:ID | board:FRAME | floor:FRAME (default camera:<reference>)")
    pe.add_argument("--refine-intrinsics", action="store_true")
    pe.add_argument("--loss", default="huber", choices=["huber", "soft_l1", "cauchy", "linear"])
    pe.add_argument("--every", type=int, default=1)
    pe.add_argument("--json", action="store_true")
    pc = sub.add_parser("convert", help="convert a calibration between formats")
    pc.add_argument("input", metavar="IN")
    pc.add_argument("output", metavar="OUT")
    pc.add_argument("--from", dest="from_format", choices=formats, default=None)
    pc.add_argument("--to", dest="to_format", choices=formats, default=None)
    pc.add_argument("--qca-distortion", choices=["raw", "pose2sim"], default="raw",
                    help="how to read/write Qualisys distortion (see the README: Pose2Sim divides it by 64)")  # fmt: skip
    pc.add_argument("--json", action="store_true")


def _out_format(path: Path, to: str | None) -> str:
    if to is not None:
        return str(_formats().get(to, field_path="--to").name)
    try:
        return str(_formats().for_output(path))
    except ConfigError as exc:
        raise ConfigError("cannot tell the output format from the file name; pass --to", field_path="--to",
                          value=str(path), choices=exc.choices) from None  # fmt: skip


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[f"{x:.4g}" if isinstance(x, float) else str(x) for x in r])
    Console(stderr=False).print(t)


def _run_intrinsics(args: argparse.Namespace) -> int:
    from ._intrinsics import CalibrationError, DegenerateCalibrationError, IntrinsicsResult, calibrate_intrinsics
    from ._plots import save_coverage_heatmap

    board = parse_board(args.board, field_path="--board")
    if args.every < 1:
        raise ConfigError("must be >= 1", field_path="--every", value=args.every)
    if not 0.0 <= args.min_coverage <= 1.0:
        raise ConfigError("must be a fraction in [0, 1]", field_path="--min-coverage", value=args.min_coverage)
    if not args.max_aspect_ratio >= 1.0:
        raise ConfigError("must be >= 1", field_path="--max-aspect-ratio", value=args.max_aspect_ratio)
    name = args.name or Path(args.inputs[0]).name.split(".")[0].rstrip("*?[_-") or "camera"
    found = _detect_all(board, args.inputs, label=name, every=args.every, quiet=args.json, inverted=args.inverted)
    dets = [d for _, d in found if d is not None]
    if not dets:
        hint = "" if args.inverted != "auto" or board.kind != "charuco" else " (also looked for an inverted board)"
        raise CalibrationError(
            f"no board ({board.spec()}) found in any of {len(found)} images of {name!r}{hint}", field_path="inputs"
        )
    out = Path(args.out)
    stem = out.parent / out.name.split(".")[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    heat = stem.with_name(f"{stem.name}_coverage_{name}.png")
    report_path = stem.with_name(f"{stem.name}_report.json")
    error: DegenerateCalibrationError | None = None
    try:
        res: IntrinsicsResult = calibrate_intrinsics(
            dets, board, model=args.model, reject_outliers=not args.no_reject, camera=name,
            min_coverage=args.min_coverage, max_aspect_ratio=args.max_aspect_ratio, check=not args.allow_degenerate,
        )  # fmt: skip
    except DegenerateCalibrationError as e:
        error, res = e, e.result
    used = [dets[i] for i, v in enumerate(res.views) if v.used]
    save_coverage_heatmap(heat, used, dets[0].image_size, title=name, min_coverage=args.min_coverage)
    report = {"camera_id": name, "board": board.spec(), "images": len(found), "detected": len(dets),
              "not_detected": [n for n, d in found if d is None], "coverage_png": str(heat),
              "out": None if error else str(out), "error": str(error) if error else None, **res.summary()}  # fmt: skip
    report_path.write_text(json.dumps(report, indent=2))
    if error is not None:  # nothing is written but the report and the plot, which show why
        raise CalibrationError(f"{error.reason}; report: {report_path}", field_path="inputs") from None
    from sensorfusion.schema import RigCalibration, SensorCalibration

    save_calibration(
        RigCalibration(sensors={name: SensorCalibration(camera=res.camera)}), out, _out_format(out, args.to)
    )
    _warn(res.warnings)
    cov = res.coverage
    if args.json:
        print(json.dumps(report))
    else:
        _table(f"{name}: {res.camera.model}, RMS {res.rms_px:.3f} px",
               ["image", "corners", "RMS (px)", "used", "sharpness", "note"],
               [[v.source, v.corners, v.rms_px, "yes" if v.used else "no", v.sharpness, v.reason] for v in res.views]
               + [[n, 0, "", "no", "", "no board found"] for n, d in found if d is None])  # fmt: skip
        params = {k: v for k, v in res.camera.model_dump().items() if k not in ("model",)}
        print(
            "parameters: "
            + ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
        )
        if res.std_px:
            print("standard deviations (px): " + ", ".join(f"{k} {v:.3g}" for k, v in res.std_px.items()))
        if res.inverted_views:
            print(f"board found inverted (white markers on black) in {res.inverted_views} of {len(dets)} images")
        if cov is not None:
            print(f"coverage {cov.area:.0%} of the image area, {cov.cells:.0%} of cells -> {heat}")
        print(f"written {out}; report {report_path}")
    return 0


def _view_detections(
    board: Board, views: dict[str, str], *, every: int, quiet: bool, inverted: str
) -> dict[str, dict[Any, BoardDetection]]:
    """Each camera's detections by frame key: the wildcard part of the file name when every view is a
    glob (``left*.png`` / ``right*.png`` pair ``left_07.png`` with ``right_07.png``), else the position."""
    from ._intrinsics import CalibrationError, check_image_sizes

    by_name = all(is_glob(p) for p in views.values())
    detections: dict[str, dict[Any, BoardDetection]] = {}
    for cam, path in views.items():
        found = _detect_all(board, [path], label=cam, every=every, quiet=quiet, inverted=inverted)
        if by_name:
            keys: list[Any] = [glob_key(path, n) for n, _ in found]
            dup = sorted({k for k in keys if keys.count(k) > 1}, key=str)
            if dup:
                raise ConfigError(
                    f"camera {cam!r}: several files give the same frame key {dup[0]!r} (the part the wildcards match)",
                    field_path=f"--view.{cam}", value=path,
                )  # fmt: skip
        else:
            keys = list(range(len(found)))
        detections[cam] = {k: d for k, (_, d) in zip(keys, found, strict=True) if d is not None}
        if not detections[cam]:
            raise CalibrationError(
                f"camera {cam!r}: no board ({board.spec()}) found in {len(found)} frames of {path}",
                field_path=f"--view.{cam}",
            )
        check_image_sizes(list(detections[cam].values()), camera=cam)
    if by_name and len(views) > 1:
        shared = set.intersection(*(set(d) for d in detections.values()))
        if not shared:
            examples = {c: sorted(map(str, d))[:3] for c, d in detections.items()}
            raise CalibrationError(
                "the views' file names share no frame key (the part the wildcards match): "
                + "; ".join(f"{c}: {', '.join(k)}" for c, k in examples.items()),
                field_path="--view",
            )
    return detections


def _run_extrinsics(args: argparse.Namespace) -> int:
    from sensorfusion.schema import PinholeCamera, RigCalibration

    from ._extrinsics import calibrate_extrinsics
    from ._plots import save_residual_plot

    board = parse_board(args.board, field_path="--board")
    intr = RigCalibration()
    notes: list[str] = []
    for path in args.intrinsics:
        loaded = load_calibration(path)
        notes += [f"{path}: {n}" for n in loaded.notes()]
        intr = loaded.merged(intr)
    views: dict[str, str] = {}
    for v in args.view:
        cam, sep, path = v.partition("=")
        if not sep or not cam or not path:
            raise ConfigError("--view must read CAM=PATH", field_path="--view", value=v)
        if cam in views:
            raise ConfigError("camera given twice", field_path="--view", value=cam)
        views[cam] = path
    cams: dict[str, PinholeCamera] = {}
    for cam in views:
        c = intr.camera(cam)
        if not isinstance(c, PinholeCamera):
            raise ConfigError("extrinsics support pinhole intrinsics", field_path=f"--intrinsics.{cam}", value=c.model)
        cams[cam] = c
    detections = _view_detections(board, views, every=args.every, quiet=args.json, inverted=args.inverted)
    res = calibrate_extrinsics(board, cams, detections, reference=args.reference, world=args.world,
                               refine_intrinsics=args.refine_intrinsics, loss=args.loss)  # fmt: skip
    out = Path(args.out)
    save_calibration(res.rig, out, _out_format(out, args.to))
    stem = out.parent / out.name.split(".")[0]
    plot = stem.with_name(f"{stem.name}_residuals.png")
    save_residual_plot(plot, res.residuals_px)
    summary = {"out": str(out), "residual_png": str(plot), "notes": notes, **res.summary()}
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary))
    else:
        rows = []
        for sid in res.rms_px:
            t = res.rig.sensors[sid].world_from_sensor.translation_m
            rows.append(
                [
                    sid,
                    res.rms_px[sid],
                    res.observations[sid],
                    res.outliers[sid],
                    f"({t[0]:.3f}, {t[1]:.3f}, {t[2]:.3f})",
                ]
            )
        _table(
            f"extrinsics from {len(res.world_from_board)} board poses",
            ["camera", "RMS (px)", "corners", "outliers", "position (m)"],
            rows,
        )
        print(f"written {out}; residuals -> {plot}")
    return 0


def _run_convert(args: argparse.Namespace) -> int:
    src, dst = Path(args.input), Path(args.output)
    fmt_in = _formats().get(args.from_format, field_path="--from").name if args.from_format else detect_format(src)
    fmt_out = _out_format(dst, args.to_format)
    opts_in = {"distortion": args.qca_distortion} if fmt_in == "qualisys" else {}
    opts_out = {"distortion": args.qca_distortion} if fmt_out == "qualisys" else {}
    cal = load_calibration(src, fmt_in, **opts_in)
    save_calibration(cal, dst, fmt_out, **opts_out)
    notes = cal.notes()
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    info = {"in": str(src), "from": fmt_in, "out": str(dst), "to": fmt_out, "sensors": sorted(cal.sensors),
            "notes": notes}  # fmt: skip
    print(json.dumps(info) if args.json else f"{src} ({fmt_in}) -> {dst} ({fmt_out}): {len(cal.sensors)} camera(s)")
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        if args.calibrate_command == "intrinsics":
            return _run_intrinsics(args)
        if args.calibrate_command == "extrinsics":
            return _run_extrinsics(args)
        return _run_convert(args)
    except ConfigError as e:
        print(f"sensorfusion calibrate {args.calibrate_command}: error: {e}", file=sys.stderr)
        return 2
    except MissingDependencyError as e:
        print(f"sensorfusion calibrate {args.calibrate_command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # cannot write the output (read-only disk, permissions, full): one line, exit 1
        where = f" {e.filename}" if e.filename else ""
        print(
            f"sensorfusion calibrate {args.calibrate_command}: error: cannot write{where}: {e.strerror or e}",
            file=sys.stderr,
        )
        return 1


def calibrate_command() -> Command:
    return Command(
        "calibrate", "calibrate cameras (intrinsics, extrinsics) and convert calibration files", _configure, _run
    )


#: the ``calibrate`` command's parts, referenced lazily by the plugin
configure_calibrate = _configure
run_calibrate = _run
