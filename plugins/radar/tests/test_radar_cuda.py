"""CUDA tiers against the numpy references, under the Numba CUDA simulator (in a subprocess,
so that NUMBA_ENABLE_CUDASIM=1 is set before numba.cuda is first imported). Tiny inputs: the
simulator runs every thread in Python."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from sensorfusion_radar import angle_grid, angle_spectrum, cfar_noise
    from sensorfusion_sim._radar import default_radar_model

    rng = np.random.default_rng(0)
    p = rng.exponential(1.0, (9, 8))
    p[4, 2] = 80.0
    p[0, 1] = np.nan
    p[3, 7] = np.inf
    for method in ("ca", "os"):
        kw = dict(method=method, guard=(1, 1), train=(2, 1), rank=0.5)
        ref = cfar_noise(p, tier="numpy", **kw)
        got = cfar_noise(p, tier="cuda", **kw)
        np.testing.assert_allclose(got, ref, rtol=1e-12, equal_nan=True)
    allnan = cfar_noise(np.full((3, 8), np.nan), tier="cuda", guard=(0, 1), train=(1, 1))
    assert np.all(np.isnan(allnan))
    grid = angle_grid(default_radar_model(), azimuth_bins=5, elevation_bins=3)
    x = rng.standard_normal((3, 12)) + 1j * rng.standard_normal((3, 12))
    x[1, 0] = np.nan
    np.testing.assert_allclose(
        angle_spectrum(x, grid.steering, tier="cuda"), angle_spectrum(x, grid.steering, tier="numpy"), rtol=1e-10, equal_nan=True
    )
    print("CUDA-SIM-OK")
    """
)


def test_cuda_tiers_match_numpy_under_the_simulator() -> None:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    res = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "CUDA-SIM-OK" in res.stdout
