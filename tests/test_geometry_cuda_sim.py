"""CUDA tier without a GPU.

1. Under the Numba CUDA simulator, in a subprocess (the simulator must be switched on before
   numba.cuda is first imported, and other tests in this process may have imported it).
   Inputs are tiny: the simulator runs every thread in Python.
2. Compiled for a real GPU (PTX for sm_80 through NVVM) when NVVM is installed, so typing and
   lowering for the real target are checked even where only the simulator can run them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import importlib.util, json, sys
    import numpy as np
    spec = importlib.util.spec_from_file_location("_geometry_cases", sys.argv[1])
    cases = importlib.util.module_from_spec(spec); spec.loader.exec_module(cases)
    from sensorfusion import geometry as g
    from sensorfusion._kernels import resolve_tier
    assert resolve_tier("cuda") == "cuda"
    cams = dict(cases.CAMERAS)
    cams["ocam_style_inv_poly"] = cases.OMNI_NO_INV.model_copy(update={"inv_poly": (300.0, 210.0, 18.0, 16.0, 12.0, 3.0)})
    report = {}
    for name, cam in cams.items():
        pts = np.concatenate([cases.points_in_view(12, 1.0, seed=2), cases.awkward_points()])
        out = {}
        for tier in ("numpy", "cpu", "cuda"):
            uv, jac = g.project_with_jacobian(cam, pts, tier=tier)
            px = np.concatenate([g.project(cam, pts[:12], tier="numpy"), [[np.nan, 0.0], [np.inf, 1.0]]])
            out[tier] = [uv, jac, g.project(cam, pts, tier=tier), g.unproject(cam, px, tier=tier),
                         g.undistort_points(cam, px, tier=tier)]
        diffs, same_nan = [], True
        for a, b in zip(out["numpy"], out["cuda"]):
            same_nan &= bool(np.array_equal(np.isnan(a), np.isnan(b)))
            diffs.append(float(np.nanmax(np.abs(a - b))))
        for a, b in zip(out["cpu"], out["cuda"]):
            same_nan &= bool(np.array_equal(np.isnan(a), np.isnan(b)))
            diffs.append(float(np.nanmax(np.abs(a - b))))
        empty = g.project(cam, np.zeros((0, 3)), tier="cuda").shape
        report[name] = {"max_diff": max(diffs), "same_nan": same_nan, "finite": int(np.isfinite(out["cuda"][0]).all(-1).sum()),
                        "empty_shape": list(empty)}
    print(json.dumps(report))
    """
)


def test_cuda_tier_matches_numpy_and_cpu_under_simulator() -> None:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    env.pop("SENSORFUSION_KERNEL_TIER", None)
    cases = Path(__file__).with_name("test_geometry_cases.py")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(cases)], capture_output=True, text=True, env=env, timeout=300
    )
    if proc.returncode != 0:
        pytest.fail(f"simulator run failed:\n{proc.stderr[-4000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(report) == 7
    for name, r in report.items():
        assert r["same_nan"], name
        assert r["max_diff"] <= 1e-9, (name, r)
        assert r["finite"] >= 12, (name, r)  # the in-view points really projected
        assert r["empty_shape"] == [0, 2]


PTX_SCRIPT = textwrap.dedent(
    """
    import types
    from numba import cuda, float64
    from numba.cuda.cudadrv import nvvm
    if not nvvm.is_available():
        print("NO_NVVM"); raise SystemExit(0)
    import numba.cuda.dispatcher as disp
    # Device-function typing asks the current device for its compute capability; there is
    # no device here, so name the target architecture instead (this only picks the PTX arch).
    disp.get_current_device = lambda: types.SimpleNamespace(compute_capability=(8, 0))
    from sensorfusion.geometry import _cuda
    a1, a2, a3 = float64[::1], float64[:, ::1], float64[:, :, ::1]
    n = 0
    for short in ("pinhole", "kb", "ds", "omni", "f624"):
        for op, k in _cuda._make_kernels(short).items():
            sig = (a1, a2, a2, a3) if op == "project_jacobian" else (a1, a2, a2)
            ptx, _ = cuda.compile_ptx(k.py_func, sig, cc=(8, 0))
            assert ".entry" in ptx, (short, op)
            n += 1
    print("COMPILED", n)
    """
)


def test_cuda_kernels_compile_to_ptx_for_a_real_gpu() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, "-c", PTX_SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"PTX compilation failed:\n{proc.stderr[-4000:]}")
    if "NO_NVVM" in proc.stdout:
        pytest.skip("NVVM (the CUDA compiler library) is not installed")
    assert "COMPILED 20" in proc.stdout
