"""Rigid transforms of batched points: ``p_a = a_from_b · p_b``."""

from __future__ import annotations

import numpy as np

from ..schema._calibration import Transform
from ._shapes import ShapeError, as_points

__all__ = ["as_matrix", "invert_rigid", "transform_points"]


def as_matrix(name: str, a_from_b: Transform | np.ndarray) -> np.ndarray:
    """A :class:`Transform` or a ``(*, 4, 4)`` array as a float64 ``(*, 4, 4)`` array."""
    if isinstance(a_from_b, Transform):
        return a_from_b.matrix
    m = np.asarray(a_from_b, dtype=np.float64)
    if m.ndim < 2 or m.shape[-2:] != (4, 4):
        raise ShapeError(name, "(*, 4, 4)", tuple(m.shape))
    return m


def invert_rigid(matrix: np.ndarray) -> np.ndarray:
    """Inverse of rigid ``(*, 4, 4)`` transforms (``R^T``, ``-R^T t``)."""
    r = matrix[..., :3, :3]
    t = matrix[..., :3, 3]
    out = np.zeros_like(matrix)
    rt = np.swapaxes(r, -1, -2)
    out[..., :3, :3] = rt
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", rt, t)
    out[..., 3, 3] = 1.0
    return out


def transform_points(a_from_b: Transform | np.ndarray, points_b: np.ndarray) -> np.ndarray:
    """Points ``(*, N, 3)`` in frame b mapped to frame a.

    ``a_from_b`` is a :class:`Transform`, a ``(4, 4)`` matrix, or a batch ``(*, 4, 4)`` that
    broadcasts against the points' leading dimensions ``*``. NaN points stay NaN.
    """
    m = as_matrix("a_from_b", a_from_b)
    pts = as_points("points_b", points_b, 3)
    r = m[..., :3, :3]
    t = m[..., :3, 3]
    out: np.ndarray = pts @ np.swapaxes(r, -1, -2) + t[..., None, :]
    return out
