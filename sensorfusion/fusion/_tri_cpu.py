"""Numba CPU tier of ``fusion.triangulate``: points in parallel chunks, one scratch set per chunk."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._tri_core import solve_point

__all__ = ["run_chunks"]

_CHUNK = 64


@njit(parallel=True, cache=True)
def run_chunks(pts, conf, P, min_conf, min_views, robust, thr, iters, X, err, inl, status):  # type: ignore[no-untyped-def]
    V, N = conf.shape
    nchunks = (N + _CHUNK - 1) // _CHUNK
    for c in prange(nchunks):
        valid = np.empty(V, np.int64)
        use = np.empty(V, np.int64)
        best = np.empty(V, np.int64)
        M = np.empty((4, 4))
        E = np.empty((4, 4))
        X4 = np.empty(4)
        H = np.empty((3, 3))
        g = np.empty(3)
        for n in range(c * _CHUNK, min(N, (c + 1) * _CHUNK)):
            status[n] = solve_point(
                pts,
                conf,
                P,
                n,
                V,
                min_conf,
                min_views,
                robust,
                thr,
                iters,
                valid,
                use,
                best,
                M,
                E,
                X4,
                H,
                g,
                X,
                err,
                inl,
            )
