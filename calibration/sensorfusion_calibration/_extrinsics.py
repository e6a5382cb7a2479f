"""Multi-camera extrinsics from a board seen by several cameras at once.

1. Each camera's board pose per frame by PnP on its (known) intrinsics.
2. A graph of camera pairs weighted by the frames in which both saw the board; the maximum
   spanning tree from the reference camera gives every camera's initial pose (a robust mean
   of the relative poses over the shared frames: chordal rotation mean, median translation).
   A camera that shares no frame with the others is an error naming it.
3. Bundle adjustment over all camera poses and board poses (optionally intrinsics) with a
   robust loss; observations whose residual exceeds ``outlier_px`` (default: 5 robust sigmas,
   at least 2 px) are dropped and the adjustment repeated.
4. The world frame: the reference camera (``world="camera:ID"``), the board of one frame
   (``"board:FRAME"``: world = that board's frame), or the floor (``"floor:FRAME"``: the board of
   that frame lies on the floor; world z up, x along the board's columns, origin at its first corner).

Scale comes from the board's square size (metres).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree
from scipy.spatial.transform import Rotation

from sensorfusion import ConfigError
from sensorfusion.schema import PinholeCamera, RigCalibration, SensorCalibration, Transform

from ._boards import Board, BoardDetection
from ._bundle import INTRINSIC_TERMS, BAProblem, BAResult, bundle_adjust
from ._intrinsics import CalibrationError

__all__ = [
    "ExtrinsicsResult",
    "cam_mat",
    "cam_vec",
    "calibrate_extrinsics",
    "initial_poses",
    "intr_row",
    "mean_pose",
    "pinhole_from_row",
    "world_frame",
]


def intr_row(cam: PinholeCamera) -> np.ndarray:
    return np.array([cam.fx, cam.fy, cam.cx, cam.cy, cam.k1, cam.k2, cam.p1, cam.p2, cam.k3, cam.k4, cam.k5, cam.k6])


def pinhole_from_row(row: np.ndarray, like: PinholeCamera) -> PinholeCamera:
    return like.model_copy(
        update=dict(zip(("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3"), map(float, row[:9]), strict=True))
    )


def _mat(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = Rotation.from_rotvec(np.ravel(rvec)).as_matrix()
    m[:3, 3] = np.ravel(tvec)
    return m


def _vec(m: np.ndarray) -> np.ndarray:
    return np.concatenate([Rotation.from_matrix(m[:3, :3]).as_rotvec(), m[:3, 3]])


def cam_vec(cam_from_world: np.ndarray) -> np.ndarray:
    """BA camera parameters: ``camera_from_world`` rotation vector and the camera centre in the world."""
    r = cam_from_world[:3, :3]
    return np.concatenate([Rotation.from_matrix(r).as_rotvec(), -r.T @ cam_from_world[:3, 3]])


def cam_mat(v: np.ndarray) -> np.ndarray:
    """``camera_from_world`` 4x4 from BA camera parameters."""
    m = np.eye(4)
    m[:3, :3] = Rotation.from_rotvec(v[:3]).as_matrix()
    m[:3, 3] = -m[:3, :3] @ v[3:]
    return m


def mean_pose(mats: Sequence[np.ndarray]) -> np.ndarray:
    """Robust mean of 4x4 poses: chordal L2 mean of the rotations after dropping those more than
    3 median deviations from the first estimate; component-wise median translation."""
    rots = np.array([m[:3, :3] for m in mats])
    first = Rotation.from_matrix(rots).mean()
    ang = (Rotation.from_matrix(rots) * first.inv()).magnitude()
    keep = ang <= max(3.0 * float(np.median(ang)), 1e-3)
    out = np.eye(4)
    out[:3, :3] = Rotation.from_matrix(rots[keep]).mean().as_matrix()
    out[:3, 3] = np.median(np.array([m[:3, 3] for m in mats])[keep], axis=0)
    return out


@dataclass
class ExtrinsicsResult:
    rig: RigCalibration
    rms_px: dict[str, float]
    observations: dict[str, int]
    outliers: dict[str, int]
    world_from_board: dict[Any, np.ndarray]
    residuals_px: dict[str, np.ndarray] = field(default_factory=dict)
    ba: BAResult | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "cameras": {
                sid: {
                    "rms_px": self.rms_px[sid],
                    "observations": self.observations[sid],
                    "outliers": self.outliers[sid],
                    "world_from_camera": [list(r) for r in self.rig.sensors[sid].world_from_sensor.matrix],
                }
                for sid in self.rms_px
            },
            "board_poses": len(self.world_from_board),
        }


def _pnp(board: Board, cam: PinholeCamera, det: BoardDetection) -> tuple[np.ndarray, np.ndarray] | None:
    """``camera_from_board`` and the inlier mask (reprojection within 4 px), for the adjustment's
    start. A board is planar: IPPE on every corner, and when some reproject beyond 4 px, a RANSAC
    homography between the board plane and the undistorted corners picks the inliers and IPPE
    runs on those (``solvePnPRansac`` with SQPnP, 3x slower, is the fallback). The adjustment
    refines every pose, so no separate refinement is spent here."""
    if det.count < 4:
        return None
    obj = board.object_points(det.ids)
    xy = obj[:, :2] - obj[:, :2].mean(0)
    cov = xy.T @ xy
    if np.linalg.det(cov) <= 1e-12 * float(np.trace(cov)) ** 2:  # collinear corners: no pose
        return None
    uv = det.corners_px
    k, dist = cam.K, cam.dist_coeffs

    def inliers(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
        proj = cv2.projectPoints(obj, rvec, tvec, k, dist)[0].reshape(-1, 2)
        return np.asarray(np.sum((proj - uv) ** 2, axis=1) <= 16.0)

    ok, rvec, tvec = cv2.solvePnP(obj, uv, k, dist, flags=cv2.SOLVEPNP_IPPE)
    mask = inliers(rvec, tvec) if ok else np.zeros(det.count, bool)
    if not mask.all():
        und = cv2.undistortPoints(uv.reshape(-1, 1, 2), k, dist).reshape(-1, 2)
        hmat, hmask = cv2.findHomography(obj[:, :2], und, cv2.RANSAC, 4.0 / max(cam.fx, cam.fy), maxIters=2000,
                                         confidence=0.999)  # fmt: skip
        inl = hmask.ravel().astype(bool) if hmat is not None and hmask is not None else np.zeros(det.count, bool)
        ok = False
        if inl.sum() >= 4:
            ok, rvec, tvec = cv2.solvePnP(obj[inl], uv[inl], k, dist, flags=cv2.SOLVEPNP_IPPE)
        if not ok:
            ok, rvec, tvec, idx = cv2.solvePnPRansac(obj, uv, k, dist, reprojectionError=4.0, iterationsCount=300,
                                                     flags=cv2.SOLVEPNP_SQPNP)  # fmt: skip
            if not ok or idx is None or len(idx) < 4:
                return None
        mask = inliers(rvec, tvec)
    if mask.sum() < 4:
        return None
    return _mat(rvec, tvec), mask


def initial_poses(
    cam_from_board: Mapping[str, Mapping[Any, np.ndarray]], reference: str, *, min_shared: int = 1
) -> dict[str, np.ndarray]:
    """``camera_from_reference`` of every camera from per-frame ``camera_from_board`` poses, along
    the maximum spanning tree of the shared-frame graph."""
    ids = list(cam_from_board)
    idx = {c: i for i, c in enumerate(ids)}
    n = len(ids)
    w = np.zeros((n, n))
    for a in range(n):
        fa = set(cam_from_board[ids[a]])
        for b in range(a + 1, n):
            w[a, b] = w[b, a] = len(fa & set(cam_from_board[ids[b]]))
    for c in ids:
        if n > 1 and w[idx[c]].max() < min_shared:
            raise CalibrationError(
                f"camera {c!r} shares no view of the board with any other camera; it cannot be placed",
                field_path=f"views.{c}",
            )
    big = w.max() + 1.0
    tree = minimum_spanning_tree(csr_matrix(np.where(w > 0, big - w, 0.0)))
    tree = tree + tree.T
    order, pred = breadth_first_order(tree, idx[reference], directed=False)
    unreached = [c for c in ids if idx[c] not in set(order.tolist())]
    if unreached:
        raise CalibrationError(
            f"camera(s) {', '.join(map(repr, unreached))} share no view with the reference camera's group; "
            "they cannot be placed in the same frame",
            field_path=f"views.{unreached[0]}",
        )
    out = {reference: np.eye(4)}
    for i in order[1:]:
        parent = ids[pred[i]]
        child = ids[i]
        shared = sorted(set(cam_from_board[parent]) & set(cam_from_board[child]), key=str)
        rel = [cam_from_board[child][f] @ np.linalg.inv(cam_from_board[parent][f]) for f in shared]
        out[child] = mean_pose(rel) @ out[parent]
    return out


def world_frame(spec: str, reference: str, world_from_board: Mapping[Any, np.ndarray]) -> np.ndarray:
    """``world_from_reference`` for a world spec ``camera:ID``, ``board:FRAME`` or ``floor:FRAME``."""
    kind, _, arg = spec.partition(":")
    if kind == "camera":
        if arg not in ("", reference):
            raise ConfigError(
                "the world camera must be the reference camera",
                field_path="world",
                value=spec,
                choices=[f"camera:{reference}"],
            )
        return np.eye(4)
    if kind in ("board", "floor"):
        keys = {str(k): k for k in world_from_board}
        if arg not in keys:
            raise ConfigError("no board pose for that frame", field_path="world", value=spec, choices=sorted(keys)[:20])
        ref_from_board = world_from_board[keys[arg]]
        board_from_ref = np.linalg.inv(ref_from_board)
        if kind == "board":
            return board_from_ref
        flip = np.diag([1.0, -1.0, -1.0, 1.0])  # board z points into the floor; world z up
        return flip @ board_from_ref
    raise ConfigError(
        "unknown world frame", field_path="world", value=spec, choices=["camera:ID", "board:FRAME", "floor:FRAME"]
    )


def calibrate_extrinsics(
    board: Board,
    cameras: Mapping[str, PinholeCamera],
    detections: Mapping[str, Mapping[Any, BoardDetection]],
    *,
    reference: str | None = None,
    world: str | None = None,
    refine_intrinsics: bool | Sequence[str] = False,
    loss: str = "huber",
    f_scale_px: float = 1.0,
    outlier_px: float | None = None,
    tier: str = "cpu",
    max_nfev: int = 100,
    solver: str = "auto",
) -> ExtrinsicsResult:
    """Calibrate the poses of several cameras (known intrinsics) from synchronized board views.

    ``detections[camera][frame]``: the board in that camera at that frame (frames are any
    hashable key shared across cameras).
    """
    missing = [c for c in detections if c not in cameras]
    if missing:
        raise ConfigError(
            "no intrinsics for camera(s)", field_path="intrinsics", value=missing, choices=sorted(cameras)
        )
    ids = [c for c in detections]
    if not ids:
        raise CalibrationError("no camera views given", field_path="views")
    for c in ids:
        if not isinstance(cameras[c], PinholeCamera):
            raise ConfigError(
                "extrinsics support pinhole cameras", field_path=f"intrinsics.{c}", value=cameras[c].model
            )
    reference = reference or ids[0]
    if reference not in ids:
        raise ConfigError("unknown reference camera", field_path="reference", value=reference, choices=ids)
    for c in ids:
        sizes = {d.image_size for d in detections[c].values()}
        cam = cameras[c]
        if sizes and sizes != {(cam.width, cam.height)}:
            raise CalibrationError(
                f"camera {c!r}: images are {sorted(sizes)} but its intrinsics are for {cam.width}x{cam.height}",
                field_path=f"views.{c}",
            )
    cfb: dict[str, dict[Any, np.ndarray]] = {c: {} for c in ids}
    pnp_inliers: dict[tuple[str, Any], np.ndarray] = {}
    for c in ids:
        for f, det in detections[c].items():
            got = _pnp(board, cameras[c], det)
            if got is not None:
                cfb[c][f], pnp_inliers[(c, f)] = got
        if not cfb[c]:
            raise CalibrationError(f"camera {c!r}: no board found in any of its views", field_path=f"views.{c}")
    cam_from_ref = initial_poses(cfb, reference)
    frames = sorted({f for c in ids for f in cfb[c]}, key=str)
    # initial world(=reference)_from_board: from the camera that saw most corners in that frame
    ref_from_board = {}
    for f in frames:
        best = max((c for c in ids if f in cfb[c]), key=lambda c: detections[c][f].count)
        ref_from_board[f] = np.linalg.inv(cam_from_ref[best]) @ cfb[best][f]
    fidx = {f: i for i, f in enumerate(frames)}
    # boards are adjusted about their centre (better conditioned); poses converted back at the end
    mid = board.object_points().mean(axis=0)
    board_from_mid = np.eye(4)
    board_from_mid[:3, 3] = mid
    cam_i, obj_i, objp, uv, start_keep = [], [], [], [], []
    for k, c in enumerate(ids):
        for f, det in detections[c].items():
            if f not in fidx:
                continue
            # corners that RANSAC PnP already called outliers start outside the adjustment
            start_keep.append(pnp_inliers.get((c, f), np.zeros(det.count, bool)))
            cam_i.append(np.full(det.count, k))
            obj_i.append(np.full(det.count, fidx[f]))
            objp.append(board.object_points(det.ids) - mid)
            uv.append(det.corners_px)
    cam_idx, obj_idx = np.concatenate(cam_i).astype(np.int64), np.concatenate(obj_i).astype(np.int64)
    obj, uv_all = np.concatenate(objp), np.concatenate(uv)
    fixed = np.array([c == reference for c in ids], np.uint8)
    cam_params = np.array([cam_vec(cam_from_ref[c]) for c in ids])
    obj_params = np.array([_vec(ref_from_board[f] @ board_from_mid) for f in frames])
    intr = np.array([intr_row(cameras[c]) for c in ids])
    keep = np.concatenate(start_keep)
    # refine_intrinsics=True refines fx, fy, cx, cy, k1, k2 (p1, p2, k3 are poorly constrained by
    # boards that do not reach the image corners); a sequence names the terms
    terms = (
        tuple(refine_intrinsics) if not isinstance(refine_intrinsics, bool) else ("fx", "fy", "cx", "cy", "k1", "k2")
    )
    bad_terms = [t for t in terms if t not in INTRINSIC_TERMS]
    if bad_terms:
        raise ConfigError(
            "unknown intrinsic term", field_path="refine_intrinsics", value=bad_terms, choices=INTRINSIC_TERMS
        )
    res: BAResult | None = None
    for _round in range(3):
        prob = BAProblem(cam_params, intr, obj_params, obj[keep], cam_idx[keep], obj_idx[keep], uv_all[keep], fixed,
                         refine_intrinsics=bool(refine_intrinsics), intrinsics_terms=terms)  # fmt: skip
        res = bundle_adjust(prob, loss=loss, f_scale_px=f_scale_px, tier=tier, max_nfev=max_nfev, solver=solver)
        cam_params, obj_params, intr = res.cam_params, res.obj_params, res.intr
        # residuals of every observation (also the dropped ones) at the current solution
        full = BAProblem(cam_params, intr, obj_params, obj, cam_idx, obj_idx, uv_all, fixed)
        from ._ba_kernels import alloc_outputs, ba_jacobian

        outs = alloc_outputs(obj.shape[0])
        ba_jacobian(tier)(
            full.cam_params,
            full.intr,
            full.obj_params,
            full.obj,
            full.cam_idx,
            full.obj_idx,
            full.uv,
            full.cam_fixed,
            *outs,
        )
        err = np.linalg.norm(outs[0], axis=1)
        err[outs[5] == 0] = np.inf
        sigma = 1.4826 * float(np.median(err[keep & np.isfinite(err)]))
        thr = outlier_px if outlier_px is not None else max(5.0 * sigma, 2.0)
        new_keep = err <= thr
        changed = int((new_keep != keep).sum())
        keep = new_keep
        if changed <= 0.002 * keep.size:  # the inlier set has settled
            break
    assert res is not None
    rms, nobs, nout, resid = {}, {}, {}, {}
    for k, c in enumerate(ids):
        m = cam_idx == k
        nobs[c] = int((m & keep).sum())
        nout[c] = int((m & ~keep).sum())
        e = err[m & keep]
        rms[c] = float(np.sqrt(np.mean(e**2))) if e.size else float("nan")
        resid[c] = outs[0][m & keep]
        if nobs[c] < 6:
            raise CalibrationError(
                f"degenerate adjustment: camera {c!r} keeps {nobs[c]} observations", field_path=f"views.{c}"
            )
    worst = max(rms.values())
    if not np.isfinite(worst) or worst > 20.0:
        raise CalibrationError(f"degenerate adjustment: reprojection RMS {worst:.1f} px after adjustment")
    mid_from_board = np.linalg.inv(board_from_mid)
    wb = {f: _mat(obj_params[i, :3], obj_params[i, 3:]) @ mid_from_board for f, i in fidx.items()}
    world_from_ref = world_frame(world or f"camera:{reference}", reference, wb)
    sensors = {}
    for k, c in enumerate(ids):
        ref_from_cam = np.linalg.inv(cam_mat(cam_params[k]))
        cam = pinhole_from_row(intr[k], cameras[c]) if refine_intrinsics else cameras[c]
        sensors[c] = SensorCalibration(
            camera=cam, world_from_sensor=Transform.from_matrix(world_from_ref @ ref_from_cam)
        )
    world_from_board = {f: world_from_ref @ m for f, m in wb.items()}
    return ExtrinsicsResult(RigCalibration(sensors=sensors), rms, nobs, nout, world_from_board, resid, res)
