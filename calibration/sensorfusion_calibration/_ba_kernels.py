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
``cpu`` (Numba ``@njit(parallel=True)``, ``prange`` over observations), ``cuda`` (one thread per
observation; arrays may be host or device arrays).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit, prange

from sensorfusion._kernels import get_kernel, kernel

from . import _ba_core

__all__ = ["alloc_outputs", "ba_jacobian"]

_HELPERS = ("rot_and_dmat", "matvec", "matmul3", "skew_times")


def _retarget(fn: Callable[..., Any], helpers: dict[str, Any]) -> Callable[..., Any]:
    """A copy of ``fn`` whose global helper names resolve to ``helpers`` (compiled versions)."""
    g = dict(fn.__globals__)
    g.update(helpers)
    return types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)


_cpu_helpers: dict[str, Any] = {}
for _name in _HELPERS:
    _cpu_helpers[_name] = njit(cache=False, inline="always")(_retarget(getattr(_ba_core, _name), _cpu_helpers))
_obs_cpu = njit(cache=False, inline="always")(_retarget(_ba_core.obs_core, _cpu_helpers))


def alloc_outputs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``res (n,2), j_cam (n,2,6), j_obj (n,2,6), j_intr (n,2,9), j_pt (n,2,3), valid (n,) uint8``."""
    return (np.zeros((n, 2)), np.zeros((n, 2, 6)), np.zeros((n, 2, 6)), np.zeros((n, 2, 9)), np.zeros((n, 2, 3)),
            np.zeros(n, np.uint8))  # fmt: skip


@kernel("calibration.ba_jacobian", "numpy")
def ba_jacobian_numpy(cam_params: np.ndarray, intr: np.ndarray, obj_params: np.ndarray, obj: np.ndarray,
                      cam_idx: np.ndarray, obj_idx: np.ndarray, uv: np.ndarray, cam_fixed: np.ndarray,
                      res: np.ndarray, j_cam: np.ndarray, j_obj: np.ndarray, j_intr: np.ndarray, j_pt: np.ndarray,
                      valid: np.ndarray) -> None:  # fmt: skip
    for j in range(obj.shape[0]):
        _ba_core.obs_core(
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


@kernel("calibration.ba_jacobian", "cpu")
@njit(parallel=True, cache=True)
def ba_jacobian_cpu(  # type: ignore[no-untyped-def]
    cam_params, intr, obj_params, obj, cam_idx, obj_idx, uv, cam_fixed, res, j_cam, j_obj, j_intr, j_pt, valid
):
    for j in prange(obj.shape[0]):
        _obs_cpu(
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


_cuda_kernel: Any = None
cuda: Any = None  # numba.cuda, imported on first use (the simulator must be chosen before that)
_obs_cuda: Any = None


def _ba_cuda_kernel(  # type: ignore[no-untyped-def]
    cam_params, intr, obj_params, obj, cam_idx, obj_idx, uv, cam_fixed, res, j_cam, j_obj, j_intr, j_pt, valid
):
    j = cuda.grid(1)
    if j < obj.shape[0]:
        _obs_cuda(
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


def _build_cuda() -> Any:
    global _cuda_kernel, cuda, _obs_cuda
    if _cuda_kernel is None:
        from numba import cuda as _cuda

        cuda = _cuda
        helpers: dict[str, Any] = {}
        for name in _HELPERS:
            helpers[name] = _cuda.jit(device=True)(  # type: ignore[no-untyped-call]
                _retarget(getattr(_ba_core, name), helpers)
            )
        _obs_cuda = _cuda.jit(device=True)(_retarget(_ba_core.obs_core, helpers))  # type: ignore[no-untyped-call]
        _cuda_kernel = _cuda.jit(_ba_cuda_kernel)  # type: ignore[no-untyped-call]
    return _cuda_kernel


@kernel("calibration.ba_jacobian", "cuda")
def ba_jacobian_cuda(cam_params: Any, intr: Any, obj_params: Any, obj: Any, cam_idx: Any, obj_idx: Any, uv: Any,
                     cam_fixed: Any, res: Any, j_cam: Any, j_obj: Any, j_intr: Any, j_pt: Any, valid: Any) -> None:  # fmt: skip
    from numba import cuda

    k = _build_cuda()
    n = obj.shape[0]
    if n == 0:
        return
    threads = 128
    outs = (res, j_cam, j_obj, j_intr, j_pt, valid)
    host = [isinstance(a, np.ndarray) for a in outs]
    d_outs = [cuda.to_device(a) if h else a for a, h in zip(outs, host, strict=True)]
    k[(n + threads - 1) // threads, threads](
        cam_params, intr, obj_params, obj, cam_idx, obj_idx, uv, cam_fixed, *d_outs
    )
    for a, d, h in zip(outs, d_outs, host, strict=True):
        if h:
            d.copy_to_host(a)


def ba_jacobian(tier: str = "cpu") -> Callable[..., None]:
    """The ``calibration.ba_jacobian`` kernel of a tier (``numpy``, ``cpu``, ``cuda``, ``auto``)."""
    return get_kernel("calibration.ba_jacobian", tier)
