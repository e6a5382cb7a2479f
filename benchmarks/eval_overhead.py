"""Overhead fisheye cameras: detection AP50, floor localisation, tracking and counts on held-out simulated sessions.

    python benchmarks/eval_overhead.py [--seconds 30] [--seeds 201 202 203 204] [--rectified-every 5]
                                       [--onnx MODEL.onnx --onnx-format rapid|loaf]

Held-out sessions (seeds 201-204, never run before the figures were taken; development used
3, 5, 11, 21, and 101-103 were inspected while diagnosing the tracker): an 8 m x 6 m simulated room, 6 people walking, waving, crouching, passing close to each
other and under the cameras; two 190-degree ceiling fisheye cameras 3 m up at (-2, 0) and
(2, 0), 512 x 512 px, 10 fps; one lens model per session (Kannala-Brandt, double sphere,
Scaramuzza, Fisheye624, in the order of the seeds). Scored against the simulator's ground truth:

* **Detection AP50** (rotated IoU, COCO 101-point; people less than 30 % visible are
  "ignore") of each detection path: ``overhead.sim`` (the simulated detector's error model),
  ``overhead.rectified`` (model-free: ``sim.keypoints2d`` in 8 + 1 virtual perspective views,
  on every ``--rectified-every``-th frame), and ``overhead.onnx`` when a model is given.
* **Localisation** (metres, per detection of one camera, and per track): ours (feet end +
  head end + height prior, or ankles), and two peers on the same boxes — the box centre's ray
  on the floor, and the feet end alone; LOAF's reported ~0.5 m is the anchor.
* **Tracking** with one camera (``ceil0`` only) and with both: track localisation, id
  switches per minute (CLEAR-MOT), count accuracy (frames whose number of tracks is right),
  zone-count accuracy (two zones, west and east halves).
* **Latency per frame** of each stage on this machine (median; rendering excluded), and the
  rotated-IoU kernel against its numpy reference and OpenCV's ``rotatedRectangleIntersection``
  on the same boxes (speed ratio).

Prints a table, then ONE JSON line with ``loc_median_m_1cam``, ``loc_p90_m_1cam``,
``loc_median_m_2cam``, ``ap50_rectified``, ``id_switches_per_min`` and the ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np

MODELS = ("kannala_brandt", "double_sphere", "scaramuzza", "fisheye624")
ZONES = [
    {"name": "west", "polygon_m": [[-4, -3], [0, -3], [0, 3], [-4, 3]]},
    {"name": "east", "polygon_m": [[0, -3], [4, -3], [4, 3], [0, 3]]},
]
LOAF_M = 0.5


def _stats(x: list[float]) -> dict[str, float | None]:
    a = np.asarray(x, dtype=np.float64)
    if not a.size:
        return {"median": None, "p90": None, "n": 0}
    return {"median": float(np.median(a)), "p90": float(np.percentile(a, 90)), "n": int(a.size)}


def _nearest(points: np.ndarray, gt: np.ndarray, gate: float = 1.0) -> list[float]:
    from sensorfusion_overhead import pair_positions

    _, _, d = pair_positions(points, gt, gate)
    return [float(v) for v in d]


def run_session(seed: int, model: str, args: argparse.Namespace, acc: dict[str, Any]) -> None:
    from sensorfusion_overhead import (
        FloorTracks,
        LocaliseParams,
        OverheadCamera,
        OverheadLocalise,
        RectifiedDetector,
        RectifiedParams,
        SimOverheadDetector,
        SimOverheadParams,
        TrackScores,
        localise_detections,
        rbox_ends,
        zone_of,
    )
    from sensorfusion_overhead._tracker import Zone
    from sensorfusion_sim import SimRigDriver, SimRigParams

    from sensorfusion import DriverContext, FrameSet, StageContext
    from sensorfusion.schema import SkeletonRegistry, builtin_skeletons

    fps = 10.0
    p = SimRigParams(cameras=0, ceiling_cameras=2, people=6, room_m=(8.0, 6.0), fps=fps,
                     ceiling={"model": model, "fov_deg": 190, "height_m": 3.0, "width": 512, "height": 512,
                              "positions_m": [[-2.0, 0.0], [2.0, 0.0]]})  # fmt: skip
    drv = SimRigDriver(p, DriverContext(sensor_id="sim", seed=seed, realtime=False))
    specs = {s.name: s for s in drv.streams()}
    cal = drv.calibration()
    reg = SkeletonRegistry(builtin_skeletons())
    cams = ("ceil0", "ceil1")
    det = SimOverheadDetector(
        SimOverheadParams(), StageContext("det", [specs[f"{c}/gt_rboxes"] for c in cams], cal, reg, seed=seed)
    )
    loc = OverheadLocalise(LocaliseParams(), StageContext("loc", det.outputs(), cal, reg))
    floor_specs = {s.sensor: s for s in loc.outputs()}
    trk1 = FloorTracks(
        FloorTracks.Params.model_validate({"zones": ZONES}), StageContext("one", [floor_specs["ceil0"]], cal, reg)
    )
    trk2 = FloorTracks(
        FloorTracks.Params.model_validate({"zones": ZONES}), StageContext("two", list(floor_specs.values()), cal, reg)
    )
    rect = RectifiedDetector(
        RectifiedParams(estimator={"name": "sim.keypoints2d", "params": {"identities": False}}),
        StageContext("rect", [specs[f"{c}/image"] for c in cams] + [specs["gt/skeleton3d"]], cal, reg, seed=seed),
    )
    onnx = None
    if args.onnx:
        from sensorfusion_overhead import OnnxRotatedDetector, OnnxRotatedParams

        onnx = OnnxRotatedDetector(OnnxRotatedParams(model_path=args.onnx, format=args.onnx_format),
                                   StageContext("onnx", [specs[f"{c}/image"] for c in cams], cal, reg))  # fmt: skip
    cameras = {c: OverheadCamera.from_calibration(cal, c) for c in cams}
    zones = [Zone.model_validate(z) for z in ZONES]
    scores = {"1cam": TrackScores(), "2cam": TrackScores()}
    zone_ok = {"1cam": 0, "2cam": 0}
    zone_n = 0
    frames = round(args.seconds * fps)
    for i in range(frames):
        fr = {f.stream: f for f in drv.frames_at(i)}
        fs = FrameSet(i, fr["gt/floor"].t_sensor_ns, 0, dict(fr))
        gt = fr["gt/floor"]
        gxy = np.asarray(gt["position_m"], np.float64)
        t0 = time.perf_counter()
        out = det.process(fs)
        acc["latency_ms"]["overhead.sim (2 cameras)"].append(1e3 * (time.perf_counter() - t0))
        for k, v in out.items():
            fs.add(k, v)
        t0 = time.perf_counter()
        out = loc.process(fs)
        acc["latency_ms"]["overhead.localise (2 cameras)"].append(1e3 * (time.perf_counter() - t0))
        for k, v in out.items():
            fs.add(k, v)
        for name, trk in (("1cam", trk1), ("2cam", trk2)):
            t0 = time.perf_counter()
            out = trk.process(fs)
            acc["latency_ms"][f"overhead.floor_tracks ({name})"].append(1e3 * (time.perf_counter() - t0))
            tr = out[f"{trk.context.stage_id}/tracks"]
            txy = np.asarray(tr["position_m"], np.float64)[:, :2]
            scores[name].add(i / fps, txy, tr["track_id"], gxy, gt["person_id"])
            est_z = np.bincount(
                np.maximum(zone_of(txy, zones), 0), weights=(zone_of(txy, zones) >= 0).astype(float), minlength=2
            )
            gz = zone_of(gxy, zones)
            true_z = np.bincount(np.maximum(gz, 0), weights=(gz >= 0).astype(float), minlength=2)
            zone_ok[name] += int(np.sum(est_z == true_z))
        zone_n += 2
        for c in cams:
            g = fr[f"{c}/gt_rboxes"]
            d = fs.frames[f"{c}/rboxes"]
            acc["ap"]["sim"].add(d["rbox"], d["score"], g["rbox"], g["visible_fraction"])
            f = fs.frames[f"{c}/floor"]
            errs = _nearest(np.asarray(f["position_m"], np.float64)[:, :2], gxy)
            acc["loc_det"]["ours"].extend(errs)
            if c == "ceil0":
                acc["loc_det_ceil0"].extend(errs)
            # peers on the same boxes: the box centre's ray on the floor; the feet end alone
            boxes = np.asarray(d["rbox"], np.float64)
            keep = d["score"] >= 0.0
            oc = cameras[c]
            inside = oc.inside_image_circle(boxes[:, :2])
            centre = oc.floor_points(boxes[inside, :2], 0.0)
            acc["loc_det"]["peer_box_centre"].extend(_nearest(centre, gxy))
            top, bottom = rbox_ends(boxes[inside]) if inside.any() else (np.zeros((0, 2)), np.zeros((0, 2)))
            nadir = oc.nadir_px
            inner = np.where((np.hypot(*(top - nadir).T) < np.hypot(*(bottom - nadir).T))[:, None], top, bottom)
            feet = oc.floor_points(inner, 0.0)
            cxy = oc.centre_m[:2]
            v = feet - cxy
            dist = np.hypot(v[:, 0], v[:, 1])
            with np.errstate(invalid="ignore", divide="ignore"):
                feet = cxy + v * ((dist + 0.15) / np.maximum(dist, 1e-9))[:, None]
            acc["loc_det"]["peer_feet_end"].extend(_nearest(feet, gxy))
            del keep
        if i % args.rectified_every == 0:
            t0 = time.perf_counter()
            rout = rect.process(fs)
            acc["latency_ms"]["overhead.rectified (per camera frame)"].append(
                1e3 * (time.perf_counter() - t0) / len(cams)
            )
            for c in cams:
                g = fr[f"{c}/gt_rboxes"]
                r = rout[f"{c}/rboxes"]
                acc["ap"]["rectified"].add(r["rbox"], r["score"], g["rbox"], g["visible_fraction"])
                est = localise_detections(cameras[c], r["rbox"], feet_px=r["feet_px"])
                ok = np.all(np.isfinite(est.position_m), axis=1)
                acc["loc_det"]["rectified"].extend(_nearest(est.position_m[ok], gxy))
        if onnx is not None:
            t0 = time.perf_counter()
            oout = onnx.process(fs)
            acc["latency_ms"]["overhead.onnx (per camera frame)"].append(1e3 * (time.perf_counter() - t0) / len(cams))
            for c in cams:
                g = fr[f"{c}/gt_rboxes"]
                r = oout[f"{c}/rboxes"]
                acc["ap"]["onnx"].add(r["rbox"], r["score"], g["rbox"], g["visible_fraction"])
    for name in ("1cam", "2cam"):
        acc["tracks"][name].append(scores[name].summary())
        acc["zone"][name].append(zone_ok[name] / zone_n)


def iou_speed() -> dict[str, float]:
    """Median time of the rotated-IoU matrix: our Numba kernel, the numpy reference, OpenCV's
    rotatedRectangleIntersection (per pair in Python), on the same 40 x 40 boxes."""
    import cv2
    from sensorfusion_overhead import rbox_iou, rbox_iou_reference

    rng = np.random.default_rng(0)
    a = np.column_stack([rng.uniform(0, 200, (40, 2)), rng.uniform(10, 40, (40, 2)), rng.uniform(-180, 180, 40)])
    b = a + np.column_stack([rng.normal(0, 8, (40, 2)), rng.normal(0, 2, (40, 2)), rng.normal(0, 10, 40)])
    b[:, 2:4] = np.abs(b[:, 2:4])

    def opencv() -> np.ndarray:
        out = np.zeros((40, 40))
        for i in range(40):
            for j in range(40):
                r1 = ((a[i, 0], a[i, 1]), (a[i, 2], a[i, 3]), a[i, 4])
                r2 = ((b[j, 0], b[j, 1]), (b[j, 2], b[j, 3]), b[j, 4])
                _, pts = cv2.rotatedRectangleIntersection(r1, r2)
                inter = 0.0 if pts is None else cv2.contourArea(cv2.convexHull(pts))
                out[i, j] = inter / (a[i, 2] * a[i, 3] + b[j, 2] * b[j, 3] - inter)
        return out

    def timed(fn: Any, reps: int) -> float:
        fn()
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        return float(np.median(ts))

    ours = timed(lambda: rbox_iou(a, b), 50)
    ref = timed(lambda: rbox_iou_reference(a, b), 3)
    cv = timed(opencv, 5)
    agree = float(np.abs(rbox_iou(a, b) - opencv()).max())
    return {
        "ours_ms": 1e3 * ours,
        "numpy_reference_ms": 1e3 * ref,
        "opencv_ms": 1e3 * cv,
        "max_abs_diff_vs_opencv": agree,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each held-out session")
    ap.add_argument("--seeds", type=int, nargs="+", default=[201, 202, 203, 204])
    ap.add_argument("--rectified-every", type=int, default=5, help="run the rectified path on every N-th frame")
    ap.add_argument("--onnx", help="a rotation-aware ONNX detector to score as well")
    ap.add_argument("--onnx-format", choices=["rapid", "loaf"], default="rapid")
    args = ap.parse_args(argv)
    try:
        import sensorfusion_sim  # noqa: F401
    except ImportError:
        print("eval_overhead needs the sim driver distribution: pip install -e drivers/sim", file=sys.stderr)
        return 2
    from rich.console import Console
    from rich.progress import track
    from rich.table import Table
    from sensorfusion_overhead import DetectionAP

    acc: dict[str, Any] = {
        "ap": {"sim": DetectionAP(), "rectified": DetectionAP(), "onnx": DetectionAP()},
        "loc_det": {"ours": [], "peer_box_centre": [], "peer_feet_end": [], "rectified": []},
        "loc_det_ceil0": [],
        "tracks": {"1cam": [], "2cam": []},
        "zone": {"1cam": [], "2cam": []},
        "latency_ms": {
            k: []
            for k in (
                "overhead.sim (2 cameras)",
                "overhead.localise (2 cameras)",
                "overhead.floor_tracks (1cam)",
                "overhead.floor_tracks (2cam)",
                "overhead.rectified (per camera frame)",
                "overhead.onnx (per camera frame)",
            )
        },
    }
    sessions = [(s, MODELS[k % len(MODELS)]) for k, s in enumerate(args.seeds)]
    for seed, model in track(sessions, description="held-out sessions", console=Console(stderr=True)):
        run_session(seed, model, args, acc)
    speed = iou_speed()

    def merged(name: str, key: str) -> float | None:
        vals = [t[key] for t in acc["tracks"][name] if t[key] is not None]
        return float(np.mean(vals)) if vals else None

    # per-track errors: pool the sessions' medians weighted equally
    def pooled(name: str, key: str) -> float | None:
        return merged(name, key)

    minutes_total = sum(t["duration_s"] for t in acc["tracks"]["1cam"]) / 60.0
    switches = {n: sum(t["id_switches"] for t in acc["tracks"][n]) for n in ("1cam", "2cam")}
    ours = _stats(acc["loc_det"]["ours"])
    det1 = _stats(acc["loc_det_ceil0"])
    peer_c = _stats(acc["loc_det"]["peer_box_centre"])
    peer_f = _stats(acc["loc_det"]["peer_feet_end"])
    rect = _stats(acc["loc_det"]["rectified"])
    res: dict[str, Any] = {
        "sessions": [{"seed": s, "lens": m} for s, m in sessions],
        "seconds_per_session": args.seconds,
        "ap50_sim_detector": acc["ap"]["sim"].ap(),
        "ap50_rectified": acc["ap"]["rectified"].ap(),
        "ap50_onnx": acc["ap"]["onnx"].ap() if args.onnx else None,
        "loc_median_m_1cam": pooled("1cam", "loc_median_m"),
        "loc_p90_m_1cam": pooled("1cam", "loc_p90_m"),
        "loc_median_m_2cam": pooled("2cam", "loc_median_m"),
        "loc_p90_m_2cam": pooled("2cam", "loc_p90_m"),
        "loc_det_median_m": ours["median"],
        "loc_det_p90_m": ours["p90"],
        "loc_det_median_m_ceil0": det1["median"],
        "loc_det_median_m_rectified": rect["median"],
        "loc_det_p90_m_rectified": rect["p90"],
        "loc_det_median_m_peer_box_centre": peer_c["median"],
        "loc_det_median_m_peer_feet_end": peer_f["median"],
        "id_switches_per_min": switches["2cam"] / minutes_total if minutes_total else None,
        "id_switches_per_min_1cam": switches["1cam"] / minutes_total if minutes_total else None,
        "count_accuracy_1cam": pooled("1cam", "count_accuracy"),
        "count_accuracy_2cam": pooled("2cam", "count_accuracy"),
        "zone_count_accuracy_1cam": float(np.mean(acc["zone"]["1cam"])),
        "zone_count_accuracy_2cam": float(np.mean(acc["zone"]["2cam"])),
        "mota_2cam": pooled("2cam", "mota"),
        "latency_ms_median": {k: float(np.median(v)) for k, v in acc["latency_ms"].items() if v},
        "iou_speed": speed,
    }
    one = res["loc_median_m_1cam"]
    res["ratio_loc_median_1cam_vs_loaf"] = one / LOAF_M if one is not None else None
    res["ratio_loc_median_2cam_vs_1cam"] = res["loc_median_m_2cam"] / one if one and res["loc_median_m_2cam"] else None
    res["ratio_loc_det_vs_peer_box_centre"] = (
        ours["median"] / peer_c["median"] if ours["median"] and peer_c["median"] else None
    )
    res["ratio_loc_det_vs_peer_feet_end"] = (
        ours["median"] / peer_f["median"] if ours["median"] and peer_f["median"] else None
    )
    res["ratio_iou_speed_vs_numpy_reference"] = speed["numpy_reference_ms"] / speed["ours_ms"]
    res["ratio_iou_speed_vs_opencv"] = speed["opencv_ms"] / speed["ours_ms"]

    def f(x: Any, d: int = 3) -> str:
        return "n/a" if x is None else (f"{x:.{d}f}" if isinstance(x, float) else str(x))

    con = Console()
    t = Table(
        title=f"overhead fisheye, held-out simulated sessions ({len(sessions)} x {args.seconds:.0f} s, 6 people, 2 cameras)"
    )
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("note")
    t.add_row("AP50 overhead.sim", f(res["ap50_sim_detector"]), "simulated detector's error model")
    t.add_row(
        "AP50 overhead.rectified",
        f(res["ap50_rectified"]),
        f"sim.keypoints2d in 9 views, every {args.rectified_every}th frame",
    )
    t.add_row("AP50 overhead.onnx", f(res["ap50_onnx"]), args.onnx or "no model given")
    t.add_row(
        "loc per detection, median / p90 (m)",
        f"{f(ours['median'])} / {f(ours['p90'])}",
        "feet + head + height prior (overhead.sim boxes)",
    )
    t.add_row("  peer: box centre on the floor", f"{f(peer_c['median'])} / {f(peer_c['p90'])}", "same boxes")
    t.add_row("  peer: feet end only", f"{f(peer_f['median'])} / {f(peer_f['p90'])}", "same boxes")
    t.add_row("  rectified path", f"{f(rect['median'])} / {f(rect['p90'])}", "its boxes and ankles")
    t.add_row(
        "loc tracks 1 camera, median / p90 (m)",
        f"{f(res['loc_median_m_1cam'])} / {f(res['loc_p90_m_1cam'])}",
        f"LOAF ~{LOAF_M} m",
    )
    t.add_row(
        "loc tracks 2 cameras, median / p90 (m)", f"{f(res['loc_median_m_2cam'])} / {f(res['loc_p90_m_2cam'])}", ""
    )
    t.add_row(
        "id switches / min (1 cam, 2 cams)",
        f"{f(res['id_switches_per_min_1cam'], 2)}, {f(res['id_switches_per_min'], 2)}",
        "CLEAR-MOT",
    )
    t.add_row(
        "count accuracy (1 cam, 2 cams)",
        f"{f(res['count_accuracy_1cam'])}, {f(res['count_accuracy_2cam'])}",
        "frames with the right number of tracks",
    )
    t.add_row(
        "zone count accuracy (1 cam, 2 cams)",
        f"{f(res['zone_count_accuracy_1cam'])}, {f(res['zone_count_accuracy_2cam'])}",
        "west / east halves",
    )
    for k, v in res["latency_ms_median"].items():
        t.add_row(f"latency {k} (ms)", f(v, 2), "median; shared machine")
    t.add_row("rotated IoU 40x40: ours / numpy ref / OpenCV (ms)",
              f"{f(speed['ours_ms'], 3)} / {f(speed['numpy_reference_ms'], 1)} / {f(speed['opencv_ms'], 1)}",
              f"max |diff| vs OpenCV {speed['max_abs_diff_vs_opencv']:.1e}")  # fmt: skip
    con.print(t)
    print(json.dumps(res, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
