"""Benchmark of the fusion kernels against aniposelib 0.8 and Pose2Sim 0.10.49.

    .venv/bin/python benchmarks/bench_fusion.py            # full sizes
    .venv/bin/python benchmarks/bench_fusion.py --quick    # smaller, for a smoke run

Prints a table, then ONE JSON line whose ``ratio_*`` keys are our speed / the peer's speed,
measured in this process on the same inputs (medians of repeats after warm-up).

Peers:
* aniposelib 0.8 ``CameraGroup.triangulate`` and ``CameraGroup.triangulate_ransac`` on the same
  pixels (``undistort=True``, its documented use: pixels in, zero distortion here).
* Pose2Sim 0.10.49: its own functions, read from the installed wheel
  (``Pose2Sim/triangulation.py``: ``triangulation_from_best_cameras``; ``Pose2Sim/common.py``:
  ``weighted_triangulation``, ``reprojection``, ``euclidean_distance``;
  ``Pose2Sim/personAssociation.py``: ``compute_rays`` … ``person_index_per_cam``). Its modules
  import pandas, rtoml, c3d and anytree at the top, which this environment does not have, so
  the function definitions are taken from the installed files with ``ast`` and executed
  unchanged with numpy / itertools / cv2 in scope. Nothing of Pose2Sim is copied here.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion.fusion import triangulate_points
from sensorfusion.fusion._associate import associate_views
from sensorfusion.geometry import look_at

# -- scene ----------------------------------------------------------------------------------

COCO17_STAND = np.array(
    [
        [0.00, 0.08, 1.62],
        [0.03, 0.07, 1.65],
        [-0.03, 0.07, 1.65],
        [0.07, 0.03, 1.63],
        [-0.07, 0.03, 1.63],
        [0.18, 0.0, 1.42],
        [-0.18, 0.0, 1.42],
        [0.22, 0.0, 1.15],
        [-0.22, 0.0, 1.15],
        [0.24, 0.02, 0.90],
        [-0.24, 0.02, 0.90],
        [0.10, 0.0, 0.95],
        [-0.10, 0.0, 0.95],
        [0.11, 0.02, 0.52],
        [-0.11, 0.02, 0.52],
        [0.11, 0.0, 0.08],
        [-0.11, 0.0, 0.08],
    ]
)


def cameras(
    V: int, radius_m: float = 5.0, f_px: float = 1000.0, w: int = 1280, h: int = 720
) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
    P, params = [], []
    for i in range(V):
        a = 2 * np.pi * i / V
        T = look_at(
            np.array([radius_m * np.cos(a), radius_m * np.sin(a), 2.2 + 0.4 * (i % 3)]), np.array([0.0, 0.0, 1.0])
        )
        m = np.linalg.inv(T.matrix)
        K = np.array([[f_px, 0, w / 2], [0, f_px, h / 2], [0, 0, 1.0]])
        P.append(K @ m[:3])
        params.append({"K": K, "R": m[:3, :3], "t": m[:3, 3], "size": np.array([w, h])})
    return np.stack(P), params


def project(P: np.ndarray, X: np.ndarray) -> np.ndarray:
    q = np.einsum("vij,...j->v...i", P, np.concatenate([X, np.ones((*X.shape[:-1], 1))], -1))
    return q[..., :2] / q[..., 2:]


def observations(
    P: np.ndarray, X: np.ndarray, rng: np.random.Generator, noise_px: float = 1.0, outlier_frac: float = 0.0
):
    uv = project(P, X) + rng.normal(0, noise_px, (len(P), *X.shape[:-1], 2))
    conf = rng.uniform(0.5, 1.0, uv.shape[:-1])
    if outlier_frac:
        out = rng.random(uv.shape[:-1]) < outlier_frac
        uv[out] += rng.uniform(50, 200, (int(out.sum()), 2)) * rng.choice([-1, 1], (int(out.sum()), 2))
    return uv, conf


def timed(fn: Callable[[], Any], repeats: int = 3, warmup: int = 1) -> tuple[float, Any]:
    out = None
    for _ in range(warmup):
        out = fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), out


# -- peers ----------------------------------------------------------------------------------


def load_pose2sim(names: dict[str, list[str]]) -> dict[str, Any]:
    """Execute the named top-level functions of installed Pose2Sim modules, unchanged."""
    import importlib.util

    import cv2

    spec = importlib.util.find_spec("Pose2Sim")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pose2sim is not installed: .venv/bin/pip install --no-deps pose2sim==0.10.49")
    root = Path(next(iter(spec.submodule_search_locations)))
    ns: dict[str, Any] = {"np": np, "it": itertools, "cv2": cv2}
    for module, funcs in names.items():
        tree = ast.parse((root / module).read_text(encoding="utf-8"))
        body = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in funcs]
        missing = set(funcs) - {n.name for n in body}
        if missing:
            raise ImportError(f"Pose2Sim/{module} lacks {sorted(missing)}")
        exec(compile(ast.Module(body=body, type_ignores=[]), str(root / module), "exec"), ns)
    return ns


def anipose_group(params: list[dict[str, np.ndarray]]) -> Any:
    import cv2
    from aniposelib.cameras import Camera, CameraGroup

    cams = []
    for i, p in enumerate(params):
        rvec, _ = cv2.Rodrigues(p["R"])
        cams.append(
            Camera(
                name=f"c{i}",
                size=tuple(int(s) for s in p["size"]),
                matrix=p["K"],
                dist=np.zeros(5),
                rvec=rvec.ravel(),
                tvec=p["t"],
            )
        )
    return CameraGroup(cams)


# -- sections -------------------------------------------------------------------------------


def bench_dlt(frames: int, rows: list[list[str]], ratios: dict[str, float], figures: dict[str, Any]) -> None:
    rng = np.random.default_rng(0)
    J = 17
    for V in (4, 8, 16):
        P, params = cameras(V)
        X = rng.uniform(-1.5, 1.5, (frames, J, 3)) + np.array([0, 0, 1.0])
        uv, conf = observations(P, X, rng)
        n = frames * J
        t_cpu, r = timed(lambda uv=uv, conf=conf, P=P: triangulate_points(uv, conf, P, tier="cpu"), repeats=5)
        t_np, _ = timed(lambda uv=uv, conf=conf, P=P: triangulate_points(uv, conf, P, tier="numpy"), repeats=3)
        group = anipose_group(params)
        flat = uv.reshape(V, n, 2)
        group.triangulate(flat[:, :100], undistort=True)  # warm-up (its numba kernels)
        t_ani, Xa = timed(lambda flat=flat, group=group: group.triangulate(flat, undistort=True), repeats=1, warmup=0)
        e_ours = float(np.mean(np.linalg.norm(r.points3d - X, axis=-1))) * 1e3
        e_ani = float(np.mean(np.linalg.norm(Xa.reshape(frames, J, 3) - X, axis=-1))) * 1e3
        rows.append(
            [
                f"weighted DLT {V} views, {J} joints x {frames} frames",
                f"{n / t_cpu:,.0f} pts/s",
                f"numpy SVD {n / t_np:,.0f}; aniposelib {n / t_ani:,.0f}",
                f"{t_np / t_cpu:.1f}x / {t_ani / t_cpu:.1f}x",
                f"{e_ours:.2f} vs {e_ani:.2f} mm",
            ]
        )
        ratios[f"ratio_dlt_{V}v_vs_aniposelib"] = round(t_ani / t_cpu, 2)
        ratios[f"ratio_dlt_{V}v_vs_numpy_svd"] = round(t_np / t_cpu, 2)
        figures[f"dlt_{V}v_points_per_s"] = round(n / t_cpu)
        print(f"  DLT {V} views done", file=sys.stderr, flush=True)


def bench_robust(points: int, rows: list[list[str]], ratios: dict[str, float], figures: dict[str, Any]) -> None:
    """Robust triangulation. aniposelib's ``triangulate_ransac`` tries every subset of cameras
    (``itertools.product`` over 2^V choices per point, stopping early only under 0.5 px), so it
    runs on fewer points (200 / 20 / 1 at 4 / 8 / 16 views); each ratio compares the two on the
    same points."""
    p2s = load_pose2sim(
        {
            "triangulation.py": ["triangulation_from_best_cameras"],
            "common.py": ["weighted_triangulation", "reprojection", "euclidean_distance"],
        }
    )
    config = {
        "triangulation": {
            "reproj_error_threshold_triangulation": 15,
            "min_cameras_for_triangulation": 2,
            "handle_LR_swap": False,
            "undistort_points": False,
        }
    }
    rng = np.random.default_rng(1)
    ani_points = {4: 200, 8: 20, 16: 1}
    p2s_points = {4: 2000, 8: 1000, 16: 60}  # Pose2Sim tries C(V, k) subsets per point in Python
    for V in (4, 8, 16):
        P, params = cameras(V)
        X = rng.uniform(-1.5, 1.5, (points, 3)) + np.array([0, 0, 1.0])
        uv, conf = observations(P, X, rng, outlier_frac=0.10)

        def ours(n: int, uv=uv, conf=conf, P=P) -> Any:  # type: ignore[no-untyped-def]
            return triangulate_points(
                uv[:, :n], conf[:, :n], P, robust=True, threshold_px=15, refine_iters=2, tier="cpu"
            )

        t_ours, _ = timed(lambda: ours(points), repeats=5)
        Pl = [P[v] for v in range(V)]

        npp = min(points, p2s_points[V])

        def run_p2s(uv=uv, conf=conf, Pl=Pl, npp=npp) -> np.ndarray:  # type: ignore[no-untyped-def]
            out = np.full((npp, 3), np.nan)
            for i in range(npp):
                coords = (uv[:, i, 0].copy(), uv[:, i, 1].copy(), conf[:, i].copy())
                Q = p2s["triangulation_from_best_cameras"](config, coords, coords, Pl, None)[0]
                out[i] = np.asarray(Q)[:3]
            return out

        t_p2s, Xp = timed(run_p2s, repeats=1, warmup=0)
        na = ani_points[V]
        group = anipose_group(params)
        group.triangulate_ransac(uv[:, :1], undistort=True, min_cams=2, progress=False) if V < 16 else None  # warm-up
        t_ani, Xa = timed(
            lambda uv=uv, group=group, na=na: group.triangulate_ransac(
                uv[:, :na], undistort=True, min_cams=2, progress=False
            ),
            repeats=1,
            warmup=0,
        )
        Xa = Xa[0] if isinstance(Xa, tuple) else Xa
        t_ours_na, r_na = timed(lambda na=na: ours(na), repeats=5)
        t_ours_np, r_np = timed(lambda npp=npp: ours(npp), repeats=5)
        print(f"  robust {V} views done", file=sys.stderr, flush=True)

        def err(Y: np.ndarray, n: int = points, X: np.ndarray = X) -> float:
            return float(np.nanmean(np.linalg.norm(np.asarray(Y, dtype=float)[:n, :3] - X[:n], axis=-1))) * 1e3

        e_o, e_p, e_a, e_o_na = err(r_np.points3d, npp), err(Xp, npp), err(Xa, na), err(r_na.points3d, na)
        rows.append(
            [
                f"robust {V} views, 10% outlier views",
                f"{points / t_ours:,.0f} pts/s",
                f"Pose2Sim {npp / t_p2s:,.1f} ({npp} pts); aniposelib RANSAC {na / t_ani:,.2f} ({na} pts)",
                f"{t_p2s / t_ours_np:.0f}x / {t_ani / t_ours_na:.0f}x",
                f"{e_o:.2f} vs Pose2Sim {e_p:.2f}; {e_o_na:.2f} vs aniposelib {e_a:.2f} mm",
            ]
        )
        ratios[f"ratio_robust_{V}v_vs_pose2sim"] = round(t_p2s / t_ours_np, 1)
        ratios[f"ratio_robust_{V}v_vs_aniposelib_ransac"] = round(t_ani / t_ours_na, 1)
        figures[f"robust_{V}v_error_mm"] = {
            "ours": round(e_o, 3),
            "pose2sim": round(e_p, 3),
            "ours_on_aniposelib_points": round(e_o_na, 3),
            "aniposelib_ransac": round(e_a, 3),
        }
        figures[f"robust_{V}v_points"] = {"ours_throughput": points, "pose2sim": npp, "aniposelib": na}


def people_scene(n_people: int, rng: np.random.Generator) -> np.ndarray:
    out: list[np.ndarray] = []
    while len(out) < n_people:
        c = rng.uniform(-2.0, 2.0, 2)
        if any(np.linalg.norm(c - o[:, :2].mean(0)) < 0.6 for o in out):
            continue
        a = rng.uniform(0, 2 * np.pi)
        R = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        out.append(COCO17_STAND @ R.T * rng.uniform(0.9, 1.1) + [c[0], c[1], 0.0])
    return np.stack(out)


def association_input(V: int, n_people: int, frames: int, seed: int = 2):
    rng = np.random.default_rng(seed)
    P, params = cameras(V)
    scenes = []
    for _ in range(frames):
        X = people_scene(n_people, rng)
        uv = project(P, X) + rng.normal(0, 2.0, (V, n_people, 17, 2))
        conf = rng.uniform(0.5, 1.0, (V, n_people, 17))
        perm = [rng.permutation(n_people) for _ in range(V)]
        dets = [np.concatenate([uv[v, perm[v]], conf[v, perm[v], :, None]], -1) for v in range(V)]
        scenes.append((X, dets, perm))
    return P, params, scenes


def correct_groups(groups: np.ndarray, perm: list[np.ndarray], n_people: int) -> bool:
    if len(groups) != n_people:
        return False
    for row in groups:
        ids = {int(perm[v][i]) for v, i in enumerate(row) if i >= 0}
        if len(ids) != 1:
            return False
    return True


def bench_association(frames: int, rows: list[list[str]], ratios: dict[str, float], figures: dict[str, Any]) -> None:
    V, n_people = 8, 6
    P, params, scenes = association_input(V, n_people, frames)
    p2s = load_pose2sim(
        {
            "personAssociation.py": [
                "compute_rays",
                "broadcast_line_to_line_distance",
                "compute_affinity",
                "circular_constraint",
                "SVT",
                "matchSVT",
                "person_index_per_cam",
            ]
        }
    )
    calib = {
        "inv_K": [np.linalg.inv(p["K"]) for p in params],
        "R_mat": [p["R"] for p in params],
        "T": [p["t"] for p in params],
    }

    def ours() -> int:
        ok = 0
        for _, dets, perm in scenes:
            ok += correct_groups(associate_views(dets, P).groups, perm, n_people)
        return ok

    def pose2sim() -> int:
        ok = 0
        for _, dets, perm in scenes:
            data = [[list(p.reshape(-1)) for p in dv] for dv in dets]
            cum = np.cumsum([0] + [len(j) for j in data])
            aff = p2s["compute_affinity"](data, calib, cum, reconstruction_error_threshold=0.1)
            circ = p2s["circular_constraint"](cum)
            aff = p2s["matchSVT"](aff * circ, cum, circ, max_iter=20, w_rank=50, tol=1e-4, w_sparse=0.1)
            aff[aff < 0.2] = 0
            props = p2s["person_index_per_cam"](aff, cum, 2)
            groups = np.where(np.isnan(props), -1, props).astype(np.int64)
            ok += correct_groups(groups, perm, n_people)
        return ok

    t_o, ok_o = timed(ours, repeats=3)
    t_p, ok_p = timed(pose2sim, repeats=1, warmup=0)
    rows.append(
        [
            f"association {V} views x {n_people} people",
            f"{frames / t_o:,.0f} frames/s",
            f"Pose2Sim {frames / t_p:,.1f} frames/s",
            f"{t_p / t_o:.1f}x",
            f"correct {ok_o}/{frames} vs {ok_p}/{frames} frames",
        ]
    )
    ratios["ratio_association_8v_6p_vs_pose2sim"] = round(t_p / t_o, 2)
    figures["association_fps"] = round(frames / t_o, 1)
    figures["association_correct_frames"] = {"ours": ok_o, "pose2sim": ok_p, "of": frames}


def slope(xs: list[float], ts: list[float]) -> float:
    return float(np.polyfit(np.log(xs), np.log(ts), 1)[0])


def bench_scaling(quick: bool, rows: list[list[str]], figures: dict[str, Any]) -> None:
    rng = np.random.default_rng(3)
    base_frames = 2000 if quick else 5000
    views, tv = [2, 4, 8, 16, 32], []
    for V in views:
        P, _ = cameras(V)
        uv, conf = observations(P, rng.uniform(-1, 1, (base_frames, 17, 3)) + np.array([0, 0, 1]), rng)
        tv.append(timed(lambda uv=uv, conf=conf, P=P: triangulate_points(uv, conf, P, tier="cpu"))[0])
    P8, _ = cameras(8)
    joints, tj = [17, 25, 133], []
    for J in joints:
        uv, conf = observations(P8, rng.uniform(-1, 1, (base_frames, J, 3)) + np.array([0, 0, 1]), rng)
        tj.append(timed(lambda uv=uv, conf=conf: triangulate_points(uv, conf, P8, tier="cpu"))[0])
    nframes, tf = [1000, 4000, 16000] + ([] if quick else [64000]), []
    for F in nframes:
        uv, conf = observations(P8, rng.uniform(-1, 1, (F, 17, 3)) + np.array([0, 0, 1]), rng)
        tf.append(timed(lambda uv=uv, conf=conf: triangulate_points(uv, conf, P8, tier="cpu"))[0])
    people, tp = [1, 2, 4, 8, 12], []
    for n in people:
        P, _, scenes = association_input(8, n, 20, seed=4)

        def run(scenes=scenes, P=P) -> None:  # type: ignore[no-untyped-def]
            for _, dets, _ in scenes:
                associate_views(dets, P)

        tp.append(timed(run)[0] / 20)
    s = {
        "views": slope(views, tv),
        "joints": slope(joints, tj),
        "frames": slope(nframes, tf),
        "people_association": slope(people, tp),
    }
    figures["scaling_slopes"] = {k: round(v, 2) for k, v in s.items()}
    figures["scaling_times_s"] = {
        "views": dict(zip(map(str, views), [round(t, 4) for t in tv], strict=True)),
        "joints": dict(zip(map(str, joints), [round(t, 4) for t in tj], strict=True)),
        "frames": dict(zip(map(str, nframes), [round(t, 4) for t in tf], strict=True)),
        "people_association_per_frame": dict(zip(map(str, people), [round(t, 5) for t in tp], strict=True)),
    }
    for k, v in s.items():
        rows.append([f"scaling vs {k}", f"slope {v:.2f}", "log-log fit of time", "", ""])


CUDA_SIM = r"""
import time, numpy as np
from sensorfusion.fusion import triangulate_points
rng = np.random.default_rng(0)
V, N = 8, 64
from sensorfusion.geometry import look_at
K = np.array([[800.0, 0, 320], [0, 800, 240], [0, 0, 1]])
P = np.stack([K @ np.linalg.inv(look_at(np.array([4*np.cos(a), 4*np.sin(a), 2.0]), np.array([0, 0, 1.0])).matrix)[:3] for a in np.linspace(0, 6.28, V, endpoint=False)])
X = rng.uniform(-1, 1, (N, 3)) + np.array([0, 0, 1])
q = np.einsum("vij,nj->vni", P, np.c_[X, np.ones(N)]); uv = q[..., :2] / q[..., 2:] + rng.normal(0, 1, (V, N, 2))
conf = np.ones((V, N))
a = triangulate_points(uv, conf, P, robust=True, tier="numpy")
t0 = time.perf_counter(); b = triangulate_points(uv, conf, P, robust=True, tier="cuda"); t = time.perf_counter() - t0
print(json.dumps({"max_abs_diff_m": float(np.nanmax(np.abs(a.points3d - b.points3d))), "seconds": t, "points": N}))
""".replace("import time", "import json, time")


def bench_cuda(rows: list[list[str]], figures: dict[str, Any]) -> None:
    from sensorfusion.kernels import real_gpu

    if real_gpu():
        rng = np.random.default_rng(0)
        P, _ = cameras(8)
        uv, conf = observations(P, rng.uniform(-1, 1, (10000, 17, 3)) + np.array([0, 0, 1]), rng)
        t, _ = timed(lambda: triangulate_points(uv, conf, P, tier="cuda"))
        figures["cuda_gpu_points_per_s"] = round(170000 / t)
        rows.append(["CUDA tier, real GPU, 8 views x 170k pts", f"{170000 / t:,.0f} pts/s", "", "", ""])
        return
    r = subprocess.run(
        [sys.executable, "-c", CUDA_SIM],
        env={**os.environ, "NUMBA_ENABLE_CUDASIM": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if r.returncode != 0:
        rows.append(["CUDA tier (simulator)", "FAILED", r.stderr[-200:], "", ""])
        figures["cuda_sim"] = "failed"
        return
    d = json.loads(r.stdout.strip().splitlines()[-1])
    figures["cuda_sim"] = d
    rows.append(
        [
            "CUDA tier under NUMBA_ENABLE_CUDASIM (no GPU)",
            f"{d['points']} pts in {d['seconds']:.2f} s",
            f"max |cuda - numpy| {d['max_abs_diff_m']:.1e} m",
            "",
            "simulator: correctness only",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller inputs (smoke run)")
    args = ap.parse_args(argv)
    frames = 1000 if args.quick else 10000
    rows: list[list[str]] = []
    ratios: dict[str, float] = {}
    figures: dict[str, Any] = {}
    triangulate_points(np.zeros((2, 1, 2)), np.ones((2, 1)), cameras(2)[0], tier="cpu")  # compile / load cache
    triangulate_points(np.zeros((2, 1, 2)), np.ones((2, 1)), cameras(2)[0], robust=True, refine_iters=1, tier="cpu")
    bench_dlt(frames, rows, ratios, figures)
    bench_robust(300 if args.quick else 2000, rows, ratios, figures)
    bench_association(20 if args.quick else 100, rows, ratios, figures)
    bench_scaling(args.quick, rows, figures)
    bench_cuda(rows, figures)
    head = ["case", "ours", "peers", "speed-up", "accuracy"]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(5)]
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    print(
        json.dumps(
            {
                **ratios,
                **figures,
                "numba_threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
                "quick": args.quick,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
