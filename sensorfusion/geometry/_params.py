"""Parameter layouts of the camera models and the Newton settings every model shares."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["NAN", "NEWTON_MAX_ITER", "NEWTON_RESIDUAL_TOL", "NEWTON_STEP_TOL", "PARAM_LAYOUTS", "camera_params"]

NEWTON_MAX_ITER = 20
"""Iteration cap of every Newton inversion."""
NEWTON_STEP_TOL = 1e-14
"""Stop when the Newton step is smaller than this (normalized units, radians, or pixels for ρ)."""
NEWTON_RESIDUAL_TOL = 1e-9
"""Accept a Newton solution only if the forward model reproduces the input to this (relative)."""
NAN = math.nan

PARAM_LAYOUTS: dict[str, tuple[str, ...]] = {
    "pinhole": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"),
    "kannala_brandt": ("fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4"),
    "double_sphere": ("fx", "fy", "cx", "cy", "xi", "alpha"),
    "scaramuzza": ("cx", "cy", "c", "d", "e", "n_poly", "n_inv", "poly...", "inv_poly..."),
    "fisheye624": ("f", "cu", "cv", "k0", "k1", "k2", "k3", "k4", "k5", "p0", "p1", "s0", "s1", "s2", "s3"),
}


def camera_params(camera: Any) -> np.ndarray:
    """The flat ``float64`` parameter array of a schema camera model (layouts in
    :mod:`sensorfusion.geometry._numba_models`)."""
    model = camera.model
    if model == "scaramuzza":
        head = [
            camera.cx,
            camera.cy,
            camera.c,
            camera.d,
            camera.e,
            float(len(camera.poly)),
            float(len(camera.inv_poly)),
        ]
        return np.array([*head, *camera.poly, *camera.inv_poly], dtype=np.float64)
    try:
        names = PARAM_LAYOUTS[model]
    except KeyError:
        raise ValueError(f"unknown camera model {model!r}; known: {sorted(PARAM_LAYOUTS)}") from None
    return np.array([getattr(camera, n) for n in names], dtype=np.float64)
