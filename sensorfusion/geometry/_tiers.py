"""Registration of a camera model's kernels: four operations, three tiers, one loop shape.

Kernel names are ``geometry.<model>.<op>`` with ``<op>`` one of

* ``project(params (P,), points (M, 3)) -> pixels (M, 2)``
* ``project_jacobian(params, points (M, 3)) -> (pixels (M, 2), jacobian (M, 2, 3))``
* ``unproject(params, pixels (M, 2)) -> rays (M, 3)``
* ``undistort_points(params, pixels (M, 2)) -> normalized (M, 2)``

All three tiers share these signatures (float64, C-contiguous, flat over points). A model file
writes its four scalar kernels (``sensorfusion.kernels.scalar``, one point each) and its numpy
reference, and calls :func:`register_camera_model`; the cpu and cuda tiers are generated from
the scalar kernels by :func:`sensorfusion.kernels.register_loop` (one point per item).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..kernels import ItemLoop, Output, register_loop

__all__ = ["OPS", "register_camera_model"]

OPS = ("project", "project_jacobian", "unproject", "undistort_points")

_JAC = tuple(f"jac[i, {r}, {c}]" for r in range(2) for c in range(3))
_POINT = "params, points[i, 0], points[i, 1], points[i, 2]"
_PIXEL = "params, pixels[i, 0], pixels[i, 1]"


def _loops(scalars: dict[str, Any]) -> dict[str, ItemLoop]:
    return {
        "project": ItemLoop(
            scalar=scalars["project"], params=("params", "points"), items="points.shape[0]", call=_POINT,
            store=("out[i, 0]", "out[i, 1]"), allocate=(Output("out", "(n, 2)"),),
        ),
        "project_jacobian": ItemLoop(
            scalar=scalars["project_jacobian"], params=("params", "points"), items="points.shape[0]", call=_POINT,
            store=("uv[i, 0]", "uv[i, 1]", *_JAC), allocate=(Output("uv", "(n, 2)"), Output("jac", "(n, 2, 3)")),
        ),
        "unproject": ItemLoop(
            scalar=scalars["unproject"], params=("params", "pixels"), items="pixels.shape[0]", call=_PIXEL,
            store=("out[i, 0]", "out[i, 1]", "out[i, 2]"), allocate=(Output("out", "(n, 3)"),),
        ),
        "undistort_points": ItemLoop(
            scalar=scalars["undistort_points"], params=("params", "pixels"), items="pixels.shape[0]", call=_PIXEL,
            store=("out[i, 0]", "out[i, 1]"), allocate=(Output("out", "(n, 2)"),),
        ),
    }  # fmt: skip


def register_camera_model(
    model: str,
    *,
    scalars: dict[str, Any],
    numpy: dict[str, Callable[..., Any]],
    example_params: np.ndarray,
) -> None:
    """Register ``geometry.<model>.<op>`` for the four operations: the ``numpy`` references and
    the cpu and cuda tiers generated from the ``scalars`` (one per op). ``example_params`` is a
    parameter array of the model, for warm-ups."""
    params = np.ascontiguousarray(example_params, dtype=np.float64)

    def points_example() -> tuple[Any, ...]:
        return params, np.array([[0.1, -0.2, 1.0], [np.nan, 0.0, 1.0]])

    def pixels_example() -> tuple[Any, ...]:
        return params, np.array([[10.0, 20.0], [np.nan, 0.0]])

    for op, loop in _loops(scalars).items():
        example = pixels_example if op in ("unproject", "undistort_points") else points_example
        register_loop(f"geometry.{model}.{op}", loop, numpy=numpy[op], example=example)
