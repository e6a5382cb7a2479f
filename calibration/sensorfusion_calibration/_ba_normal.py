"""Normal-equation blocks of the bundle adjustment per (camera, object) pair, in three tiers
(kernel ``calibration.ba_normal``).

The Schur-complement solver (:mod:`._schur`) needs, for every pair ``p`` of a camera and an
object (a board pose or a point) seen by it, ``Xᵀ W X`` summed over the pair's residual rows,
where a row ``x = [j_cam (6) | j_intr[sel] (len(sel)) | j_obj (6) or j_pt (3) | res]`` comes
from :mod:`._ba_kernels`' outputs and ``W`` holds the robust-loss weights. ``out[p]`` (``K x K``,
``K = 6 + len(sel) + (3 or 6) + 1``) then holds the camera block ``U``, the camera-object block
``W``, the object block ``V``, the gradients ``Jᵀ W r`` (last column) and ``rᵀ W r``.

Observations must be sorted by pair: pair ``p`` owns rows ``pair_start[p] .. pair_start[p + 1]``.

Signature, every tier: ``(res (N, 2), j_cam (N, 2, 6), j_obj (N, 2, 6), j_intr (N, 2, 9),
j_pt (N, 2, 3), weight (N, 2), sel (S,) int64, points_mode (int), pair_start (P + 1,) int64,
scratch (P, K), out (P, K, K))``; ``scratch`` is per-pair work memory. Tiers: ``numpy`` (one
batched matrix product per row, then ``np.add.reduceat``: the reference), ``cpu`` (Numba
``prange`` over pairs), ``cuda`` (one thread per pair). A weight of 0 (or an empty pair) adds
nothing; NaN inputs propagate into their pair's block (the solver treats a non-finite cost as
a rejected step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit, prange

from sensorfusion._kernels import get_kernel, kernel

__all__ = ["ba_normal", "normal_size", "pair_core"]


def normal_size(n_sel: int, points_mode: bool) -> int:
    """``K``: the side of each pair's block."""
    return 6 + n_sel + (3 if points_mode else 6) + 1


def pair_core(p: int, res: Any, j_cam: Any, j_obj: Any, j_intr: Any, j_pt: Any, weight: Any, sel: Any,
              points_mode: int, pair_start: Any, scratch: Any, out: Any) -> None:  # fmt: skip
    """``out[p] = Σ w xᵀx`` over the rows of pair ``p`` (scalar code: compiles for every tier)."""
    ns = sel.shape[0]
    nob = 3 if points_mode else 6
    k = 6 + ns + nob + 1
    for a in range(k):
        for b in range(k):
            out[p, a, b] = 0.0
    for n in range(pair_start[p], pair_start[p + 1]):
        for r in range(2):
            w = weight[n, r]
            if w == 0.0:
                continue
            for a in range(6):
                scratch[p, a] = j_cam[n, r, a]
            for a in range(ns):
                scratch[p, 6 + a] = j_intr[n, r, sel[a]]
            for a in range(nob):
                scratch[p, 6 + ns + a] = j_pt[n, r, a] if points_mode else j_obj[n, r, a]
            scratch[p, k - 1] = res[n, r]
            for a in range(k):
                wa = w * scratch[p, a]
                if wa == 0.0:
                    continue
                for b in range(a, k):
                    out[p, a, b] += wa * scratch[p, b]
    for a in range(k):
        for b in range(a):
            out[p, a, b] = out[p, b, a]


@kernel("calibration.ba_normal", "numpy")
def ba_normal_numpy(res: np.ndarray, j_cam: np.ndarray, j_obj: np.ndarray, j_intr: np.ndarray, j_pt: np.ndarray,
                    weight: np.ndarray, sel: np.ndarray, points_mode: int, pair_start: np.ndarray,
                    scratch: np.ndarray, out: np.ndarray) -> None:  # fmt: skip
    n_pairs = out.shape[0]
    if n_pairs == 0:
        return
    x = np.concatenate([j_cam, j_intr[:, :, sel], j_pt if points_mode else j_obj, res[:, :, None]], axis=2)
    wx = x * weight[:, :, None]
    prod = np.matmul(wx.transpose(0, 2, 1), x)  # (N, K, K)
    out[:] = 0.0
    starts = pair_start[:-1]
    nonempty = pair_start[1:] > starts
    if prod.shape[0] and nonempty.any():
        out[nonempty] = np.add.reduceat(prod, starts[nonempty], axis=0)


_pair_cpu = njit(cache=True, inline="always")(pair_core)


@kernel("calibration.ba_normal", "cpu")
@njit(parallel=True, cache=True)
def ba_normal_cpu(res, j_cam, j_obj, j_intr, j_pt, weight, sel, points_mode, pair_start, scratch, out):  # type: ignore[no-untyped-def]
    for p in prange(out.shape[0]):
        _pair_cpu(p, res, j_cam, j_obj, j_intr, j_pt, weight, sel, points_mode, pair_start, scratch, out)


_cuda_kernel: Any = None
cuda: Any = None  # numba.cuda, imported on first use (the simulator must be chosen before that)
_pair_cuda: Any = None


def _ba_normal_cuda_kernel(res, j_cam, j_obj, j_intr, j_pt, weight, sel, points_mode, pair_start, scratch, out):  # type: ignore[no-untyped-def]
    p = cuda.grid(1)
    if p < out.shape[0]:
        _pair_cuda(p, res, j_cam, j_obj, j_intr, j_pt, weight, sel, points_mode, pair_start, scratch, out)


def _build_cuda() -> Any:
    global _cuda_kernel, cuda, _pair_cuda
    if _cuda_kernel is None:
        from numba import cuda as _cuda

        cuda = _cuda
        _pair_cuda = _cuda.jit(device=True)(pair_core)  # type: ignore[no-untyped-call]
        _cuda_kernel = _cuda.jit(_ba_normal_cuda_kernel)  # type: ignore[no-untyped-call]
    return _cuda_kernel


@kernel("calibration.ba_normal", "cuda")
def ba_normal_cuda(res: Any, j_cam: Any, j_obj: Any, j_intr: Any, j_pt: Any, weight: Any, sel: Any,
                   points_mode: int, pair_start: Any, scratch: Any, out: Any) -> None:  # fmt: skip
    from numba import cuda

    k = _build_cuda()
    n = out.shape[0]
    if n == 0:
        return
    threads = 64
    host = isinstance(out, np.ndarray)
    d_out = cuda.to_device(out) if host else out
    d_scratch = cuda.to_device(scratch) if isinstance(scratch, np.ndarray) else scratch
    k[(n + threads - 1) // threads, threads](res, j_cam, j_obj, j_intr, j_pt, weight, sel, points_mode, pair_start,
                                             d_scratch, d_out)  # fmt: skip
    if host:
        d_out.copy_to_host(out)


def ba_normal(tier: str = "cpu") -> Callable[..., None]:
    """The ``calibration.ba_normal`` kernel of a tier (``numpy``, ``cpu``, ``cuda``, ``auto``)."""
    return get_kernel("calibration.ba_normal", tier)
