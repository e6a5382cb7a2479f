"""CUDA tier of the camera-model kernels: one thread per point.

Importing this module does not import :mod:`numba.cuda`; that happens when a ``cuda``
kernel is first launched (so the simulator, ``NUMBA_ENABLE_CUDASIM=1``, can still be switched
on by whoever runs first).

The per-point code is *the same Python source* as the CPU tier: each scalar function of
:mod:`._numba_models` is recompiled as a CUDA device function, with its global names
rebound so that the functions it calls are the device versions too. The CPU and CUDA
tiers therefore cannot drift apart. Threads per block: :data:`._config.CUDA_THREADS_PER_BLOCK`.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _numba_models as _nm
from ._config import CUDA_THREADS_PER_BLOCK

__all__ = ["launch"]


cuda: Any = None
""":mod:`numba.cuda` once :func:`_cuda` ran. A module global on purpose: the kernels refer to
``cuda.grid`` through their globals, which is where the simulator swaps in its fake module."""


def _cuda() -> Any:
    """:mod:`numba.cuda`, imported on first use (typed as Any: numba ships no stubs)."""
    global cuda
    if cuda is None:
        cuda = importlib.import_module("numba.cuda")
    return cuda


# Scalar functions recompiled for the device, in no particular order (globals are resolved
# at compile time, after the namespace below is complete).
_SCALAR_FUNCTIONS = (
    "_bc_distort",
    "_kb_theta_d",
    "_kb_theta",
    "_polyval",
    "_f624_theta_d",
    "_f624_distort",
    "_f624_theta",
    *(
        f"{m}_{op}"
        for m in ("pinhole", "kb", "ds", "omni", "f624")
        for op in ("project_point", "project_point_jacobian", "unproject_pixel", "undistort_pixel")
    ),
)


def _device_namespace() -> dict[str, Any]:
    _cuda()
    ns: dict[str, Any] = dict(vars(_nm))
    for name in _SCALAR_FUNCTIONS:
        py = getattr(_nm, name).py_func
        fn = types.FunctionType(py.__code__, ns, py.__name__, py.__defaults__, py.__closure__)
        ns[name] = cuda.jit(device=True)(fn)
    return ns


_DEV: dict[str, Any] = {}


def _make_kernels(short: str) -> dict[str, Any]:
    _cuda()
    if not _DEV:
        _DEV.update(_device_namespace())
    project_point = _DEV[f"{short}_project_point"]
    project_point_jacobian = _DEV[f"{short}_project_point_jacobian"]
    unproject_pixel = _DEV[f"{short}_unproject_pixel"]
    undistort_pixel = _DEV[f"{short}_undistort_pixel"]

    def project(params: Any, points: Any, out: Any) -> None:
        i = cuda.grid(1)
        if i < points.shape[0]:
            u, v = project_point(params, points[i, 0], points[i, 1], points[i, 2])
            out[i, 0] = u
            out[i, 1] = v

    def project_jacobian(params: Any, points: Any, uv: Any, jac: Any) -> None:
        i = cuda.grid(1)
        if i < points.shape[0]:
            r = project_point_jacobian(params, points[i, 0], points[i, 1], points[i, 2])
            uv[i, 0] = r[0]
            uv[i, 1] = r[1]
            jac[i, 0, 0] = r[2]
            jac[i, 0, 1] = r[3]
            jac[i, 0, 2] = r[4]
            jac[i, 1, 0] = r[5]
            jac[i, 1, 1] = r[6]
            jac[i, 1, 2] = r[7]

    def unproject(params: Any, pixels: Any, out: Any) -> None:
        i = cuda.grid(1)
        if i < pixels.shape[0]:
            x, y, z = unproject_pixel(params, pixels[i, 0], pixels[i, 1])
            out[i, 0] = x
            out[i, 1] = y
            out[i, 2] = z

    def undistort_points(params: Any, pixels: Any, out: Any) -> None:
        i = cuda.grid(1)
        if i < pixels.shape[0]:
            x, y = undistort_pixel(params, pixels[i, 0], pixels[i, 1])
            out[i, 0] = x
            out[i, 1] = y

    kernels = {
        "project": project,
        "project_jacobian": project_jacobian,
        "unproject": unproject,
        "undistort_points": undistort_points,
    }
    return {op: cuda.jit(fn) for op, fn in kernels.items()}


_KERNELS: dict[str, dict[str, Any]] = {}


def launch(short: str, op: str, params: np.ndarray, values: np.ndarray) -> Any:
    """Run ``op`` of model ``short`` (``pinhole``, ``kb``, ``ds``, ``omni``) on ``values (M, 2|3)``."""
    if short not in _KERNELS:
        _KERNELS[short] = _make_kernels(short)
    k = _KERNELS[short][op]
    n = values.shape[0]
    width = 3 if op == "unproject" else 2
    out = np.empty((n, width))
    jac = np.empty((n, 2, 3)) if op == "project_jacobian" else None
    if n == 0:
        return (out, jac) if jac is not None else out
    blocks = (n + CUDA_THREADS_PER_BLOCK - 1) // CUDA_THREADS_PER_BLOCK
    d_params = cuda.to_device(np.ascontiguousarray(params, dtype=np.float64))
    d_values = cuda.to_device(np.ascontiguousarray(values, dtype=np.float64))
    d_out = cuda.device_array((n, width), dtype=np.float64)
    launcher: Callable[..., Any] = k[blocks, CUDA_THREADS_PER_BLOCK]
    if jac is not None:
        d_jac = cuda.device_array((n, 2, 3), dtype=np.float64)
        launcher(d_params, d_values, d_out, d_jac)
        return d_out.copy_to_host(), d_jac.copy_to_host()
    launcher(d_params, d_values, d_out)
    return d_out.copy_to_host()
