"""Single-camera intrinsics from board detections: pinhole (Brown–Conrady), fisheye
(Kannala–Brandt, ``cv2.fisheye``) and omnidirectional (double sphere, initialised by
``cv2.omnidir``'s unified model), with outlier-frame rejection and a per-image report.

A fit tells the truth about its input: the report gives the board coverage (:mod:`._quality`) and
warns below ``min_coverage``; physically implausible intrinsics (principal point outside the
image, aspect ratio, focal length out of range) raise :class:`DegenerateCalibrationError` with the
reasons (``check=False`` turns them into warnings)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from pydantic import ValidationError

from sensorfusion import ConfigError, MissingDependencyError
from sensorfusion.schema import DoubleSphereCamera, KannalaBrandtCamera, PinholeCamera

from ._boards import Board, BoardDetection
from ._quality import (
    DEFAULT_FOV_RANGE_DEG,
    DEFAULT_MAX_ASPECT_RATIO,
    DEFAULT_MIN_COVERAGE,
    Coverage,
    board_coverage,
    implausible,
)

__all__ = [
    "MODELS",
    "CalibrationError",
    "DegenerateCalibrationError",
    "IntrinsicsResult",
    "ViewReport",
    "calibrate_intrinsics",
    "check_image_sizes",
]

MODELS = ("pinhole", "fisheye", "omni")


class CalibrationError(ConfigError):
    """The input cannot give a calibration: no board found, mixed image sizes, a camera that
    shares no view, a degenerate adjustment. A :class:`sensorfusion.ConfigError` (CLI exit 2)."""


class DegenerateCalibrationError(CalibrationError):
    """The fit ran but its intrinsics cannot be a real camera; ``reasons`` says why and ``result``
    holds the rejected fit (with its coverage) for the report."""

    def __init__(self, message: str, *, reasons: list[str], result: IntrinsicsResult) -> None:
        self.reasons = reasons
        self.result = result
        super().__init__(message, field_path="inputs")


@dataclass
class ViewReport:
    """One image's part in the calibration."""

    source: str
    corners: int
    rms_px: float
    used: bool
    sharpness: float
    reason: str = ""


@dataclass
class IntrinsicsResult:
    camera: PinholeCamera | KannalaBrandtCamera | DoubleSphereCamera
    rms_px: float
    views: list[ViewReport]
    board_from_camera: list[np.ndarray] = field(default_factory=list)  # per used view, 4x4 camera_from_board
    coverage: Coverage | None = None  # of the used views
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why the result is degenerate (check=False keeps it)
    std_px: dict[str, float] = field(default_factory=dict)  # standard deviations of fx, fy, cx, cy (pinhole)
    inverted_views: int = 0  # views where the board was found inverted (white markers on black)

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.camera.model,
            "rms_px": self.rms_px,
            "camera": self.camera.model_dump(),
            "coverage": self.coverage.as_dict() if self.coverage is not None else None,
            "warnings": self.warnings,
            "problems": self.problems,
            "std_px": self.std_px,
            "inverted_views": self.inverted_views,
            "views_used": sum(v.used for v in self.views),
            "views_rejected": sum(not v.used for v in self.views),
            "views": [v.__dict__ for v in self.views],
        }


def check_image_sizes(detections: Sequence[BoardDetection], *, camera: str = "camera") -> tuple[int, int]:
    """The one image size of these detections; :class:`CalibrationError` when they differ."""
    sizes = sorted({d.image_size for d in detections})
    if len(sizes) > 1:
        examples = {s: next(d.source for d in detections if d.image_size == s) for s in sizes}
        raise CalibrationError(
            f"{camera}: images of different sizes cannot be calibrated together: "
            + ", ".join(f"{w}x{h} (e.g. {src})" for (w, h), src in examples.items()),
            field_path="inputs",
        )
    return sizes[0]


def _rt_matrix(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = cv2.Rodrigues(np.asarray(rvec, dtype=np.float64).reshape(3, 1))[0]
    m[:3, 3] = np.asarray(tvec, dtype=np.float64).ravel()
    return m


def _fit(
    model: str, obj: list[np.ndarray], img: list[np.ndarray], size: tuple[int, int]
) -> tuple[Any, list[np.ndarray], list[np.ndarray], dict[str, float]]:
    """``(camera, rvecs, tvecs, standard deviations of fx, fy, cx, cy)`` (the last for the pinhole only)."""
    w, h = size
    if model == "pinhole":
        _rms, k, d, rv, tv, std_i, _std_e, _per_view = cv2.calibrateCameraExtended(  # type: ignore[call-overload]
            [o.astype(np.float32) for o in obj], [i.astype(np.float32) for i in img], size, None, None
        )
        sd = np.ravel(std_i)
        std = {name: float(sd[i]) for i, name in enumerate(("fx", "fy", "cx", "cy")) if i < sd.size}
        cam: Any = PinholeCamera(width=w, height=h, fx=k[0, 0], fy=k[1, 1], cx=k[0, 2], cy=k[1, 2], k1=d[0, 0], k2=d[0, 1],
                                 p1=d[0, 2], p2=d[0, 3], k3=d[0, 4])  # fmt: skip
        return cam, list(rv), list(tv), std
    if model == "fisheye":
        flags = getattr(cv2.fisheye, "CALIB_RECOMPUTE_EXTRINSIC", cv2.CALIB_RECOMPUTE_EXTRINSIC) | getattr(
            cv2.fisheye, "CALIB_FIX_SKEW", cv2.CALIB_FIX_SKEW
        )
        crit = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 200, 1e-9)
        k0 = np.array([[max(w, h) / 2.0, 0, w / 2.0], [0, max(w, h) / 2.0, h / 2.0], [0, 0, 1]])
        _rms, k, d, rv, tv = cv2.fisheye.calibrate(
            [o.reshape(1, -1, 3).astype(np.float64) for o in obj], [i.reshape(1, -1, 2).astype(np.float64) for i in img],
            size, k0, np.zeros((1, 4)), flags=flags | getattr(cv2.fisheye, "CALIB_USE_INTRINSIC_GUESS", cv2.CALIB_USE_INTRINSIC_GUESS), criteria=crit,
        )  # fmt: skip
        d = d.ravel()
        cam = KannalaBrandtCamera(width=w, height=h, fx=k[0, 0], fy=k[1, 1], cx=k[0, 2], cy=k[1, 2],
                                  k1=d[0], k2=d[1], k3=d[2], k4=d[3])  # fmt: skip
        return cam, list(rv), list(tv), {}
    return (*_fit_double_sphere(obj, img, size), {})


def _ds_project(params: np.ndarray, pts_c: np.ndarray) -> np.ndarray:
    fx, fy, cx, cy, xi, alpha = params
    x, y, z = pts_c[:, 0], pts_c[:, 1], pts_c[:, 2]
    d1 = np.sqrt(x * x + y * y + z * z)
    zz = xi * d1 + z
    d2 = np.sqrt(x * x + y * y + zz * zz)
    den = alpha * d2 + (1 - alpha) * zz
    return np.column_stack([fx * x / den + cx, fy * y / den + cy])


def _fit_double_sphere(
    obj: list[np.ndarray], img: list[np.ndarray], size: tuple[int, int]
) -> tuple[Any, list[np.ndarray], list[np.ndarray]]:
    """Double sphere: initialised from ``cv2.omnidir`` (Mei's unified model, = DS with alpha 0),
    then every parameter and pose refined together by least squares."""
    from scipy.optimize import least_squares

    if not hasattr(cv2, "omnidir"):
        raise MissingDependencyError(
            "omnidirectional calibration needs cv2.omnidir (opencv-contrib)",
            install="pip install opencv-contrib-python",
        )
    w, h = size
    poses = np.zeros((len(obj), 6))
    crit = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 200, 1e-8)
    o_in = [o.reshape(1, -1, 3).astype(np.float64) for o in obj]
    i_in = [i.reshape(1, -1, 2).astype(np.float64) for i in img]
    try:
        _rms, k, xi, _d, rv, tv, idx = cv2.omnidir.calibrate(  # type: ignore[call-overload]
            o_in, i_in, size, None, None, None, cv2.omnidir.CALIB_FIX_SKEW, crit
        )
        used = np.asarray(idx).ravel() if idx is not None else np.arange(len(obj))
    except cv2.error:
        used = np.zeros(0, np.int64)
    if used.size == len(obj):
        xi0 = float(np.ravel(xi)[0])
        for j, vi in enumerate(used):
            poses[vi, :3], poses[vi, 3:] = np.ravel(rv[j]), np.ravel(tv[j])
    else:  # cv2.omnidir gave up on some views: start from the pinhole fit (= DS with xi = alpha = 0)
        _rms, k, _d, rv, tv = cv2.calibrateCamera([o.astype(np.float32) for o in obj], [i.astype(np.float32) for i in img],
                                                  size, None, None, flags=cv2.CALIB_FIX_K1 | cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3
                                                  | cv2.CALIB_ZERO_TANGENT_DIST)  # fmt: skip
        xi0 = 0.0
        for vi in range(len(obj)):
            poses[vi, :3], poses[vi, 3:] = np.ravel(rv[vi]), np.ravel(tv[vi])
    x0 = np.concatenate([[k[0, 0], k[1, 1], k[0, 2], k[1, 2], xi0, 0.0], poses.ravel()])

    def resid(x: np.ndarray) -> np.ndarray:
        out = []
        for vi, (o, i) in enumerate(zip(obj, img, strict=True)):
            rvec, tvec = x[6 + 6 * vi : 9 + 6 * vi], x[9 + 6 * vi : 12 + 6 * vi]
            pc = o @ cv2.Rodrigues(rvec)[0].T + tvec
            out.append((_ds_project(x[:6], pc) - i).ravel())
        return np.concatenate(out)

    lo = np.full(x0.size, -np.inf)
    hi = np.full(x0.size, np.inf)
    lo[5], hi[5] = 0.0, 1.0
    x0[5] = 0.01
    from scipy.sparse import lil_matrix

    sparsity = lil_matrix((sum(2 * len(o) for o in obj), x0.size), dtype=np.int8)
    row = 0
    for vi, o in enumerate(obj):
        sparsity[row : row + 2 * len(o), :6] = 1
        sparsity[row : row + 2 * len(o), 6 + 6 * vi : 12 + 6 * vi] = 1
        row += 2 * len(o)
    sol = least_squares(
        resid, x0, bounds=(lo, hi), x_scale="jac", method="trf", jac_sparsity=sparsity, max_nfev=300, ftol=1e-10
    )
    p = sol.x
    cam = DoubleSphereCamera(
        width=w, height=h, fx=p[0], fy=p[1], cx=p[2], cy=p[3], xi=p[4], alpha=float(np.clip(p[5], 0, 1))
    )
    rvs = [p[6 + 6 * v : 9 + 6 * v] for v in range(len(obj))]
    tvs = [p[9 + 6 * v : 12 + 6 * v] for v in range(len(obj))]
    return cam, rvs, tvs


def _view_rms(model: str, cam: Any, o: np.ndarray, i: np.ndarray, rvec: np.ndarray, tvec: np.ndarray) -> float:
    """RMS (px) of one view: OpenCV for the pinhole, the SDK's geometry kernels for the others."""
    from sensorfusion.geometry import project

    if isinstance(cam, PinholeCamera):
        uv, _ = cv2.projectPoints(o.astype(np.float64), rvec, tvec, cam.K, cam.dist_coeffs)
    else:
        pc = o @ cv2.Rodrigues(np.ravel(rvec).astype(np.float64))[0].T + np.ravel(tvec)
        uv = project(cam, pc, tier="numpy")
    r = np.asarray(uv).reshape(-1, 2) - i
    return float(np.sqrt(np.mean(np.sum(r * r, axis=1))))


def calibrate_intrinsics(
    detections: Sequence[BoardDetection],
    board: Board,
    *,
    model: str = "pinhole",
    reject_outliers: bool = True,
    outlier_factor: float = 3.0,
    min_views: int = 3,
    camera: str = "camera",
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    max_aspect_ratio: float = DEFAULT_MAX_ASPECT_RATIO,
    fov_range_deg: tuple[float, float] = DEFAULT_FOV_RANGE_DEG,
    max_focal_std: float = 0.05,
    check: bool = True,
) -> IntrinsicsResult:
    """Calibrate one camera from its board detections.

    Outlier-frame rejection: after a fit, a view whose RMS exceeds ``outlier_factor`` times the
    median view RMS (and 0.5 px) is dropped and the fit repeated, until none is (at most 5 rounds;
    never below ``min_views`` views).

    Truth about the input: ``result.coverage`` (see :mod:`._quality`); a warning when the board
    covered less than ``min_coverage`` of the image area or (pinhole) the focal length's standard
    deviation exceeds ``max_focal_std`` of its value; :class:`DegenerateCalibrationError` when the
    intrinsics are implausible (principal point outside the image, ``fy/fx`` beyond
    ``max_aspect_ratio``, focal length out of ``fov_range_deg``) — ``check=False`` keeps such a result
    with the reasons in ``result.problems`` and ``result.warnings``.
    """
    if model not in MODELS:
        raise ConfigError("unknown camera model", field_path="model", value=model, choices=MODELS)
    if not 0.0 <= min_coverage <= 1.0:
        raise ConfigError("must be a fraction in [0, 1]", field_path="min_coverage", value=min_coverage)
    if not max_aspect_ratio >= 1.0:
        raise ConfigError("must be >= 1", field_path="max_aspect_ratio", value=max_aspect_ratio)
    dets = [d for d in detections if d.count >= 6]
    if not dets:
        raise CalibrationError(
            f"{camera}: no board found in any image ({len(detections)} detections with >= 6 corners: 0)",
            field_path="inputs",
        )
    size = check_image_sizes(dets, camera=camera)
    if len(dets) < min_views:
        raise CalibrationError(
            f"{camera}: the board was found in {len(dets)} image(s); at least {min_views} are needed",
            field_path="inputs",
        )
    obj = [board.object_points(d.ids) for d in dets]
    img = [d.corners_px for d in dets]
    used = np.ones(len(dets), bool)
    reasons = [""] * len(dets)
    for _round in range(6):
        idx = np.flatnonzero(used)
        try:
            cam, rv, tv, std = _fit(model, [obj[i] for i in idx], [img[i] for i in idx], size)
        except cv2.error as e:
            raise CalibrationError(
                f"{camera}: the {model} fit failed (degenerate views?): {e.msg if hasattr(e, 'msg') else e}"
            ) from None
        except ValidationError as e:  # e.g. a negative focal length
            bad = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
            raise CalibrationError(f"{camera}: degenerate {model} fit ({bad})", field_path="inputs") from None
        all_rms = np.full(len(dets), np.nan)
        poses = {}
        for j, i in enumerate(idx):
            all_rms[i] = _view_rms(model, cam, obj[i], img[i], rv[j], tv[j])
            poses[i] = (rv[j], tv[j])
        if isinstance(cam, PinholeCamera):  # rejected views: measured against the current fit
            for i in np.flatnonzero(~used):
                ok, rvec, tvec = cv2.solvePnP(obj[i], img[i], cam.K, cam.dist_coeffs)
                if ok:
                    all_rms[i] = _view_rms(model, cam, obj[i], img[i], rvec, tvec)
        if not reject_outliers:
            break
        med = float(np.median(all_rms[used]))
        bad_views = used & (all_rms > max(outlier_factor * med, 0.5))
        if not bad_views.any() or used.sum() - bad_views.sum() < min_views:
            break
        worst = int(np.nanargmax(np.where(bad_views, all_rms, -np.inf)))  # drop one at a time: the worst
        used[worst] = False
        reasons[worst] = f"outlier: {all_rms[worst]:.2f} px > {outlier_factor:g} x median {med:.2f} px"
    sq = [np.sum((all_rms[i] ** 2) * len(obj[i])) for i in np.flatnonzero(used)]
    rms = float(np.sqrt(np.sum(sq) / sum(len(obj[i]) for i in np.flatnonzero(used))))
    views = [
        ViewReport(d.source, d.count, float(all_rms[i]), bool(used[i]), d.sharpness, reasons[i])
        for i, d in enumerate(dets)
    ]
    cfb = [_rt_matrix(*poses[i]) for i in np.flatnonzero(used)]
    used_dets = [dets[i] for i in np.flatnonzero(used)]
    coverage = board_coverage(used_dets, size)
    res = IntrinsicsResult(cam, rms, views, cfb, coverage=coverage, std_px=std,
                           inverted_views=sum(d.inverted for d in dets))  # fmt: skip
    if coverage.area < min_coverage:
        res.warnings.append(
            f"{camera}: the board covered {coverage.area:.0%} of the image (union of {len(used_dets)} views; each "
            f"{min(coverage.per_view):.0%}..{max(coverage.per_view):.0%}), below {min_coverage:.0%}: distortion "
            "outside it is extrapolated; move the board into the corners and edges, tilted"
        )
    for name in ("fx", "fy"):
        rel = std.get(name, 0.0) / float(getattr(cam, name))
        if rel > max_focal_std:
            res.warnings.append(
                f"{camera}: {name} is poorly constrained (standard deviation {std[name]:.1f} px = {rel:.1%}); "
                "tilt the board more (up to ~45 deg) and add views"
            )
    res.problems = implausible(cam, max_aspect_ratio=max_aspect_ratio, fov_range_deg=fov_range_deg)
    if res.problems:
        msg = (
            f"{camera}: degenerate {model} calibration: {'; '.join(res.problems)} "
            f"(board coverage {coverage.area:.0%} of the image, {len(used_dets)} views, RMS {rms:.2f} px); "
            "take more views that fill the image with the board, tilted"
        )
        if check:
            raise DegenerateCalibrationError(msg, reasons=res.problems, result=res)
        res.warnings.append(msg)
    return res
