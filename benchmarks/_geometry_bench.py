"""Projection throughput of the geometry kernel tiers against OpenCV.

``bench_projection(n_points)`` projects the same random camera-frame points with the pinhole
(Brown–Conrady, 5 coefficients) and Kannala–Brandt models through every available tier of
:func:`sensorfusion.geometry.project` (numpy, cpu after a warm-up, cuda on a real GPU —
timed end to end, host↔device copies included) and through ``cv2.projectPoints`` /
``cv2.fisheye.projectPoints`` on the same input. Each figure is the median of several runs.
``ratio_*`` keys are ours / OpenCV in points per second (> 1: we are faster).

Caveat on the peer: from Python, ``cv2.projectPoints`` and ``cv2.fisheye.projectPoints`` always
fill their ``jacobian`` output (2N x 15, w.r.t. pose and intrinsics), so OpenCV does more work
per point than our ``project``; the ratios are what a Python caller of either library gets.

Also reported, without a ratio key: the cpu tier of ``project_with_jacobian`` (pixels plus
the 2x3 point Jacobian), closer to the work OpenCV does (see the caveat below).

Run alone: ``python benchmarks/_geometry_bench.py [N_POINTS]`` prints a table, then one JSON line.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from sensorfusion import geometry as g
from sensorfusion.kernels import real_gpu
from sensorfusion.schema._calibration import KannalaBrandtCamera, PinholeCamera

__all__ = ["bench_projection"]

PINHOLE = PinholeCamera(
    width=1920, height=1080, fx=1400.0, fy=1398.0, cx=960.5, cy=540.2, k1=-0.21, k2=0.07, p1=0.001, p2=-0.0008, k3=-0.01
)
KB = KannalaBrandtCamera(
    width=1280, height=1024, fx=420.0, fy=419.0, cx=640.5, cy=511.0, k1=0.042, k2=-0.011, k3=0.0023, k4=-0.0004
)


def _median_s(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _opencv_peer(cv2: Any, cam: PinholeCamera | KannalaBrandtCamera, pts: np.ndarray) -> Callable[[], Any]:
    pts_cv = pts.reshape(-1, 1, 3)
    zeros = np.zeros(3)
    k = np.array([[cam.fx, 0, cam.cx], [0, cam.fy, cam.cy], [0, 0, 1.0]])
    if isinstance(cam, PinholeCamera):
        return partial(cv2.projectPoints, pts_cv, zeros, zeros, k, cam.dist_coeffs[:5])
    return partial(cv2.fisheye.projectPoints, pts_cv, zeros, zeros, k, np.array([cam.k1, cam.k2, cam.k3, cam.k4]))


def _points(n: int, max_angle_rad: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ang = max_angle_rad * np.sqrt(rng.uniform(0, 1, n))
    az = rng.uniform(-np.pi, np.pi, n)
    d = rng.uniform(0.5, 20.0, n)
    return np.stack([np.sin(ang) * np.cos(az), np.sin(ang) * np.sin(az), np.cos(ang)], -1) * d[:, None]


def bench_projection(n_points: int = 1_000_000, *, repeats: int = 7) -> dict[str, Any]:
    """Points per second of each tier and of OpenCV; ``ratio_*`` = ours / OpenCV."""
    import cv2

    tiers = ["numpy", "cpu", *(["cuda"] if real_gpu() else [])]
    out: dict[str, Any] = {"n_points": n_points, "repeats": repeats, "tiers": tiers}
    for label, cam, pts in (("pinhole", PINHOLE, _points(n_points, 0.6)), ("kb", KB, _points(n_points, 1.3, seed=1))):
        peer = _opencv_peer(cv2, cam, pts)
        ref = peer()[0].reshape(-1, 2)
        peer_s = _median_s(peer, repeats)
        out[f"{label}_opencv_points_per_s"] = n_points / peer_s
        for tier in tiers:
            uv = g.project(cam, pts, tier=tier)  # warm-up (JIT compile / CUDA context)
            out[f"{label}_{tier}_max_diff_vs_opencv_px"] = float(np.abs(uv - ref).max())
            s = _median_s(partial(g.project, cam, pts, tier=tier), repeats)
            out[f"{label}_{tier}_points_per_s"] = n_points / s
            key = f"ratio_project_{tier}_vs_opencv" if label == "pinhole" else f"ratio_project_kb_{tier}_vs_opencv"
            out[key] = peer_s / s
        g.project_with_jacobian(cam, pts, tier="cpu")
        s = _median_s(partial(g.project_with_jacobian, cam, pts, tier="cpu"), repeats)
        out[f"{label}_cpu_with_jacobian_points_per_s"] = n_points / s
    return out


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 1_000_000
    res = bench_projection(n)
    print(f"projection of {n:,} points, median of {res['repeats']} runs")
    print(f"{'model':<8} {'impl':<8} {'Mpoints/s':>10} {'vs OpenCV':>10} {'max |Δ| px':>11}")
    for label in ("pinhole", "kb"):
        peer = res[f"{label}_opencv_points_per_s"]
        print(f"{label:<8} {'opencv':<8} {peer / 1e6:>10.2f} {1.0:>10.2f} {'':>11}")
        for tier in res["tiers"]:
            v = res[f"{label}_{tier}_points_per_s"]
            print(
                f"{label:<8} {tier:<8} {v / 1e6:>10.2f} {v / peer:>10.2f} {res[f'{label}_{tier}_max_diff_vs_opencv_px']:>11.2e}"
            )
        v = res[f"{label}_cpu_with_jacobian_points_per_s"]
        print(f"{label:<8} {'cpu+jac':<8} {v / 1e6:>10.2f} {v / peer:>10.2f} {'':>11}")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
