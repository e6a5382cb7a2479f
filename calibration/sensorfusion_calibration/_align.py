"""Aligning sensors without a board: time offsets by motion cross-correlation, rigid (and
similarity) transforms from matched 3D points (radar↔camera), and depth↔colour extrinsics
from what a depth camera reports about itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from sensorfusion import ConfigError
from sensorfusion.schema import PinholeCamera, RigCalibration, SensorCalibration, Transform

__all__ = [
    "RigidFit",
    "estimate_time_offset",
    "fit_rigid",
    "rig_calibration_from_realsense",
]


def _motion_signal(t_ns: np.ndarray, values: np.ndarray, grid_ns: np.ndarray) -> np.ndarray:
    """Speed (norm of the derivative) of a ``(T, D)`` signal, resampled on ``grid_ns``, zero mean, unit variance."""
    v = np.asarray(values, dtype=np.float64).reshape(len(t_ns), -1)
    t = np.asarray(t_ns, dtype=np.float64)
    ok = np.all(np.isfinite(v), axis=1)
    t, v = t[ok], v[ok]
    if t.size < 4:
        return np.zeros(grid_ns.size)
    speed = np.linalg.norm(np.diff(v, axis=0), axis=1) / np.maximum(np.diff(t) * 1e-9, 1e-12)
    mid = 0.5 * (t[1:] + t[:-1])
    s = np.interp(grid_ns, mid, speed, left=np.nan, right=np.nan)
    s = s - np.nanmean(s)
    sd = np.nanstd(s)
    s = s / sd if sd > 0 else s
    out: np.ndarray = np.nan_to_num(s)
    return out


def estimate_time_offset(
    t_a_ns: Sequence[int] | np.ndarray,
    a: np.ndarray,
    t_b_ns: Sequence[int] | np.ndarray,
    b: np.ndarray,
    *,
    max_offset_s: float = 2.0,
    step_s: float = 0.001,
) -> tuple[int, float]:
    """Offset ``dt_ns`` to add to stream B's timestamps to put them on stream A's clock, from the
    cross-correlation of the two streams' motion (speed of any ``(T, D)`` signal: a tracked
    point in metres or pixels, IMU rates...). Returns ``(dt_ns, peak normalised correlation)``;
    the peak is refined to sub-step precision by a parabola through its neighbours.
    """
    ta, tb = np.asarray(t_a_ns, dtype=np.int64), np.asarray(t_b_ns, dtype=np.int64)
    if ta.size < 4 or tb.size < 4:
        raise ConfigError(
            "time offset needs at least 4 samples per stream", field_path="samples", value=(ta.size, tb.size)
        )
    step_ns = int(step_s * 1e9)
    lo = min(ta.min(), tb.min()) - int(max_offset_s * 1e9)
    hi = max(ta.max(), tb.max()) + int(max_offset_s * 1e9)
    grid = np.arange(lo, hi, step_ns, dtype=np.int64)
    sa = _motion_signal(ta, a, grid.astype(np.float64))
    sb = _motion_signal(tb, b, grid.astype(np.float64))
    max_lag = round(max_offset_s / step_s)
    lags = np.arange(-max_lag, max_lag + 1)
    n = grid.size
    from scipy.signal import correlate

    # corr[lag] = mean over the overlap of sa[i + lag] * sb[i] (b shifted by +lag steps matches a)
    full = correlate(sa, sb, mode="full", method="fft")
    counts = correlate((sa != 0).astype(np.float64), (sb != 0).astype(np.float64), mode="full", method="fft")
    idx = lags + n - 1
    cnt = np.rint(counts[idx])
    corr = np.where(cnt > 8, full[idx] / np.maximum(cnt, 1.0), -np.inf)
    k = int(np.argmax(corr))
    frac = 0.0
    if 0 < k < lags.size - 1 and np.all(np.isfinite(corr[k - 1 : k + 2])):
        y0, y1, y2 = corr[k - 1 : k + 2]
        den = y0 - 2 * y1 + y2
        frac = 0.5 * (y0 - y2) / den if den != 0 else 0.0
    return round((lags[k] + frac) * step_ns), float(corr[k])


@dataclass
class RigidFit:
    """``a_from_b`` fitted to matched points, its scale (1 unless ``with_scale``), RMS and inliers."""

    a_from_b: Transform
    scale: float
    rms_m: float
    inliers: np.ndarray


def _umeyama(a: np.ndarray, b: np.ndarray, with_scale: bool) -> tuple[np.ndarray, np.ndarray, float]:
    ma, mb = a.mean(axis=0), b.mean(axis=0)
    da, db = a - ma, b - mb
    cov = da.T @ db / len(a)
    u, d, vt = np.linalg.svd(cov)
    s = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        s[2, 2] = -1
    r = u @ s @ vt
    c = float(np.trace(np.diag(d) @ s) / (db**2).sum(axis=1).mean()) if with_scale else 1.0
    t = ma - c * r @ mb
    return r, t, c


def fit_rigid(
    points_a: np.ndarray,
    points_b: np.ndarray,
    *,
    with_scale: bool = False,
    loss: str = "huber",
    f_scale_m: float = 0.05,
    inlier_m: float | None = None,
) -> RigidFit:
    """``a_from_b`` (and a scale if asked) from matched ``(N, 3)`` points, e.g. a corner reflector
    or a person's trajectory seen by a radar (B) and triangulated by the cameras (A).

    Kabsch/Umeyama on all pairs, then a robust refinement (``least_squares`` with ``loss``,
    ``f_scale_m``) and a final fit on the inliers (residual below ``inlier_m``, default 3 robust sigmas).
    NaN rows are ignored; fewer than 3 valid non-collinear pairs is a :class:`ConfigError`.
    """
    a, b = np.asarray(points_a, dtype=np.float64), np.asarray(points_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 3:
        raise ConfigError("matched points must both be (N, 3)", field_path="points", value=(a.shape, b.shape))
    ok = np.all(np.isfinite(a), axis=1) & np.all(np.isfinite(b), axis=1)
    a, b = a[ok], b[ok]
    if len(a) < 3 or np.linalg.matrix_rank(b - b.mean(axis=0), tol=1e-6) < 2:
        raise ConfigError("need at least 3 matched points that are not collinear", field_path="points", value=len(a))
    r, t, c = _umeyama(a, b, with_scale)

    def resid(x: np.ndarray) -> np.ndarray:
        rr = Rotation.from_rotvec(x[:3]).as_matrix()
        sc = float(np.exp(x[6])) if with_scale else 1.0
        out: np.ndarray = (sc * b @ rr.T + x[3:6] - a).ravel()
        return out

    x0 = np.concatenate([Rotation.from_matrix(r).as_rotvec(), t, [np.log(c)]])
    sol = least_squares(resid, x0, loss=loss, f_scale=f_scale_m)
    err = np.linalg.norm(resid(sol.x).reshape(-1, 3), axis=1)
    thr = inlier_m if inlier_m is not None else max(3.0 * 1.4826 * float(np.median(err)), 1e-6)
    inl = err <= thr
    if inl.sum() >= 3:
        r, t, c = _umeyama(a[inl], b[inl], with_scale)
        x1 = np.concatenate([Rotation.from_matrix(r).as_rotvec(), t, [np.log(c)]])
        err = np.linalg.norm(resid(x1).reshape(-1, 3), axis=1)
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = r, t
    full = np.zeros(ok.size, bool)
    full[np.flatnonzero(ok)[inl]] = True
    return RigidFit(Transform.from_matrix(m), c, float(np.sqrt(np.mean(err[inl] ** 2))), full)


def rig_calibration_from_realsense(
    *,
    depth_intrinsics: dict[str, float | int | Sequence[float]],
    color_intrinsics: dict[str, float | int | Sequence[float]],
    depth_to_color_rotation: Sequence[float],
    depth_to_color_translation_m: Sequence[float],
    depth_id: str = "depth",
    color_id: str = "color",
    world_from_depth: Transform | None = None,
) -> RigCalibration:
    """A :class:`RigCalibration` of a RealSense's depth and colour cameras from what the device
    reports (plain numbers, as ``rs2_intrinsics``/``rs2_extrinsics`` give them).

    ``*_intrinsics``: ``width, height, fx, fy, ppx, ppy`` and ``coeffs`` (5 Brown–Conrady terms;
    RealSense's ``modified_brown_conrady``/``inverse_brown_conrady`` colour models are stored as
    OpenCV's Brown–Conrady, which is what they approximate; a D4xx reports zeros).
    ``depth_to_color_rotation``: the 9 numbers of ``rs2_extrinsics.rotation``, which librealsense
    stores **column-major**; ``depth_to_color_translation_m``: ``rs2_extrinsics.translation`` (m).
    Together they map a point in depth coordinates into colour coordinates (``color_from_depth``).
    The world is the depth camera unless ``world_from_depth`` is given.
    """

    def cam(d: dict[str, float | int | Sequence[float]], name: str) -> PinholeCamera:
        try:
            coeffs = [float(x) for x in d.get("coeffs", [0.0] * 5)]  # type: ignore[union-attr]
            k = (coeffs + [0.0] * 5)[:5]
            return PinholeCamera(width=int(d["width"]), height=int(d["height"]), fx=float(d["fx"]), fy=float(d["fy"]),  # type: ignore[arg-type]
                                 cx=float(d["ppx"]), cy=float(d["ppy"]), k1=k[0], k2=k[1], p1=k[2], p2=k[3], k3=k[4])  # type: ignore[arg-type]  # fmt: skip
        except KeyError as e:
            raise ConfigError(
                f"missing intrinsics key {e.args[0]!r}",
                field_path=name,
                choices=["width", "height", "fx", "fy", "ppx", "ppy", "coeffs"],
            ) from None

    rot = np.asarray(depth_to_color_rotation, dtype=np.float64)
    if rot.size != 9:
        raise ConfigError(
            "rotation must have 9 numbers (column-major 3x3)", field_path="depth_to_color_rotation", value=rot.size
        )
    color_from_depth = np.eye(4)
    color_from_depth[:3, :3] = rot.reshape(3, 3).T  # column-major storage
    color_from_depth[:3, 3] = np.asarray(depth_to_color_translation_m, dtype=np.float64).reshape(3)
    wfd = (world_from_depth or Transform()).matrix
    return RigCalibration(sensors={
        depth_id: SensorCalibration(camera=cam(depth_intrinsics, "depth_intrinsics"), world_from_sensor=Transform.from_matrix(wfd)),
        color_id: SensorCalibration(camera=cam(color_intrinsics, "color_intrinsics"),
                                    world_from_sensor=Transform.from_matrix(wfd @ np.linalg.inv(color_from_depth))),
    })  # fmt: skip
