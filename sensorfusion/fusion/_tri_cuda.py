"""Numba CUDA tier of ``fusion.triangulate``: one thread per point.

The per-point solver is the source of :mod:`._tri_core`, executed a second time with
``numba.cuda.jit(device=True)`` as its decorator, so both Numba tiers run the same code.
Works on a real GPU and under ``NUMBA_ENABLE_CUDASIM=1``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from numba import cuda as _numba_cuda

from . import _tri_core

__all__ = ["MAX_VIEWS", "triangulate_cuda"]

cuda: Any = _numba_cuda  # numba.cuda has no type information

MAX_VIEWS = 64


def _device_core() -> dict[str, Any]:
    src = Path(_tri_core.__file__).read_text(encoding="utf-8")
    ns: dict[str, Any] = {"__name__": "sensorfusion.fusion._tri_core_cuda", "_JIT_OVERRIDE": cuda.jit(device=True)}
    exec(compile(src, _tri_core.__file__, "exec"), ns)
    return ns


_solve = _device_core()["solve_point"]


@cuda.jit
def _kernel(pts, conf, P, min_conf, min_views, robust, thr, iters, X, err, inl, status):  # type: ignore[no-untyped-def]
    n = cuda.grid(1)
    V = conf.shape[0]
    if n >= conf.shape[1]:
        return
    valid = cuda.local.array(MAX_VIEWS, np.int64)
    use = cuda.local.array(MAX_VIEWS, np.int64)
    best = cuda.local.array(MAX_VIEWS, np.int64)
    M = cuda.local.array((4, 4), np.float64)
    E = cuda.local.array((4, 4), np.float64)
    X4 = cuda.local.array(4, np.float64)
    H = cuda.local.array((3, 3), np.float64)
    g = cuda.local.array(3, np.float64)
    status[n] = _solve(
        pts, conf, P, n, V, min_conf, min_views, robust, thr, iters, valid, use, best, M, E, X4, H, g, X, err, inl
    )


def triangulate_cuda(
    points2d: np.ndarray,
    confidence: np.ndarray,
    projections: np.ndarray,
    min_confidence: float,
    min_views: int,
    robust: bool,
    threshold_px: float,
    refine_iters: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    V, N = confidence.shape
    if V > MAX_VIEWS:
        raise ValueError(f"the cuda tier handles at most {MAX_VIEWS} views, got {V}")
    X = np.empty((N, 3))
    err = np.empty((V, N))
    inl = np.empty((V, N), dtype=np.uint8)
    status = np.empty(N, dtype=np.int8)
    if N:
        d = [cuda.to_device(np.ascontiguousarray(a)) for a in (points2d, confidence, projections, X, err, inl, status)]
        threads = 128
        blocks = math.ceil(N / threads)
        _kernel[blocks, threads](
            d[0],
            d[1],
            d[2],
            float(min_confidence),
            int(min_views),
            bool(robust),
            float(threshold_px),
            int(refine_iters),
            d[3],
            d[4],
            d[5],
            d[6],
        )
        X, err, inl, status = (a.copy_to_host() for a in d[3:])
    return X, err, inl.astype(bool), status
