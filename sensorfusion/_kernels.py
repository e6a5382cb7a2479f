"""Compatibility alias of :mod:`sensorfusion.kernels` (the tier registry's old, private home).

Nothing in the SDK imports it; it stays importable while branches written against it are
merged. New code — and every distribution — uses the public :mod:`sensorfusion.kernels`.
"""

from __future__ import annotations

from .kernels import (
    TIERS,
    Tier,
    available_tiers,
    cuda_available,
    get_kernel,
    kernel,
    kernel_names,
    real_gpu,
    resolve_tier,
)

__all__ = [
    "TIERS",
    "Tier",
    "available_tiers",
    "cuda_available",
    "get_kernel",
    "kernel",
    "kernel_names",
    "real_gpu",
    "resolve_tier",
]
