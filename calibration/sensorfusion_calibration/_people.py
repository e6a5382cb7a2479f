"""Extrinsics from people: 2D keypoints of a person moving through the volume, no board.

1. The reference camera and the camera sharing most keypoints with it give an essential matrix
   (RANSAC on undistorted points) and a relative pose up to scale; their common keypoints are
   triangulated and every other camera is placed by RANSAC PnP on those points.
2. Every keypoint seen by two or more cameras is triangulated (linear DLT over all its views).
3. Bundle adjustment in points mode over camera poses (reference fixed) and 3D keypoints, with
   **bone-length consistency**: each bone's length is one unknown shared by every frame, and a
   residual ``(|X_a - X_b| - L_bone) / bone_sigma_m`` per bone and frame ties the body together.
4. Scale from a known height: the reconstruction is scaled so that the median of
   ``height_fn(keypoints)`` over frames equals ``height_m``. The default for COCO-17 keypoints is
   the mean leg length (hip→knee→ankle) divided by 0.491 (thigh 0.245 H + shank 0.246 H,
   Drillis & Contini's anthropometric fractions).

The world frame is the reference camera's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import scipy.sparse as sp

from sensorfusion import ConfigError
from sensorfusion.geometry import undistort_points
from sensorfusion.schema import PinholeCamera, RigCalibration, SensorCalibration, Transform

from ._bundle import BAProblem, ExtraTerm, bundle_adjust
from ._extrinsics import cam_mat, cam_vec, intr_row
from ._intrinsics import CalibrationError

__all__ = ["COCO17_BONES", "PeopleCalibration", "calibrate_from_people", "coco17_height"]

# COCO-17: 5,6 shoulders; 7,8 elbows; 9,10 wrists; 11,12 hips; 13,14 knees; 15,16 ankles
COCO17_BONES: tuple[tuple[int, int], ...] = (
    (5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16), (5, 6), (11, 12), (5, 11), (6, 12),
)  # fmt: skip
LEG_FRACTION_OF_HEIGHT = 0.491


def coco17_height(points: np.ndarray) -> np.ndarray:
    """Height estimate per frame from COCO-17 ``(T, 17, 3)`` keypoints: mean leg length / 0.491."""
    p = np.asarray(points)
    legs = []
    for hip, knee, ankle in ((11, 13, 15), (12, 14, 16)):
        legs.append(np.linalg.norm(p[:, knee] - p[:, hip], axis=-1) + np.linalg.norm(p[:, ankle] - p[:, knee], axis=-1))
    out: np.ndarray = np.nanmean(np.stack(legs), axis=0) / LEG_FRACTION_OF_HEIGHT
    return out


@dataclass
class PeopleCalibration:
    rig: RigCalibration
    rms_px: dict[str, float]
    points_m: np.ndarray  # (T, J, 3) in the world (reference camera) frame, NaN where not triangulated
    bone_lengths_m: dict[tuple[int, int], float]
    scale: float


def _undistort(cam: PinholeCamera, uv: np.ndarray) -> np.ndarray:
    out: np.ndarray = undistort_points(cam, uv.reshape(-1, 2).astype(np.float64), tier="cpu")
    return out


def _dlt(projs: list[np.ndarray], xys: list[np.ndarray]) -> np.ndarray:
    a = []
    for p, (x, y) in zip(projs, xys, strict=True):
        a.append(x * p[2] - p[0])
        a.append(y * p[2] - p[1])
    _, _, vt = np.linalg.svd(np.asarray(a))
    h = vt[-1]
    return np.asarray(h[:3] / h[3]) if abs(h[3]) > 1e-12 else np.full(3, np.nan)


def calibrate_from_people(
    cameras: Mapping[str, PinholeCamera],
    keypoints_px: Mapping[str, np.ndarray],
    *,
    height_m: float,
    bones: Sequence[tuple[int, int]] = COCO17_BONES,
    height_fn: Callable[[np.ndarray], np.ndarray] = coco17_height,
    reference: str | None = None,
    bone_sigma_m: float = 0.01,
    loss: str = "huber",
    f_scale_px: float = 2.0,
    tier: str = "cpu",
) -> PeopleCalibration:
    """Camera poses from the 2D keypoints ``keypoints_px[camera]`` ``(T, J, 2)`` (NaN = not seen)
    of one person, frames synchronized across cameras; scale from the person's ``height_m``."""
    ids = list(keypoints_px)
    if len(ids) < 2:
        raise ConfigError("calibration from people needs at least two cameras", field_path="keypoints", value=ids)
    reference = reference or ids[0]
    shapes = {np.asarray(keypoints_px[c]).shape[:2] for c in ids}
    if len(shapes) != 1:
        raise ConfigError(
            "every camera needs keypoints of the same frames and joints (T, J, 2)",
            field_path="keypoints",
            value=sorted(shapes),
        )
    t_n, j_n = shapes.pop()
    kp = {c: np.asarray(keypoints_px[c], dtype=np.float64) for c in ids}
    seen = {c: np.all(np.isfinite(kp[c]), axis=-1) for c in ids}
    norm = {c: np.full((t_n, j_n, 2), np.nan) for c in ids}
    for c in ids:
        norm[c][seen[c]] = _undistort(cameras[c], kp[c][seen[c]])
    # 1. the pair with the most shared keypoints around the reference camera
    partner = max((c for c in ids if c != reference), key=lambda c: int((seen[c] & seen[reference]).sum()))
    both = seen[reference] & seen[partner]
    if both.sum() < 15:
        raise CalibrationError(
            f"cameras {reference!r} and {partner!r} share {int(both.sum())} keypoints; at least 15 are needed"
        )
    a, b = norm[reference][both], norm[partner][both]
    e, inl = cv2.findEssentialMat(a, b, np.eye(3), method=cv2.RANSAC, prob=0.999, threshold=2.0 / cameras[reference].fx)
    if e is None:
        raise CalibrationError(f"degenerate adjustment: no essential matrix between {reference!r} and {partner!r}")
    _n, r_ba, t_ba, _m = cv2.recoverPose(e[:3], a, b, np.eye(3), mask=inl)
    poses = {reference: np.eye(4)}
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = r_ba, t_ba.ravel()
    poses[partner] = m

    # 2. triangulate, place the other cameras by PnP, triangulate again with every view
    def triangulate(use: list[str]) -> np.ndarray:
        pts = np.full((t_n, j_n, 3), np.nan)
        for t in range(t_n):
            for j in range(j_n):
                cs = [c for c in use if seen[c][t, j]]
                if len(cs) >= 2:
                    pts[t, j] = _dlt([poses[c][:3] for c in cs], [norm[c][t, j] for c in cs])
        return pts

    pts = triangulate([reference, partner])
    for c in ids:
        if c in poses:
            continue
        ok3 = np.all(np.isfinite(pts), axis=-1) & seen[c]
        if ok3.sum() < 6:
            raise CalibrationError(
                f"camera {c!r} shares no view of the person with {reference!r} and {partner!r}",
                field_path=f"keypoints.{c}",
            )
        ok, rvec, tvec, _inl = cv2.solvePnPRansac(pts[ok3], norm[c][ok3], np.eye(3), None, reprojectionError=3.0 / cameras[c].fx,
                                                  flags=cv2.SOLVEPNP_SQPNP)  # fmt: skip
        if not ok:
            raise CalibrationError(
                f"degenerate adjustment: camera {c!r} could not be placed from the person's keypoints"
            )
        mm = np.eye(4)
        mm[:3, :3], mm[:3, 3] = cv2.Rodrigues(rvec)[0], tvec.ravel()
        poses[c] = mm
    pts = triangulate(ids)
    valid = np.all(np.isfinite(pts), axis=-1)
    # 3. bundle adjustment over cameras and points with bone-length consistency
    pidx = -np.ones((t_n, j_n), np.int64)
    pidx[valid] = np.arange(valid.sum())
    cam_i, obj_i, uv = [], [], []
    for k, c in enumerate(ids):
        mk = seen[c] & valid
        cam_i.append(np.full(mk.sum(), k))
        obj_i.append(pidx[mk])
        uv.append(kp[c][mk])
    bone_pairs = [(t, ia, ib) for t in range(t_n) for ia, ib in bones if valid[t, ia] and valid[t, ib]]
    bone_id = {bn: i for i, bn in enumerate(bones)}
    ba_rows = np.array(
        [[pidx[t, ia], pidx[t, ib], bone_id[(ia, ib)]] for t, ia, ib in bone_pairs], dtype=np.int64
    ).reshape(-1, 3)
    npts = int(valid.sum())
    w = 1.0 / bone_sigma_m

    def bone_term(points: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, sp.spmatrix, sp.spmatrix]:
        d = points[ba_rows[:, 0]] - points[ba_rows[:, 1]]
        dist = np.linalg.norm(d, axis=1)
        u = d / np.maximum(dist, 1e-12)[:, None]
        r = w * (dist - lengths[ba_rows[:, 2]])
        nr = r.size
        rows = np.repeat(np.arange(nr), 6)
        cols = np.concatenate([3 * ba_rows[:, :1] + np.arange(3), 3 * ba_rows[:, 1:2] + np.arange(3)], axis=1).ravel()
        vals = np.concatenate([w * u, -w * u], axis=1).ravel()
        jp = sp.csr_matrix((vals, (rows, cols)), shape=(nr + 1, 3 * npts))
        # gauge: the sum of bone lengths stays where it started (scale is set from the height afterwards)
        je = sp.vstack([sp.csr_matrix((np.full(nr, -w), (np.arange(nr), ba_rows[:, 2])), shape=(nr, lengths.size)),
                        sp.csr_matrix(np.full((1, lengths.size), w))], format="csr")  # fmt: skip
        return np.concatenate([r, [w * (lengths.sum() - l0_sum)]]), jp, je

    seg = np.array([np.nanmedian(np.linalg.norm(pts[:, ia] - pts[:, ib], axis=-1)) for ia, ib in bones])
    l0_sum = float(np.nansum(seg))
    seg = np.nan_to_num(seg, nan=float(np.nanmedian(seg)))
    cam_params = np.array([cam_vec(poses[c]) for c in ids])
    obj_params = np.zeros((npts, 6))
    obj_params[:, 3:] = pts[valid]
    prob = BAProblem(cam_params, np.array([intr_row(cameras[c]) for c in ids]), obj_params, np.zeros((sum(len(x) for x in obj_i), 3)),
                     np.concatenate(cam_i), np.concatenate(obj_i), np.concatenate(uv),
                     np.array([c == reference for c in ids], np.uint8), points_mode=True,
                     extra=ExtraTerm(bone_term, seg.astype(np.float64)))  # fmt: skip
    res = bundle_adjust(prob, loss=loss, f_scale_px=f_scale_px, tier=tier, max_nfev=60)
    pts_f = np.full((t_n, j_n, 3), np.nan)
    pts_f[valid] = res.obj_params[:, 3:]
    # 4. scale from the known height
    h = height_fn(pts_f)
    h_med = float(np.nanmedian(h))
    if not np.isfinite(h_med) or h_med <= 0:
        raise CalibrationError("degenerate adjustment: the person's height cannot be measured from the keypoints")
    s = height_m / h_med
    sensors, rms = {}, {}
    for k, c in enumerate(ids):
        v = res.cam_params[k].copy()
        v[3:] *= s
        sensors[c] = SensorCalibration(
            camera=cameras[c], world_from_sensor=Transform.from_matrix(np.linalg.inv(cam_mat(v)))
        )
        rk = res.residuals_px[prob.cam_idx == k]
        rms[c] = float(np.sqrt(np.mean(np.sum(rk**2, axis=1)))) if rk.size else float("nan")
    lengths = {bn: float(res.extra[i] * s) for i, bn in enumerate(bones)}
    return PeopleCalibration(RigCalibration(sensors=sensors), rms, pts_f * s, lengths, s)
