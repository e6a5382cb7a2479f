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
out (P, K, K))``, ``out`` written in place. Tiers: ``numpy`` (one batched matrix product per
row, then ``np.add.reduceat``: the reference), and, from the scalar kernel :func:`pair_core` by
:func:`sensorfusion.kernels.register_loop`: ``cpu`` (``prange`` over pairs) and ``cuda`` (one
thread per pair; its row scratch holds ``K <= 22``). A row of weight 0 (or an empty pair) adds
nothing, whatever its values; NaN/inf in a weighted row stay in their pair's block, in the
entries IEEE arithmetic puts them (the solver refuses a non-finite system).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sensorfusion.kernels import ItemLoop, Scratch, get_kernel, register_loop, scalar

__all__ = ["MAX_K", "ba_normal", "normal_size", "pair_core"]

MAX_K = 6 + 9 + 6 + 1  # the largest block: camera pose, every intrinsic term, board pose, residual


def normal_size(n_sel: int, points_mode: bool) -> int:
    """``K``: the side of each pair's block."""
    return 6 + n_sel + (3 if points_mode else 6) + 1


@scalar
def pair_core(p: int, res: Any, j_cam: Any, j_obj: Any, j_intr: Any, j_pt: Any, weight: Any, sel: Any,
              points_mode: int, pair_start: Any, row: Any, out: Any) -> None:  # fmt: skip
    """``out[p] = Σ w xᵀx`` over the rows of pair ``p``; ``row`` is scratch of length >= K."""
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
                row[a] = j_cam[n, r, a]
            for a in range(ns):
                row[6 + a] = j_intr[n, r, sel[a]]
            for a in range(nob):
                if points_mode:
                    row[6 + ns + a] = j_pt[n, r, a]
                else:
                    row[6 + ns + a] = j_obj[n, r, a]
            row[k - 1] = res[n, r]
            for a in range(k):
                wa = w * row[a]
                for b in range(a, k):
                    out[p, a, b] += wa * row[b]
    for a in range(k):
        for b in range(a):
            out[p, a, b] = out[p, b, a]


def ba_normal_numpy(res: np.ndarray, j_cam: np.ndarray, j_obj: np.ndarray, j_intr: np.ndarray, j_pt: np.ndarray,
                    weight: np.ndarray, sel: np.ndarray, points_mode: int, pair_start: np.ndarray,
                    out: np.ndarray) -> None:  # fmt: skip
    """The reference: every row's ``w xᵀx`` as one batched product, summed per pair."""
    n_pairs = out.shape[0]
    if n_pairs == 0:
        return
    x = np.concatenate([j_cam, j_intr[:, :, sel], j_pt if points_mode else j_obj, res[:, :, None]], axis=2)
    x = np.where(weight[:, :, None] == 0.0, 0.0, x)  # a row of weight 0 adds nothing, even NaN
    prod = np.matmul((x * weight[:, :, None]).transpose(0, 2, 1), x)  # (N, K, K)
    out[:] = 0.0
    starts = pair_start[:-1]
    nonempty = pair_start[1:] > starts
    if prod.shape[0] and nonempty.any():
        out[nonempty] = np.add.reduceat(prod, starts[nonempty], axis=0)


_PARAMS = ("res", "j_cam", "j_obj", "j_intr", "j_pt", "weight", "sel", "points_mode", "pair_start", "out")


def _example() -> tuple[Any, ...]:
    n = 2
    return (np.zeros((n, 2)), np.zeros((n, 2, 6)), np.zeros((n, 2, 6)), np.zeros((n, 2, 9)), np.zeros((n, 2, 3)),
            np.ones((n, 2)), np.zeros(0, np.int64), 0, np.array([0, n], np.int64), np.zeros((1, 13, 13)))  # fmt: skip


register_loop(
    "calibration.ba_normal",
    ItemLoop(
        scalar=pair_core,
        params=_PARAMS,
        items="out.shape[0]",
        call="i, res, j_cam, j_obj, j_intr, j_pt, weight, sel, points_mode, pair_start, row, out",
        scratch=(Scratch("row", "out.shape[1]", cuda_shape=MAX_K),),
        outputs=("out",),
    ),
    numpy=ba_normal_numpy,
    example=_example,
)


def ba_normal(tier: str = "cpu") -> Callable[..., None]:
    """The ``calibration.ba_normal`` kernel of a tier (``numpy``, ``cpu``, ``cuda``, ``auto``)."""
    return get_kernel("calibration.ba_normal", tier)
