"""The bundle adjustment's kernels (calibration.ba_jacobian, calibration.ba_normal) through the
tier contract: numpy, cpu and cuda (simulator and PTX)."""

from __future__ import annotations

import numpy as np
from sensorfusion_calibration._ba_kernels import alloc_outputs
from sensorfusion_calibration._ba_normal import normal_size

from sensorfusion.testing import KernelCase, KernelTierContract


def _problem(seed: int, n: int) -> tuple[np.ndarray, ...]:
    """``n`` observations of 4 board poses by 3 cameras (one fixed), with bad numbers in some rows."""
    rng = np.random.default_rng(seed)
    c, o = 3, 4
    cam = np.column_stack([rng.normal(0, 0.2, (c, 3)), rng.normal(0, 0.1, (c, 2)), -rng.uniform(3, 4, (c, 1))])
    intr = np.zeros((c, 12))
    intr[:, :4] = [500, 510, 320, 240]
    intr[:, 4:9] = rng.normal(0, 0.05, (c, 5))
    intr[:, 9:] = rng.normal(0, 0.01, (c, 3))
    objp = np.column_stack([rng.normal(0, 0.3, (o, 3)), rng.normal(0, 0.2, (o, 3))])
    obj = rng.normal(0, 0.3, (n, 3))
    uv = rng.normal(300, 50, (n, 2))
    if n >= 4:
        obj[0] = np.nan  # defined result: residual 0, invalid
        obj[1, 2] = np.inf
        uv[2] = (np.nan, 1.0)
        uv[3, 0] = np.inf
    ci, oi = rng.integers(0, c, n), rng.integers(0, o, n)
    fixed = np.array([1, 0, 0], np.uint8)
    return cam, intr, objp, obj, ci, oi, uv, fixed, *alloc_outputs(n)


def _normal(seed: int, pair_start: list[int], *, n_sel: int, points_mode: bool) -> tuple[object, ...]:
    """Rows of ``len(pair_start) - 1`` (camera, object) pairs, NaN and inf in two of them."""
    rng = np.random.default_rng(seed)
    n = pair_start[-1]
    res, j_cam, j_obj = rng.normal(size=(n, 2)), rng.normal(size=(n, 2, 6)), rng.normal(size=(n, 2, 6))
    j_intr, j_pt = rng.normal(size=(n, 2, 9)), rng.normal(size=(n, 2, 3))
    weight = rng.uniform(0.1, 1.0, (n, 2))
    weight[::7] = 0.0
    if n > 20:
        res[20, 0] = np.nan
        j_cam[3, 1, 2] = np.inf
    sel = np.sort(rng.choice(9, n_sel, replace=False)).astype(np.int64)
    k, p = normal_size(n_sel, points_mode), len(pair_start) - 1
    starts = np.array(pair_start, np.int64)
    return (res, j_cam, j_obj, j_intr, j_pt, weight, sel, int(points_mode), starts, np.full((p, k, k), -1.0))  # fmt: skip


class TestBundleAdjustmentTiers(KernelTierContract):
    kernels = ("calibration.ba_jacobian", "calibration.ba_normal")
    rtol = 1e-12
    atol = 1e-10

    def cases(self) -> list[KernelCase]:
        pairs = [0, 5, 5, 17, 30, 31, 50]  # one empty pair, one single row
        many = list(range(0, 4001, 40))
        return [
            KernelCase("calibration.ba_jacobian", _problem(0, 12), "12 observations"),
            KernelCase("calibration.ba_jacobian", _problem(1, 2000), "2000 observations", simulate=False),
            KernelCase("calibration.ba_jacobian", _problem(2, 0), "no observations"),
            KernelCase("calibration.ba_normal", _normal(0, pairs, n_sel=6, points_mode=False), "boards"),
            KernelCase("calibration.ba_normal", _normal(1, pairs, n_sel=0, points_mode=True), "points"),
            KernelCase(
                "calibration.ba_normal", _normal(2, many, n_sel=9, points_mode=False), "100 pairs", simulate=False
            ),
            KernelCase("calibration.ba_normal", _normal(3, [0], n_sel=3, points_mode=False), "no pairs"),
        ]
