"""Head pose from face-mesh landmarks: ``cv2.solvePnP`` against a generic 3D face.

Conventions (also in the README):

* **Head frame**: origin at the nose tip; ``x`` toward the subject's *left* (image right when
  the subject faces the camera), ``y`` down (toward the chin), ``z`` from the face into the
  head (away from a camera the subject faces). A subject looking straight into the camera
  with the head upright has ``camera_from_head = I``.
* **Angles** (radians): ``camera_from_head = Ry(yaw) @ Rx(pitch) @ Rz(roll)``, rotations about
  the camera's axes (OpenCV: x right, y down, z forward), so
  ``yaw > 0``: the face turns toward the image's left (the subject turns to *their right*);
  ``pitch > 0``: the face tilts down (chin toward the chest); ``roll > 0``: the head tilts toward the subject's left
  shoulder (image right side down). Yaw and roll are in (-pi, pi], pitch in [-pi/2, pi/2].
* **Translation**: ``camera_from_head`` translation in metres. Its scale comes from the
  *generic* face below (an adult average), so depth is only as good as that assumption.

The generic face: 8 points (nose tip, chin, eye corners, mouth corners) in metres, from
average adult proportions: outer eye corners 9 cm apart and 3.5 cm above the nose tip,
mouth corners 5 cm apart and 2.5 cm below it, the chin's lowest point 6.5 cm below it;
the nose tip stands about 4 cm in front of the eye corners, mouth corners and chin.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["FACE_MESH_INDICES", "GENERIC_FACE_M", "euler_from_rotation", "rotation_from_euler", "solve_head_pose"]

# MediaPipe face-mesh (468 points) indices of the model's points, in GENERIC_FACE_M order
FACE_MESH_INDICES = np.array([1, 152, 33, 263, 133, 362, 61, 291])

GENERIC_FACE_M = np.array(
    [
        [0.000, 0.000, 0.000],  # nose tip (pronasale)
        [0.000, 0.065, 0.042],  # chin, lowest point (menton)
        [-0.045, -0.035, 0.040],  # right eye, outer corner (subject's right: -x)
        [0.045, -0.035, 0.040],  # left eye, outer corner
        [-0.016, -0.033, 0.034],  # right eye, inner corner
        [0.016, -0.033, 0.034],  # left eye, inner corner
        [-0.025, 0.025, 0.040],  # mouth, right corner
        [0.025, 0.025, 0.040],  # mouth, left corner
    ],
    dtype=np.float64,
)


def rotation_from_euler(yaw_rad: float, pitch_rad: float, roll_rad: float) -> np.ndarray:
    """``Ry(yaw) @ Rx(pitch) @ Rz(roll)``."""
    ca, sa = math.cos(yaw_rad), math.sin(yaw_rad)
    cb, sb = math.cos(pitch_rad), math.sin(pitch_rad)
    cc, sc = math.cos(roll_rad), math.sin(roll_rad)
    ry = np.array([[ca, 0, sa], [0, 1, 0], [-sa, 0, ca]])
    rx = np.array([[1, 0, 0], [0, cb, -sb], [0, sb, cb]])
    rz = np.array([[cc, -sc, 0], [sc, cc, 0], [0, 0, 1]])
    out: np.ndarray = ry @ rx @ rz
    return out


def euler_from_rotation(camera_from_head: np.ndarray) -> np.ndarray:
    """``(yaw, pitch, roll)`` radians with ``R = Ry(yaw) Rx(pitch) Rz(roll)``."""
    r = np.asarray(camera_from_head, dtype=np.float64)
    pitch = math.asin(max(-1.0, min(1.0, -r[1, 2])))
    yaw = math.atan2(r[0, 2], r[2, 2])
    roll = math.atan2(r[1, 0], r[1, 1])
    return np.array([yaw, pitch, roll])


def solve_head_pose(
    points_px: np.ndarray, K: np.ndarray, dist_coeffs: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Pose of the generic face from its 8 image points ``(8, 2)`` (full-image pixels).

    Returns ``(camera_from_head rotation (3, 3), translation_m (3,), rms reprojection error px)``
    or None when the points are not finite or the solver fails / puts the head behind the camera.
    """
    pts = np.ascontiguousarray(points_px, dtype=np.float64).reshape(-1, 1, 2)
    if pts.shape[0] != len(GENERIC_FACE_M) or not np.isfinite(pts).all():
        return None
    dist = np.zeros(5) if dist_coeffs is None else np.asarray(dist_coeffs, dtype=np.float64)
    obj = GENERIC_FACE_M.reshape(-1, 1, 3)
    ok, rvec, tvec = cv2.solvePnP(obj, pts, K, dist, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        return None
    rvec, tvec = cv2.solvePnPRefineLM(obj, pts, K, dist, rvec, tvec)
    if not (np.isfinite(rvec).all() and np.isfinite(tvec).all()) or tvec[2, 0] <= 0:
        return None
    rot, _ = cv2.Rodrigues(rvec)
    proj, _ = cv2.projectPoints(obj, rvec, tvec, K, dist)
    err = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - pts.reshape(-1, 2)) ** 2, axis=1))))
    return rot, tvec.reshape(3), err
