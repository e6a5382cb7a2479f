"""The CUDA tier of fusion.triangulate equals the numpy reference, under NUMBA_ENABLE_CUDASIM=1.

The simulator must be enabled before numba.cuda is first imported, so the comparison runs in a
fresh interpreter; inputs are tiny because the simulator runs every thread in Python.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import numpy as np
from sensorfusion.fusion import triangulate_points
from sensorfusion.geometry import look_at

rng = np.random.default_rng(5)
V, N = 5, 12
K = np.array([[700.0, 0, 320], [0, 700, 240], [0, 0, 1]])
P = np.stack([K @ np.linalg.inv(look_at(np.array([3 * np.cos(a), 3 * np.sin(a), 2.0]), np.array([0, 0, 1.0])).matrix)[:3]
              for a in np.linspace(0, 2 * np.pi, V, endpoint=False)])
X = rng.uniform(-0.5, 0.5, (N, 3)) + [0, 0, 1]
q = np.einsum("vij,nj->vni", P, np.c_[X, np.ones(N)])
uv = q[..., :2] / q[..., 2:] + rng.normal(0, 1, (V, N, 2))
uv[rng.random((V, N)) < 0.15] += 60.0
conf = rng.uniform(0.3, 1, (V, N))
uv[0, 0] = np.nan; conf[:, 1] = 0; conf[1, 2] = np.inf
for robust, it in ((False, 0), (True, 2)):
    a = triangulate_points(uv, conf, P, robust=robust, refine_iters=it, threshold_px=10, tier="numpy")
    b = triangulate_points(uv, conf, P, robust=robust, refine_iters=it, threshold_px=10, tier="cuda")
    assert (a.status == b.status).all(), (a.status, b.status)
    assert (a.inliers == b.inliers).all()
    np.testing.assert_allclose(a.points3d, b.points3d, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(a.reprojection_error_px, b.reprojection_error_px, atol=1e-6, equal_nan=True)
print("CUDA-SIM-OK")
"""


def test_cuda_tier_matches_numpy_under_simulator() -> None:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parent
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "CUDA-SIM-OK" in r.stdout
