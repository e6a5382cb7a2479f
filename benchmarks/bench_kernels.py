"""The kernel mechanism's costs: generated loops against hand-written ones, and a second process.

    .venv/bin/python benchmarks/bench_kernels.py [--points N] [--repeats R]

1. **Loop overhead.** The cpu tiers that ``sensorfusion.kernels`` generates from a scalar
   kernel, against the hand-written ``prange`` loops the SDK had before (written out below,
   calling the very same scalar kernels), in this process, on the same inputs, timed
   interleaved (median of ``R``): ``ratio_loop_<kernel>`` = hand-written time / generated time
   (1.0: no overhead).
2. **Start-up.** ``warm_up`` of a few kernels in a fresh interpreter with an empty
   ``NUMBA_CACHE_DIR`` (compiles), then in a second interpreter (loads Numba's disk cache):
   ``ratio_second_process_start`` = first / second.

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit, prange

import sensorfusion.fusion  # registers fusion.triangulate
from sensorfusion.fusion._tri_core import solve_point
from sensorfusion.geometry import camera_params, look_at
from sensorfusion.geometry._kannala_brandt import kb_unproject_pixel
from sensorfusion.geometry._pinhole import pinhole_project_point, pinhole_project_point_jacobian
from sensorfusion.kernels import get_kernel
from sensorfusion.schema import KannalaBrandtCamera, PinholeCamera

assert sensorfusion.fusion

# -- the hand-written peers (the loops as they were written before the generator) ---------------


@njit(parallel=True, cache=True)
def _project_hand(params, points):  # type: ignore[no-untyped-def]
    n = points.shape[0]
    out = np.empty((n, 2))
    for i in prange(n):
        u, v = pinhole_project_point(params, points[i, 0], points[i, 1], points[i, 2])
        out[i, 0] = u
        out[i, 1] = v
    return out


@njit(parallel=True, cache=True)
def _project_jacobian_hand(params, points):  # type: ignore[no-untyped-def]
    n = points.shape[0]
    uv = np.empty((n, 2))
    jac = np.empty((n, 2, 3))
    for i in prange(n):
        r = pinhole_project_point_jacobian(params, points[i, 0], points[i, 1], points[i, 2])
        uv[i, 0] = r[0]
        uv[i, 1] = r[1]
        jac[i, 0, 0] = r[2]
        jac[i, 0, 1] = r[3]
        jac[i, 0, 2] = r[4]
        jac[i, 1, 0] = r[5]
        jac[i, 1, 1] = r[6]
        jac[i, 1, 2] = r[7]
    return uv, jac


@njit(parallel=True, cache=True)
def _kb_unproject_hand(params, pixels):  # type: ignore[no-untyped-def]
    n = pixels.shape[0]
    out = np.empty((n, 3))
    for i in prange(n):
        x, y, z = kb_unproject_pixel(params, pixels[i, 0], pixels[i, 1])
        out[i, 0] = x
        out[i, 1] = y
        out[i, 2] = z
    return out


@njit(parallel=True, cache=True)
def _triangulate_hand(pts, conf, P, min_conf, min_views, robust, thr, iters, X, err, inl, status):  # type: ignore[no-untyped-def]
    V, N = conf.shape
    nchunks = (N + 63) // 64
    for c in prange(nchunks):
        valid = np.empty(V, np.int64)
        use = np.empty(V, np.int64)
        best = np.empty(V, np.int64)
        M = np.empty((4, 4))
        E = np.empty((4, 4))
        X4 = np.empty(4)
        H = np.empty((3, 3))
        g = np.empty(3)
        for n in range(c * 64, min(N, (c + 1) * 64)):
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


# -- inputs ---------------------------------------------------------------------------------------


def _inputs(n_points: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    pin = camera_params(
        PinholeCamera(width=1920, height=1080, fx=1400, fy=1398, cx=960, cy=540, k1=-0.21, k2=0.07, p1=0.001, k3=-0.01)
    )
    kb = camera_params(
        KannalaBrandtCamera(width=1280, height=1024, fx=420, fy=419, cx=640, cy=511, k1=0.042, k2=-0.011, k3=0.0023)
    )
    pts = np.ascontiguousarray(rng.normal(0, 1, (n_points, 3)) * [1, 1, 0.2] + [0, 0, 3])
    px = np.ascontiguousarray(rng.uniform(0, 1000, (n_points, 2)))
    V, N = 8, max(n_points // 20, 100)
    K = np.array([[800.0, 0, 320], [0, 800, 240], [0, 0, 1]])
    P = np.stack(
        [
            K @ np.linalg.inv(look_at(np.array([4 * np.cos(a), 4 * np.sin(a), 2.0]), np.array([0, 0, 1.0])).matrix)[:3]
            for a in np.linspace(0, 2 * np.pi, V, endpoint=False)
        ]
    )
    X = rng.uniform(-1, 1, (N, 3)) + np.array([0, 0, 1.0])
    q = np.einsum("vij,nj->vni", P, np.c_[X, np.ones(N)])
    uv = np.ascontiguousarray(q[..., :2] / q[..., 2:] + rng.normal(0, 1, (V, N, 2)))
    uv[rng.random((V, N)) < 0.1] += 80.0
    return {"pin": pin, "kb": kb, "pts": pts, "px": px, "uv": uv, "conf": np.ones((V, N)), "P": P}


def _cases(d: dict[str, Any]) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    V, N = d["conf"].shape

    def tri_hand() -> Any:
        X, err, inl, st = np.empty((N, 3)), np.empty((V, N)), np.empty((V, N), np.bool_), np.empty(N, np.int8)
        _triangulate_hand(d["uv"], d["conf"], d["P"], 0.0, 2, True, 10.0, 2, X, err, inl, st)
        return X

    tri = get_kernel("fusion.triangulate", "cpu")
    return {
        "geometry.pinhole.project": (
            lambda: _project_hand(d["pin"], d["pts"]),
            lambda: get_kernel("geometry.pinhole.project", "cpu")(d["pin"], d["pts"]),
        ),
        "geometry.pinhole.project_jacobian": (
            lambda: _project_jacobian_hand(d["pin"], d["pts"])[0],
            lambda: get_kernel("geometry.pinhole.project_jacobian", "cpu")(d["pin"], d["pts"])[0],
        ),
        "geometry.kannala_brandt.unproject": (
            lambda: _kb_unproject_hand(d["kb"], d["px"]),
            lambda: get_kernel("geometry.kannala_brandt.unproject", "cpu")(d["kb"], d["px"]),
        ),
        "fusion.triangulate (robust, 8 views)": (
            tri_hand,
            lambda: tri(d["uv"], d["conf"], d["P"], 0.0, 2, True, 10.0, 2)[0],
        ),
    }


_PROBE = (
    "import json, time; t = time.perf_counter(); from sensorfusion import kernels; "
    "r = kernels.warm_up(['geometry.pinhole.*', 'fusion.triangulate']); "
    "print(json.dumps({'s': time.perf_counter() - t, 'src': sorted({x.source for x in r})}))"
)


def _start_up() -> tuple[dict[str, Any], dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NUMBA_CACHE_DIR": tmp}
        env.pop("SENSORFUSION_KERNEL_DIR", None)
        runs = []
        for _ in range(2):
            r = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=900)
            if r.returncode != 0:
                raise SystemExit(r.stderr[-2000:])
            runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    return runs[0], runs[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=400_000)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    rows, figures = [], {}
    for name, (hand, gen) in _cases(_inputs(args.points)).items():
        a, b = hand(), gen()  # compile / load both, and check they agree
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9, equal_nan=True)
        th, tg = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            hand()
            th.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            gen()
            tg.append(time.perf_counter() - t0)
        h, g = statistics.median(th), statistics.median(tg)
        rows.append((name, f"{h * 1e3:.2f}", f"{g * 1e3:.2f}", f"{h / g:.2f}"))
        figures[f"ratio_loop_{name.split(' ')[0]}"] = round(h / g, 3)
    first, second = _start_up()
    rows.append(("warm_up pinhole.* + triangulate, new process", f"{first['s']:.2f} ({first['src']})",
                 f"{second['s']:.2f} ({second['src']})", f"{first['s'] / second['s']:.1f}"))  # fmt: skip
    figures.update(
        first_process_s=round(first["s"], 2),
        second_process_s=round(second["s"], 2),
        ratio_second_process_start=round(first["s"] / second["s"], 2),
        load_average=round(os.getloadavg()[0], 1),
        points=args.points,
    )
    head = ("case", "hand-written ms | 1st process s", "generated ms | 2nd process s", "ratio")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(4)]
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
