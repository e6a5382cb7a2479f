"""Shared helpers of the format readers and writers: OpenCV matrices <-> camera models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from sensorfusion import ConfigError
from sensorfusion.schema import (
    DoubleSphereCamera,
    Fisheye624Camera,
    KannalaBrandtCamera,
    OmnidirectionalCamera,
    PinholeCamera,
    RigCalibration,
    SensorCalibration,
    Transform,
)

__all__ = [
    "AnyCamera",
    "camera_from_world_rt",
    "cameras_of",
    "fisheye_from_opencv",
    "opencv_dist",
    "opencv_k",
    "pinhole_from_opencv",
    "rodrigues",
    "rotvec_from_matrix",
    "sensor_from_opencv",
    "world_from_camera_rt",
]

AnyCamera = PinholeCamera | KannalaBrandtCamera | OmnidirectionalCamera | DoubleSphereCamera | Fisheye624Camera


def rodrigues(rotvec: Sequence[float] | np.ndarray) -> np.ndarray:
    """3x3 rotation matrix of an axis-angle vector in radians (same as ``cv2.Rodrigues``)."""
    from scipy.spatial.transform import Rotation

    return np.asarray(Rotation.from_rotvec(np.asarray(rotvec, dtype=np.float64).reshape(3)).as_matrix())


def rotvec_from_matrix(rotation: np.ndarray) -> np.ndarray:
    """Axis-angle vector (radians) of a 3x3 rotation matrix."""
    from scipy.spatial.transform import Rotation

    return np.asarray(Rotation.from_matrix(np.asarray(rotation, dtype=np.float64)).as_rotvec())


def _orthonormalize(r: np.ndarray) -> np.ndarray:
    """The nearest rotation (SVD) of a 3x3 matrix that is one to ``ROTATION_TOLERANCE`` (a rounded
    published rotation); :class:`ConfigError` with the measured deviation beyond that or for a
    reflection. Pass the raw matrix to :func:`world_from_camera_rt` as well to keep the note."""
    from sensorfusion.schema import ROTATION_TOLERANCE

    m = np.asarray(r, dtype=np.float64).reshape(3, 3)
    dev = float(np.abs(m @ m.T - np.eye(3)).max()) if np.all(np.isfinite(m)) else float("inf")
    if not dev <= ROTATION_TOLERANCE:
        raise ConfigError(
            f"rotation must be orthonormal: max |R R^T - I| = {dev:.3g} exceeds the tolerance {ROTATION_TOLERANCE:g}",
            field_path="rotation",
        )
    u, _, vt = np.linalg.svd(m)
    if np.linalg.det(u @ vt) < 0:
        raise ConfigError("rotation must have determinant +1 (a reflection was given)", field_path="rotation")
    out: np.ndarray = u @ vt
    return out


def world_from_camera_rt(rotation: np.ndarray, translation_m: np.ndarray) -> Transform:
    """``world_from_camera`` from OpenCV's ``camera_from_world`` pair (R 3x3 or rotation vector, t in metres).

    A 3x3 rotation goes through :class:`Transform`'s check: re-orthonormalised with a note when it
    deviates by at most ``ROTATION_TOLERANCE`` (rounded published values), refused beyond."""
    r = np.asarray(rotation, dtype=np.float64)
    t = np.asarray(translation_m, dtype=np.float64).reshape(3)
    if r.size == 3:
        m = np.eye(4)
        m[:3, :3] = rodrigues(r)
        m[:3, 3] = t
        return Transform.from_matrix(np.linalg.inv(m))
    rows = tuple(tuple(float(x) for x in row) for row in r.reshape(3, 3))
    return Transform(rotation=rows, translation_m=(float(t[0]), float(t[1]), float(t[2]))).inverse()


def camera_from_world_rt(world_from_camera: Transform) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's ``camera_from_world`` rotation matrix (3x3) and translation (metres)."""
    m = np.linalg.inv(world_from_camera.matrix)
    return m[:3, :3].copy(), m[:3, 3].copy()


def opencv_k(cam: AnyCamera) -> np.ndarray:
    """The 3x3 camera matrix of a pinhole, fisheye, double-sphere or Fisheye624 camera."""
    if isinstance(cam, OmnidirectionalCamera):
        raise ConfigError("a Scaramuzza camera has no 3x3 camera matrix", field_path="camera.model", value=cam.model)
    return np.array([[cam.fx, 0.0, cam.cx], [0.0, cam.fy, cam.cy], [0.0, 0.0, 1.0]])


def opencv_dist(cam: PinholeCamera) -> np.ndarray:
    """OpenCV distortion vector (k1, k2, p1, p2, k3[, k4, k5, k6]): 5 terms unless the rational ones are used."""
    full = cam.dist_coeffs
    n = 8 if np.any(full[5:] != 0.0) else 5
    return full[:n].copy()


def pinhole_from_opencv(k: np.ndarray, dist: Sequence[float] | np.ndarray, width: int, height: int) -> PinholeCamera:
    """A :class:`PinholeCamera` from OpenCV's K and distortion (4, 5, 8 terms; more only if all zero)."""
    km = np.asarray(k, dtype=np.float64).reshape(3, 3)
    if abs(km[0, 1]) > 1e-9 * max(abs(km[0, 0]), 1.0):
        raise ConfigError("camera matrix has a skew term; the pinhole model has none", value=float(km[0, 1]))
    d = np.zeros(8)
    dv = np.asarray(dist, dtype=np.float64).ravel()
    if dv.size > 8 and np.any(dv[8:] != 0.0):
        raise ConfigError(
            "thin-prism / tilt distortion terms (s1..s4, tau) are not supported",
            value=dv.tolist(),
            field_path="distortion",
        )
    d[: min(dv.size, 8)] = dv[:8]
    return PinholeCamera(
        width=int(width), height=int(height), fx=float(km[0, 0]), fy=float(km[1, 1]), cx=float(km[0, 2]),
        cy=float(km[1, 2]), k1=float(d[0]), k2=float(d[1]), p1=float(d[2]), p2=float(d[3]), k3=float(d[4]),
        k4=float(d[5]), k5=float(d[6]), k6=float(d[7]),
    )  # fmt: skip


def fisheye_from_opencv(
    k: np.ndarray, dist: Sequence[float] | np.ndarray, width: int, height: int
) -> KannalaBrandtCamera:
    """A :class:`KannalaBrandtCamera` from ``cv2.fisheye``'s K and D (k1..k4)."""
    km = np.asarray(k, dtype=np.float64).reshape(3, 3)
    d = np.zeros(4)
    dv = np.asarray(dist, dtype=np.float64).ravel()
    d[: min(dv.size, 4)] = dv[:4]
    return KannalaBrandtCamera(
        width=int(width), height=int(height), fx=float(km[0, 0]), fy=float(km[1, 1]), cx=float(km[0, 2]),
        cy=float(km[1, 2]), k1=float(d[0]), k2=float(d[1]), k3=float(d[2]), k4=float(d[3]),
    )  # fmt: skip


def sensor_from_opencv(
    camera: AnyCamera, rotation: np.ndarray | None = None, translation_m: np.ndarray | None = None
) -> SensorCalibration:
    """A :class:`SensorCalibration` from a camera and OpenCV's ``camera_from_world`` (identity when absent)."""
    if rotation is None or translation_m is None:
        return SensorCalibration(camera=camera)
    return SensorCalibration(camera=camera, world_from_sensor=world_from_camera_rt(rotation, translation_m))


def cameras_of(
    cal: RigCalibration, fmt: str, allowed: tuple[type[BaseModel], ...]
) -> list[tuple[str, AnyCamera, Transform]]:
    """Every camera of the rig as ``(id, camera, world_from_camera)``; refuses models the format cannot hold."""
    out: list[tuple[str, AnyCamera, Transform]] = []
    for sid, s in cal.sensors.items():
        if s.camera is None:
            continue
        if not isinstance(s.camera, allowed):
            raise ConfigError(
                f"the {fmt} format cannot store a {s.camera.model!r} camera",
                field_path=f"sensors.{sid}.camera.model",
                value=s.camera.model,
                choices=[str(t.model_fields["model"].default) for t in allowed],
            )
        out.append((sid, s.camera, s.world_from_sensor))
    if not out:
        raise ConfigError(f"nothing to write: the calibration has no camera (format {fmt})", field_path="sensors")
    return out
