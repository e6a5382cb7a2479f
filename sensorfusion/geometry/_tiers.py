"""Registration of the per-model kernels in the tier registry.

Kernel names are ``geometry.<model>.<op>`` with ``<model>`` one of ``pinhole``,
``kannala_brandt``, ``double_sphere``, ``scaramuzza``, ``fisheye624`` and ``<op>`` one of

* ``project(params (P,), points (M, 3)) -> pixels (M, 2)``
* ``project_jacobian(params, points (M, 3)) -> (pixels (M, 2), jacobian (M, 2, 3))``
* ``unproject(params, pixels (M, 2)) -> rays (M, 3)``
* ``undistort_points(params, pixels (M, 2)) -> normalized (M, 2)``

All three tiers share these signatures (float64, C-contiguous, flat over points). The CUDA
tier is registered as a thin host wrapper that imports :mod:`numba.cuda` only when first
called, so importing :mod:`sensorfusion.geometry` never initialises CUDA (and a test may
still turn the simulator on afterwards).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._kernels import kernel

__all__ = ["OPS", "SHORT_NAMES", "register_model"]

OPS = ("project", "project_jacobian", "unproject", "undistort_points")
SHORT_NAMES = {
    "pinhole": "pinhole",
    "kannala_brandt": "kb",
    "double_sphere": "ds",
    "scaramuzza": "omni",
    "fisheye624": "f624",
}


def _cuda_wrapper(model: str, op: str) -> Callable[..., Any]:
    def run(params: Any, values: Any) -> Any:
        from ._cuda import launch

        return launch(SHORT_NAMES[model], op, params, values)

    run.__name__ = f"{SHORT_NAMES[model]}_{op}_cuda"
    run.__doc__ = f"CUDA tier of geometry.{model}.{op} (one thread per point)."
    return run


def register_model(
    model: str, numpy_fns: dict[str, Callable[..., Any]], cpu_fns: dict[str, Callable[..., Any]]
) -> None:
    """Register the numpy, cpu and (lazy) cuda tiers of every op of ``model``."""
    for op in OPS:
        kernel(f"geometry.{model}.{op}", "numpy")(numpy_fns[op])
        kernel(f"geometry.{model}.{op}", "cpu")(cpu_fns[op])
        kernel(f"geometry.{model}.{op}", "cuda")(_cuda_wrapper(model, op))
