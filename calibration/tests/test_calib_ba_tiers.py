"""calibration.ba_jacobian through the tier contract: numpy, cpu and cuda (simulator and PTX)."""

from __future__ import annotations

import numpy as np
from sensorfusion_calibration._ba_kernels import alloc_outputs

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


class TestBundleAdjustmentTiers(KernelTierContract):
    kernels = ("calibration.ba_jacobian",)
    rtol = 1e-12
    atol = 1e-10

    def cases(self) -> list[KernelCase]:
        return [
            KernelCase("calibration.ba_jacobian", _problem(0, 12), "12 observations"),
            KernelCase("calibration.ba_jacobian", _problem(1, 2000), "2000 observations", simulate=False),
            KernelCase("calibration.ba_jacobian", _problem(2, 0), "no observations"),
        ]
