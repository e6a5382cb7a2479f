"""Tunables of the geometry kernels, in one place."""

from __future__ import annotations

__all__ = ["CUDA_THREADS_PER_BLOCK"]

CUDA_THREADS_PER_BLOCK = 256
"""Threads per block of every geometry CUDA kernel (one thread per point)."""
