"""Bundle adjustment: ours against aniposelib 0.8's ``CameraGroup.bundle_adjust_iter``, on the same observations.

The observations: the synthetic 8-camera rig (1920x1080) looking at 200 ChArUco poses (7x10
squares of 8 cm, 54 corners), 0.5 px noise, 10 % of the corner detections displaced by 5–60 px
(``sensorfusion_calibration._synthetic.synthetic_board_views``). Every (pose, corner) is one 3D
point: ``p2ds`` is ``(cameras, points, 2)`` with NaN where a camera did not see it — aniposelib's
input. Both start from the same cameras (the truth perturbed by 0.5° and 2 cm) and refine
extrinsics only (aniposelib with ``only_extrinsics=True``; intrinsics are known).

* **ours (points)** — the same problem aniposelib solves: camera poses and free 3D points,
  our adjustment (``huber``; Levenberg–Marquardt on the Schur complement, points eliminated)
  on our Numba Jacobian, starting from DLT-triangulated points, then one round of outlier rejection.
* **ours (board)** — what ``calibrate extrinsics`` does: board poses instead of free points
  (from PnP initial poses, not the perturbed truth), everything included (PnP, spanning tree,
  adjustment with outlier rejection). Its adjustment is Levenberg–Marquardt on the Schur
  complement (``solver="auto"``); **ours (board, least_squares)** runs the same pipeline with
  ``scipy.optimize.least_squares`` (``solver="scipy"``, the solver of the previous release).
* **aniposelib** — ``bundle_adjust_iter`` with its defaults (it subsamples 1000 points per
  iteration by design).

The final RMS of each method is measured the same way: every point is re-triangulated (DLT
on undistorted coordinates) from the method's cameras using the true inlier observations, and
the reprojection RMS over those observations is reported, with the camera errors against the
truth after rigid alignment. Then projection throughput of the geometry kernel tiers (from
``benchmarks/_geometry_bench.py`` when present). A table, then one JSON line:
``ratio_ba_board_speed`` = aniposelib time / our board time (the path users run; > 1: ours
faster), ``ratio_ba_points_speed`` (= ``ratio_ba_speed``, its name in earlier releases) the same
for the points path, ``ratio_ba_board_vs_least_squares`` = least_squares time / Schur time on
the board path, ``ratio_ba_rms`` / ``ratio_ba_board_rms`` = aniposelib RMS / our RMS.

Usage: ``python benchmarks/bench_calibration.py [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy.spatial.transform import Rotation
from sensorfusion_calibration._boards import parse_board
from sensorfusion_calibration._bundle import BAProblem, bundle_adjust
from sensorfusion_calibration._extrinsics import calibrate_extrinsics, cam_mat, cam_vec, intr_row
from sensorfusion_calibration._synthetic import synthetic_board_views
from sensorfusion_sim import make_rig

from sensorfusion.schema import PinholeCamera, RigCalibration


def _observations(poses: int, seed: int = 1) -> tuple[RigCalibration, Any, np.ndarray, np.ndarray, Any]:
    rig = make_rig(8, width=1920, height=1080)
    board = parse_board("charuco:7x10:0.08:0.06:DICT_4X4_100")
    dets, _truth = synthetic_board_views(rig, board, poses=poses, noise_px=0.5, outlier_fraction=0.1, seed=seed)
    ids = list(rig.sensors)
    n_corner = board.corner_count
    p2ds = np.full((len(ids), poses * n_corner, 2), np.nan)
    clean = np.full((len(ids), poses * n_corner, 2), np.nan)
    rng = np.random.default_rng(seed)  # regenerate to know which detections are the injected outliers
    del rng
    for k, c in enumerate(ids):
        for f, d in dets[c].items():
            p2ds[k, f * n_corner + d.ids] = d.corners_px
    # the true inliers: a detection within 3 px of the true projection
    from sensorfusion.geometry import project_pinhole

    for k, c in enumerate(ids):
        s = rig.sensors[c]
        for f in dets[c]:
            pts = _truth[f][:3, :3] @ board.object_points().T + _truth[f][:3, 3:4]
            uv, _ = project_pinhole(pts.T, s.camera, s.world_from_sensor)  # type: ignore[arg-type]
            obs = p2ds[k, f * n_corner : (f + 1) * n_corner]
            ok = np.linalg.norm(obs - uv, axis=1) < 3.0
            clean[k, f * n_corner : (f + 1) * n_corner][ok] = obs[ok]
    return rig, (board, dets), p2ds, clean, ids


def _perturbed(rig: RigCalibration, seed: int = 7) -> dict[str, np.ndarray]:
    """camera_from_world of each camera, perturbed by ~0.5 deg and ~2 cm."""
    rng = np.random.default_rng(seed)
    out = {}
    for c, s in rig.sensors.items():
        m = np.linalg.inv(s.world_from_sensor.matrix)
        dr = Rotation.from_rotvec(rng.normal(0, math.radians(0.5), 3)).as_matrix()
        m[:3, :3] = dr @ m[:3, :3]
        m[:3, 3] += rng.normal(0, 0.02, 3)
        out[c] = m
    return out


def _triangulate(
    rig_cfw: dict[str, np.ndarray], cams: dict[str, PinholeCamera], ids: list[str], p2ds: np.ndarray
) -> np.ndarray:
    norm = np.full_like(p2ds, np.nan)
    for k, c in enumerate(ids):
        ok = np.all(np.isfinite(p2ds[k]), axis=1)
        if ok.any():
            norm[k, ok] = cv2.undistortPoints(p2ds[k, ok].reshape(-1, 1, 2), cams[c].K, cams[c].dist_coeffs).reshape(
                -1, 2
            )
    proj = np.array([rig_cfw[c][:3] for c in ids])  # (C, 3, 4)
    vis = np.all(np.isfinite(norm), axis=2)  # (C, N)
    x, y = np.nan_to_num(norm[..., 0]), np.nan_to_num(norm[..., 1])
    # DLT rows per camera, zero for cameras that did not see the point (they leave the null space alone)
    rx = (x[..., None] * proj[:, None, 2, :] - proj[:, None, 0, :]) * vis[..., None]
    ry = (y[..., None] * proj[:, None, 2, :] - proj[:, None, 1, :]) * vis[..., None]
    a = np.concatenate([rx, ry], axis=0).transpose(1, 0, 2)  # (N, 2C, 4)
    h = np.linalg.svd(a)[2][:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = h[:, :3] / h[:, 3:4]
    out[vis.sum(0) < 2] = np.nan
    return out


def _rms(rig_cfw: dict[str, np.ndarray], cams: dict[str, PinholeCamera], ids: list[str], clean: np.ndarray) -> float:
    pts = _triangulate(rig_cfw, cams, ids, clean)
    sq, n = 0.0, 0
    for k, c in enumerate(ids):
        ok = np.all(np.isfinite(clean[k]), axis=1) & np.all(np.isfinite(pts), axis=1)
        m = rig_cfw[c]
        uv, _ = cv2.projectPoints(pts[ok], cv2.Rodrigues(m[:3, :3])[0], m[:3, 3], cams[c].K, cams[c].dist_coeffs)
        sq += float(np.sum((uv.reshape(-1, 2) - clean[k, ok]) ** 2))
        n += int(ok.sum())
    return math.sqrt(sq / max(n, 1))


def _pose_errors(rig_cfw: dict[str, np.ndarray], truth: RigCalibration) -> tuple[float, float]:
    ids = list(truth.sensors)
    a = np.array([np.linalg.inv(rig_cfw[i]) for i in ids])
    b = np.array([truth.sensors[i].world_from_sensor.matrix for i in ids])
    pa, pb = a[:, :3, 3], b[:, :3, 3]
    ca, cb = pa.mean(0), pb.mean(0)
    u, _, vt = np.linalg.svd((pb - cb).T @ (pa - ca))
    r = u @ np.diag([1, 1, np.sign(np.linalg.det(u @ vt))]) @ vt
    pos = np.linalg.norm((pa - ca) @ r.T + cb - pb, axis=1)
    rot = [Rotation.from_matrix((r @ a[i, :3, :3]).T @ b[i, :3, :3]).magnitude() for i in range(len(ids))]
    return float(pos.max()), float(math.degrees(max(rot)))


def ours_points(
    init: dict[str, np.ndarray], cams: dict[str, PinholeCamera], ids: list[str], p2ds: np.ndarray
) -> dict[str, np.ndarray]:
    """Camera poses + free 3D points (the aniposelib problem), one outlier-rejection round."""
    cfw = dict(init)
    keep = np.all(np.isfinite(p2ds), axis=2)
    for _round in range(2):
        obs = np.where(keep[..., None], p2ds, np.nan)
        pts = _triangulate(cfw, cams, ids, obs)
        good = np.all(np.isfinite(pts), axis=1)
        pid = -np.ones(len(pts), np.int64)
        pid[good] = np.arange(good.sum())
        ci, oi, uv = [], [], []
        for k in range(len(ids)):
            m = keep[k] & good
            ci.append(np.full(m.sum(), k))
            oi.append(pid[m])
            uv.append(p2ds[k, m])
        objp = np.zeros((int(good.sum()), 6))
        objp[:, 3:] = pts[good]
        prob = BAProblem(np.array([cam_vec(cfw[c]) for c in ids]), np.array([intr_row(cams[c]) for c in ids]), objp,
                         np.zeros((sum(len(x) for x in ci), 3)), np.concatenate(ci), np.concatenate(oi), np.concatenate(uv),
                         np.array([k == 0 for k in range(len(ids))], np.uint8), points_mode=True)  # fmt: skip
        res = bundle_adjust(prob, loss="huber", f_scale_px=1.0, max_nfev=50)
        cfw = {c: cam_mat(res.cam_params[k]) for k, c in enumerate(ids)}
        err = np.linalg.norm(res.residuals_px, axis=1)
        thr = max(5.0 * 1.4826 * float(np.median(err)), 2.0)
        bad = err > thr
        new_keep = keep.copy()
        cidx, oidx = prob.cam_idx, prob.obj_idx
        inv = np.flatnonzero(good)
        new_keep[cidx[bad], inv[oidx[bad]]] = False
        if (new_keep != keep).sum() <= 0.002 * keep.sum():
            break
        keep = new_keep
    return cfw


def aniposelib_ba(
    init: dict[str, np.ndarray], cams: dict[str, PinholeCamera], ids: list[str], p2ds: np.ndarray
) -> dict[str, np.ndarray]:
    from aniposelib.cameras import Camera, CameraGroup

    group = CameraGroup([
        Camera(matrix=cams[c].K, dist=cams[c].dist_coeffs[:5], size=(cams[c].width, cams[c].height),
               rvec=cv2.Rodrigues(init[c][:3, :3])[0].ravel(), tvec=init[c][:3, 3], name=c)
        for c in ids
    ])  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        group.bundle_adjust_iter(p2ds, only_extrinsics=True, verbose=False)
    out = {}
    for c, cam in zip(ids, group.cameras, strict=True):
        m = np.eye(4)
        m[:3, :3] = cv2.Rodrigues(np.asarray(cam.get_rotation(), dtype=np.float64))[0]
        m[:3, 3] = cam.get_translation()
        out[c] = m
    return out


def _median_time(fn: Any, repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="60 board poses, 1 repeat")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    poses = 60 if args.quick else 200
    repeats = 1 if args.quick else args.repeats
    rig, (board, dets), p2ds, clean, ids = _observations(poses)
    cams: dict[str, PinholeCamera] = {c: rig.sensors[c].camera for c in ids}  # type: ignore[misc]
    init = _perturbed(rig)
    # warm up our kernel (JIT cache) on a small problem
    ours_points(init, cams, ids, p2ds[:, :500])
    t_ours, ours = _median_time(lambda: ours_points(init, cams, ids, p2ds), repeats)
    t_board, board_res = _median_time(lambda: calibrate_extrinsics(board, cams, dets), repeats)
    board_cfw = {c: np.linalg.inv(board_res.rig.sensors[c].world_from_sensor.matrix) for c in ids}
    t_board_ls, board_ls = _median_time(lambda: calibrate_extrinsics(board, cams, dets, solver="scipy"), repeats)
    board_ls_cfw = {c: np.linalg.inv(board_ls.rig.sensors[c].world_from_sensor.matrix) for c in ids}
    t_anipose_default, anip = _median_time(lambda: aniposelib_ba(init, cams, ids, p2ds), repeats)
    # aniposelib also runs scipy's lsmr: give it the same single-threaded BLAS our adjustment
    # uses, and keep its faster time as the peer's
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        t_anipose_1, anip_1 = _median_time(lambda: aniposelib_ba(init, cams, ids, p2ds), repeats)
    if t_anipose_1 < t_anipose_default:
        anip = anip_1
    t_anipose = min(t_anipose_default, t_anipose_1)
    rows = []
    figures: dict[str, Any] = {"aniposelib_time_default_blas_s": t_anipose_default, "aniposelib_time_blas1_s": t_anipose_1,
                               "board_poses": poses, "points": int(p2ds.shape[1]), "observations": int(np.isfinite(p2ds[..., 0]).sum()),
                               "repeats": repeats, "numba_threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1))}  # fmt: skip
    for name, t, cfw in (
        ("ours (points)", t_ours, ours),
        ("ours (board)", t_board, board_cfw),
        ("ours (board, least_squares)", t_board_ls, board_ls_cfw),
        ("aniposelib", t_anipose, anip),
    ):
        rms = _rms(cfw, cams, ids, clean)
        pos, rot = _pose_errors(cfw, rig)
        key = name.split()[0] + ("_board" if "board" in name else "") + ("_least_squares" if "least" in name else "")
        figures[f"{key}_time_s"], figures[f"{key}_rms_px"] = t, rms
        figures[f"{key}_pos_err_mm"], figures[f"{key}_rot_err_deg"] = pos * 1e3, rot
        rows.append((name, f"{t:.2f}", f"{rms:.4f}", f"{pos * 1e3:.3f}", f"{rot:.4f}"))
    ratios = {
        "ratio_ba_board_speed": t_anipose / t_board,
        "ratio_ba_points_speed": t_anipose / t_ours,
        "ratio_ba_speed": t_anipose / t_ours,
        "ratio_ba_board_vs_least_squares": t_board_ls / t_board,
        "ratio_ba_rms": figures["aniposelib_rms_px"] / figures["ours_rms_px"],
        "ratio_ba_board_rms": figures["aniposelib_rms_px"] / figures["ours_board_rms_px"],
    }
    head = ("bundle adjustment", "time (s)", "RMS (px)", "max pos err (mm)", "max rot err (deg)")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    print(
        f"8 cameras, {poses} board poses, {figures['observations']} corner observations (10 % outliers), median of {repeats}"
    )
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    geo = Path(__file__).with_name("_geometry_bench.py")
    if geo.exists():
        spec = importlib.util.spec_from_file_location("_geometry_bench", geo)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules["_geometry_bench"] = mod
        spec.loader.exec_module(mod)
        n = 200_000 if args.quick else 1_000_000
        proj = mod.bench_projection(n, repeats=3 if args.quick else 7)
        print(f"\nprojection throughput, {n:,} points (Mpoints/s; ratio = ours / cv2.projectPoints)")
        for label in ("pinhole", "kb"):
            peer = proj[f"{label}_opencv_points_per_s"]
            line = f"  {label:<8} opencv {peer / 1e6:8.2f}"
            for tier in proj["tiers"]:
                v = proj[f"{label}_{tier}_points_per_s"]
                line += f" | {tier} {v / 1e6:8.2f} ({v / peer:.2f}x)"
            print(line)
        ratios.update({k: v for k, v in proj.items() if k.startswith("ratio_")})
        figures.update(
            {f"projection_{k}": v for k, v in proj.items() if not k.startswith("ratio_") and isinstance(v, int | float)}
        )
    else:
        print("\nprojection throughput: benchmarks/_geometry_bench.py not found (the geometry kernels are not in yet)")
    print(json.dumps({**ratios, **figures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
