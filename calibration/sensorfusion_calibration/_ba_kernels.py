"""Residuals and Jacobian blocks of the bundle adjustment, in three tiers (kernel ``calibration.ba_jacobian``).

One observation ``j``: a 3D point ``obj[j]`` in the frame of *object* ``obj_idx[j]`` (a board
pose; for people, a joint at one instant with an identity pose), seen by camera ``cam_idx[j]``
at pixel ``uv[j]``. With ``r, t`` rotation vectors (radians) and translations (metres)::

    p_world  = R(obj_params[o, :3]) @ obj[j] + obj_params[o, 3:]        (world_from_object)
    p_camera = R(cam_params[c, :3]) @ (p_world - cam_params[c, 3:])     (camera_from_world rotation,
                                                                         camera centre in the world)
    pixel    = Brown–Conrady(p_camera; intr[c] = fx, fy, cx, cy, k1, k2, p1, p2, k3, k4, k5, k6)

the kernel writes ``res[j] = pixel - uv[j]`` and the Jacobian blocks with respect to the
camera's pose ``j_cam (N, 2, 6)`` (zero for cameras with ``cam_fixed[c] = 1``), the object's pose
``j_obj (N, 2, 6)``, the intrinsics ``fx, fy, cx, cy, k1, k2, p1, p2, k3`` ``j_intr (N, 2, 9)`` and
the point ``j_pt (N, 2, 3)``. The rotation derivative is the exact one of Rodrigues' formula
(Gallego & Yezzi 2015): ``d(R(r) p)/dr = -R [p]x (r r^T + (R^T - I)[r]x) / |r|^2``. Parametrising
the camera by its centre (not OpenCV's ``t = -R C``) and boards by their centre keeps rotations
and translations decoupled, which the trust-region solver needs to converge in few steps.

Defined results: a point at or behind the camera (or NaN input) gets residual 0, zero blocks
and ``valid[j] = 0``; nothing raises mid-run. Tiers, one signature
``(cam_params, intr, obj_params, obj, cam_idx, obj_idx, uv, cam_fixed, res, j_cam, j_obj,
j_intr, j_pt, valid)``: ``numpy`` (the scalar code in a Python loop: the readable reference),
``cpu`` (Numba ``@njit(parallel=True)``, ``prange`` over observations) and ``cuda`` (one thread
per observation; arrays may be host or device arrays), both generated from the scalar kernel
``_ba_core.obs_core`` by :func:`sensorfusion.kernels.register_loop`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sensorfusion.kernels import ItemLoop, get_kernel, register_loop

from . import _ba_core

__all__ = ["alloc_outputs", "ba_jacobian"]

_PARAMS = ("cam_params", "intr", "obj_params", "obj", "cam_idx", "obj_idx", "uv", "cam_fixed", "res", "j_cam",
           "j_obj", "j_intr", "j_pt", "valid")  # fmt: skip


def alloc_outputs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``res (n,2), j_cam (n,2,6), j_obj (n,2,6), j_intr (n,2,9), j_pt (n,2,3), valid (n,) uint8``."""
    return (np.zeros((n, 2)), np.zeros((n, 2, 6)), np.zeros((n, 2, 6)), np.zeros((n, 2, 9)), np.zeros((n, 2, 3)),
            np.zeros(n, np.uint8))  # fmt: skip


def ba_jacobian_numpy(cam_params: np.ndarray, intr: np.ndarray, obj_params: np.ndarray, obj: np.ndarray,
                      cam_idx: np.ndarray, obj_idx: np.ndarray, uv: np.ndarray, cam_fixed: np.ndarray,
                      res: np.ndarray, j_cam: np.ndarray, j_obj: np.ndarray, j_intr: np.ndarray, j_pt: np.ndarray,
                      valid: np.ndarray) -> None:  # fmt: skip
    """The reference: the scalar code in a Python loop."""
    obs = _ba_core.obs_core.py_func
    for j in range(obj.shape[0]):
        obs(
            j,
            cam_params,
            intr,
            obj_params,
            obj,
            cam_idx,
            obj_idx,
            uv,
            cam_fixed,
            res,
            j_cam,
            j_obj,
            j_intr,
            j_pt,
            valid,
        )


def _example() -> tuple[np.ndarray, ...]:
    cams = np.zeros((1, 6))
    intr = np.array([[500.0, 500.0, 320.0, 240.0, 0, 0, 0, 0, 0, 0, 0, 0]])
    objs = np.array([[0.0, 0.0, 0.0, 0.0, 0.0, 2.0]])
    idx = np.zeros(1, np.int64)
    return (cams, intr, objs, np.zeros((1, 3)), idx, idx, np.zeros((1, 2)), np.zeros(1, np.uint8), *alloc_outputs(1))


register_loop(
    "calibration.ba_jacobian",
    ItemLoop(
        scalar=_ba_core.obs_core,
        params=_PARAMS,
        items="obj.shape[0]",
        call="i, " + ", ".join(_PARAMS),
        outputs=("res", "j_cam", "j_obj", "j_intr", "j_pt", "valid"),
    ),
    numpy=ba_jacobian_numpy,
    example=_example,
)


def ba_jacobian(tier: str = "cpu") -> Callable[..., None]:
    """The ``calibration.ba_jacobian`` kernel of a tier (``numpy``, ``cpu``, ``cuda``, ``auto``)."""
    return get_kernel("calibration.ba_jacobian", tier)
