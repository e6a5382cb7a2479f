"""Rigid poses over time: quaternions, matrices, and interpolation of a pose track.

Quaternions are ``(x, y, z, w)`` (scalar last, as scipy and Project Aria's CSVs write them)
and unit length; poses are ``(*, 4, 4)`` homogeneous matrices ``a_from_b``. A pose track is
``t_ns (T,)`` int64, strictly increasing, with poses ``(T, 4, 4)``; it is interpolated with
spherical-linear interpolation of the rotation and linear interpolation of the translation.
"""

from __future__ import annotations

import numpy as np

from .._errors import SchemaError
from ._shapes import ShapeError

__all__ = ["interpolate_poses", "matrix_to_quaternion", "pose_matrix", "quaternion_to_matrix"]


def quaternion_to_matrix(quaternion_xyzw: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(*, 3, 3)`` of quaternions ``(*, 4)`` ``(x, y, z, w)`` (normalised first;
    a zero or non-finite quaternion gives NaN)."""
    q = np.asarray(quaternion_xyzw, dtype=np.float64)
    if q.ndim < 1 or q.shape[-1] != 4:
        raise ShapeError("quaternion_xyzw", "(*, 4)", tuple(q.shape))
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(n > 1e-12, q / n, np.nan)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    out = np.empty((*q.shape[:-1], 3, 3))
    out[..., 0, 0] = 1 - 2 * (y * y + z * z)
    out[..., 0, 1] = 2 * (x * y - z * w)
    out[..., 0, 2] = 2 * (x * z + y * w)
    out[..., 1, 0] = 2 * (x * y + z * w)
    out[..., 1, 1] = 1 - 2 * (x * x + z * z)
    out[..., 1, 2] = 2 * (y * z - x * w)
    out[..., 2, 0] = 2 * (x * z - y * w)
    out[..., 2, 1] = 2 * (y * z + x * w)
    out[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return out


def matrix_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(*, 4)`` ``(x, y, z, w)`` with ``w >= 0`` of rotation matrices ``(*, 3, 3)``."""
    r = np.asarray(rotation, dtype=np.float64)
    if r.ndim < 2 or r.shape[-2:] != (3, 3):
        raise ShapeError("rotation", "(*, 3, 3)", tuple(r.shape))
    from scipy.spatial.transform import Rotation

    flat = r.reshape(-1, 3, 3)
    out = np.full((len(flat), 4), np.nan)
    ok = np.isfinite(flat).all(axis=(1, 2))
    if ok.any():
        out[ok] = Rotation.from_matrix(flat[ok]).as_quat()
    out = np.where(out[:, 3:4] < 0, -out, out)
    return out.reshape(*r.shape[:-2], 4)


def pose_matrix(rotation: np.ndarray, translation_m: np.ndarray) -> np.ndarray:
    """Homogeneous ``(*, 4, 4)`` from rotations ``(*, 3, 3)`` and translations ``(*, 3)``."""
    r = np.asarray(rotation, dtype=np.float64)
    t = np.asarray(translation_m, dtype=np.float64)
    if r.shape[-2:] != (3, 3) or t.shape[-1:] != (3,) or r.shape[:-2] != t.shape[:-1]:
        raise ShapeError("rotation, translation_m", "(*, 3, 3), (*, 3)", tuple(r.shape) + tuple(t.shape))
    out = np.zeros((*t.shape[:-1], 4, 4))
    out[..., :3, :3] = r
    out[..., :3, 3] = t
    out[..., 3, 3] = 1.0
    return out


def interpolate_poses(
    t_query_ns: np.ndarray,
    t_ns: np.ndarray,
    poses: np.ndarray,
    *,
    max_gap_ns: int | None = None,
) -> np.ndarray:
    """Poses ``(Q, 4, 4)`` of a pose track at query times ``(Q,)`` int64 ns.

    Rotation by SLERP between the two neighbouring samples, translation linearly. A query
    outside ``[t_ns[0], t_ns[-1]]``, or between two samples more than ``max_gap_ns`` apart,
    gives NaN (never an extrapolation). ``t_ns`` must be strictly increasing
    (:class:`~sensorfusion.SchemaError` otherwise).
    """
    tq = np.asarray(t_query_ns, dtype=np.int64).reshape(-1)
    ts = np.asarray(t_ns, dtype=np.int64).reshape(-1)
    m = np.asarray(poses, dtype=np.float64)
    if m.shape != (len(ts), 4, 4):
        raise ShapeError("poses", f"({len(ts)}, 4, 4)", tuple(m.shape))
    out = np.full((len(tq), 4, 4), np.nan)
    if len(ts) == 0 or len(tq) == 0:
        return out
    if len(ts) > 1 and not (np.diff(ts) > 0).all():
        bad = int(np.argmax(np.diff(ts) <= 0))
        raise SchemaError(
            f"pose track times must be strictly increasing; t_ns[{bad + 1}] = {ts[bad + 1]} after t_ns[{bad}] = {ts[bad]}"
        )
    inside = (tq >= ts[0]) & (tq <= ts[-1])
    i1 = np.clip(np.searchsorted(ts, tq, side="left"), 0, len(ts) - 1)
    i0 = np.clip(i1 - 1, 0, len(ts) - 1)
    exact = ts[i1] == tq
    i0 = np.where(exact, i1, i0)
    gap = ts[i1] - ts[i0]
    if max_gap_ns is not None:
        inside &= gap <= max_gap_ns
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(gap > 0, (tq - ts[i0]) / np.where(gap > 0, gap, 1), 0.0)
    q0 = matrix_to_quaternion(m[i0, :3, :3])
    q1 = matrix_to_quaternion(m[i1, :3, :3])
    dot = np.einsum("qi,qi->q", q0, q1)
    q1 = np.where(dot[:, None] < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    small = theta < 1e-8
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sin(theta)
        a = np.where(small, 1.0 - w, np.sin((1.0 - w) * theta) / np.where(small, 1.0, s))
        b = np.where(small, w, np.sin(w * theta) / np.where(small, 1.0, s))
    q = a[:, None] * q0 + b[:, None] * q1
    t = (1.0 - w)[:, None] * m[i0, :3, 3] + w[:, None] * m[i1, :3, 3]
    res = pose_matrix(quaternion_to_matrix(q), t)
    out[inside] = res[inside]
    return out
