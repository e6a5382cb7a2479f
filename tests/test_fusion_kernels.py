"""fusion.triangulate: the tiers agree (tier contract); robust mode, refinement, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import sensorfusion
from sensorfusion.fusion import TriangulationStatus, triangulate_dlt, triangulate_points
from sensorfusion.geometry import look_at
from sensorfusion.kernels import kernel_names
from sensorfusion.testing import KernelCase, KernelTierContract


def ring_projections(V: int, radius_m: float = 4.0, f_px: float = 800.0) -> np.ndarray:
    K = np.array([[f_px, 0, 320.0], [0, f_px, 240.0], [0, 0, 1]])
    out = []
    for i in range(V):
        a = 2 * np.pi * i / V
        T = look_at(
            np.array([radius_m * np.cos(a), radius_m * np.sin(a), 2.0 + 0.3 * (i % 2)]), np.array([0.0, 0.0, 1.0])
        )
        out.append(K @ np.linalg.inv(T.matrix)[:3])
    return np.stack(out)


def project(P: np.ndarray, X: np.ndarray) -> np.ndarray:
    q = np.einsum("vij,...j->v...i", P, np.concatenate([X, np.ones((*X.shape[:-1], 1))], -1))
    return q[..., :2] / q[..., 2:]


def scene(V: int = 8, N: int = 500, noise_px: float = 1.0, outlier_frac: float = 0.1, seed: int = 0):
    rng = np.random.default_rng(seed)
    P = ring_projections(V)
    X = rng.uniform(-0.8, 0.8, (N, 3)) + np.array([0, 0, 1.0])
    uv = project(P, X) + rng.normal(0, noise_px, (V, N, 2))
    conf = rng.uniform(0.4, 1.0, (V, N))
    out = rng.random((V, N)) < outlier_frac
    uv[out] += rng.uniform(40, 120, (int(out.sum()), 2)) * rng.choice([-1, 1], (int(out.sum()), 2))
    return P, X, uv, conf, out


def test_kernel_registered_in_three_tiers() -> None:
    assert kernel_names()["fusion.triangulate"] == ["cpu", "cuda", "numpy"]


@pytest.mark.parametrize("robust", [False, True])
@pytest.mark.parametrize("refine", [0, 3])
def test_numpy_and_cpu_tiers_agree(robust: bool, refine: int) -> None:
    P, _, uv, conf, _ = scene(N=400)
    uv[0, :7] = np.nan
    conf[2, 7:12] = 0.0
    a = triangulate_points(uv, conf, P, robust=robust, refine_iters=refine, tier="numpy")
    b = triangulate_points(uv, conf, P, robust=robust, refine_iters=refine, tier="cpu")
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.inliers, b.inliers)
    np.testing.assert_allclose(a.points3d, b.points3d, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(a.reprojection_error_px, b.reprojection_error_px, atol=1e-6, equal_nan=True)


def test_weighted_dlt_is_exact_without_noise_and_matches_reference() -> None:
    P, X, uv, conf, _ = scene(N=50, noise_px=0.0, outlier_frac=0.0)
    r = triangulate_points(uv, conf, P, tier="cpu")
    np.testing.assert_allclose(r.points3d, X, atol=1e-9)
    assert (r.status == 0).all() and r.inliers.all()
    assert np.nanmax(r.reprojection_error_px) < 1e-6
    ref, used = triangulate_dlt(uv, conf, P)
    np.testing.assert_allclose(ref, X, atol=1e-9)
    assert (used == 8).all()


def test_batch_shapes_are_kept() -> None:
    P, _, uv, conf, _ = scene(V=4, N=2 * 3 * 5, outlier_frac=0.0)
    r = triangulate_points(uv.reshape(4, 2, 3, 5, 2), conf.reshape(4, 2, 3, 5), P, tier="cpu")
    assert r.points3d.shape == (2, 3, 5, 3)
    assert r.reprojection_error_px.shape == r.inliers.shape == (4, 2, 3, 5)
    assert r.status.shape == (2, 3, 5)
    assert r.views_used.shape == (2, 3, 5)


def test_robust_rejects_outlier_views_and_refinement_helps() -> None:
    P, X, uv, conf, out = scene(N=600, outlier_frac=0.1, seed=3)
    plain = triangulate_points(uv, conf, P, tier="cpu")
    robust = triangulate_points(uv, conf, P, robust=True, threshold_px=10.0, tier="cpu")
    refined = triangulate_points(uv, conf, P, robust=True, threshold_px=10.0, refine_iters=3, tier="cpu")
    e_plain = np.linalg.norm(plain.points3d - X, axis=-1)
    e_rob = np.linalg.norm(robust.points3d - X, axis=-1)
    e_ref = np.linalg.norm(refined.points3d - X, axis=-1)
    assert np.nanmean(e_rob) < 0.2 * np.nanmean(e_plain)
    assert np.nanmean(e_rob) < 0.005  # 5 mm at 1 px noise, 4 m away
    # the rejected views are the corrupted ones
    rejected = ~robust.inliers
    assert (rejected == out).mean() > 0.99
    assert ((robust.status & TriangulationStatus.OUTLIERS_REJECTED) != 0).sum() == (out.sum(0) > 0).sum()

    # Gauss-Newton lowers the weighted reprojection error it minimises
    def cost(r):
        e = np.where(r.inliers, r.reprojection_error_px, 0.0)
        return float((conf**2 * e**2).sum())

    assert cost(refined) < cost(robust)
    assert np.nanmean(e_ref) <= np.nanmean(e_rob) * 1.02


@pytest.mark.parametrize("tier", ["numpy", "cpu"])
def test_bad_input_gives_nan_and_flags_never_raises(tier: str) -> None:
    P = ring_projections(4)
    X = np.array([[0.1, 0.2, 1.0]] * 7)
    uv = project(P, X)
    conf = np.ones((4, 7))
    uv[1:, 0] = np.nan  # one view left
    conf[:, 1] = 0.0  # zero confidence everywhere
    conf[:3, 2] = np.nan
    uv[:3, 3] = np.inf
    conf[0, 4] = np.inf  # one bad weight: still three views
    uv[:, 5] = uv[0, 5]  # inconsistent rays: point behind cameras / nonsense, must not raise
    r = triangulate_points(uv, conf, P, robust=True, refine_iters=2, tier=tier)
    assert (r.status[:4] == TriangulationStatus.FEW_VIEWS).all()
    assert np.isnan(r.points3d[:4]).all() and not r.inliers[:, :4].any()
    assert r.status[4] in (0, TriangulationStatus.OUTLIERS_REJECTED) and np.allclose(r.points3d[4], X[4], atol=1e-6)
    assert r.status[6] == 0 and np.allclose(r.points3d[6], X[6], atol=1e-6)
    # coincident cameras: degenerate geometry
    Pd = np.stack([P[0]] * 3)
    rd = triangulate_points(np.repeat(uv[:1, 6:7], 3, axis=0), np.ones((3, 1)), Pd, tier=tier)
    assert rd.status[0] == TriangulationStatus.DEGENERATE and np.isnan(rd.points3d).all()
    # non-finite camera matrix: that view is unusable
    Pn = P.copy()
    Pn[0, 0, 0] = np.nan
    rn = triangulate_points(uv[:, 6:7], conf[:, 6:7], Pn, tier=tier)
    assert rn.status[0] == 0 and not rn.inliers[0, 0] and np.isnan(rn.reprojection_error_px[0, 0])
    # empty batch
    re = triangulate_points(np.zeros((4, 0, 2)), np.zeros((4, 0)), P, tier=tier)
    assert re.points3d.shape == (0, 3)


def test_no_consensus_is_flagged() -> None:
    P = ring_projections(4)
    X = np.array([[0.0, 0.0, 1.0]])
    uv = project(P, X)
    rng = np.random.default_rng(1)
    uv = uv + rng.uniform(-200, 200, uv.shape)  # every view wrong by a different amount
    for tier in ("numpy", "cpu"):
        r = triangulate_points(uv, np.ones((4, 1)), P, robust=True, threshold_px=2.0, min_views=3, tier=tier)
        assert r.status[0] == TriangulationStatus.NO_CONSENSUS and np.isnan(r.points3d[0]).all()
        assert np.isinf(r.reprojection_error_px[:, 0]).all()


def test_shape_errors_raise_value_error() -> None:
    P = ring_projections(3)
    with pytest.raises(ValueError, match="confidence"):
        triangulate_points(np.zeros((3, 5, 2)), np.zeros((3, 4)), P)
    with pytest.raises(ValueError, match="projections"):
        triangulate_points(np.zeros((3, 5, 2)), np.zeros((3, 5)), P[:2])


def test_wrong_shapes_raise_the_sdks_shape_error() -> None:
    """Issue 12.6: the SDK's ShapeError (a SchemaError, still a ValueError) with expected and actual."""
    from sensorfusion import SchemaError
    from sensorfusion.fusion import triangulate_points
    from sensorfusion.geometry import ShapeError

    P = np.zeros((2, 3, 4))
    with pytest.raises(ShapeError) as info:
        triangulate_points(np.zeros((2, 5, 3)), np.ones((2, 5)), P, tier="numpy")
    assert info.value.expected_shape == "(V, *, 2)" and info.value.actual_shape == (2, 5, 3)
    with pytest.raises(SchemaError, match=r"confidence: expected shape \(V, \*\) = \(2, 5\), got \(2, 4\)"):
        triangulate_points(np.zeros((2, 5, 2)), np.ones((2, 4)), P, tier="numpy")
    with pytest.raises(ShapeError, match="projections"):
        triangulate_points(np.zeros((2, 5, 2)), np.ones((2, 5)), np.zeros((3, 3, 4)), tier="numpy")


class TestTriangulateTiers(KernelTierContract):
    """fusion.triangulate: numpy, cpu and cuda on the same inputs (bad numbers included)."""

    kernels = ("fusion.triangulate",)
    atol = 1e-6

    def cases(self) -> list[KernelCase]:
        out = []
        for V, N, seed in ((5, 12, 5), (8, 300, 1)):
            P, _, uv, conf, _ = scene(V=V, N=N, outlier_frac=0.15, seed=seed)
            uv[0, 0] = np.nan
            conf[:, 1] = 0.0
            conf[1, 2] = np.inf
            uv[:3, 3] = np.inf
            P_bad = P.copy()
            P_bad[2, 0, 0] = np.nan  # a camera with a broken matrix is left out, not fatal
            small = V == 5
            for robust, iters in ((False, 0), (True, 2)):
                for proj in (P, P_bad):
                    args = (uv, conf, proj, 0.0, 2, robust, 10.0, iters)
                    out.append(KernelCase("fusion.triangulate", args, f"V={V} robust={robust}", simulate=small))
        P = ring_projections(3)
        out.append(KernelCase("fusion.triangulate", (np.zeros((3, 0, 2)), np.zeros((3, 0)), P, 0.0, 2, True, 10.0, 1)))
        return out

    def bad_calls(self) -> list[tuple[object, type[BaseException], str]]:
        P = ring_projections(3)
        return [
            (
                lambda: triangulate_points(np.zeros((3, 4, 3)), np.ones((3, 4)), P),
                ValueError,
                r"points2d: expected shape",
            ),
            (
                lambda: triangulate_points(np.zeros((3, 4, 2)), np.ones((3, 5)), P),
                ValueError,
                r"confidence: expected shape",
            ),
        ]


BUILD_WITH_70_VIEWS = r"""
import numpy as np
from sensorfusion import ConfigError, FieldSpec, FrameKind, RigCalibration, SensorCalibration, StageContext, StreamSpec
from sensorfusion._builtin.fusion import DltParams, DltTriangulator, MultiPersonFusion
from sensorfusion.geometry import look_at
from sensorfusion.schema import PinholeCamera, SkeletonRegistry, builtin_skeletons

V = 70
cam = PinholeCamera(width=640, height=480, fx=500, fy=500, cx=320, cy=240)
poses = [look_at(np.array([4 * np.cos(a), 4 * np.sin(a), 2.0]), np.zeros(3)) for a in np.linspace(0, 6.2, V)]
cal = RigCalibration(sensors={f"c{i}": SensorCalibration(camera=cam, world_from_sensor=p) for i, p in enumerate(poses)})
specs = [StreamSpec(name=f"c{i}/keypoints2d", kind=FrameKind.KEYPOINTS2D, ragged=True, skeleton="coco17",
                    fields={"keypoints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")})
         for i in range(V)]
ctx = StageContext("fusion", specs, cal, SkeletonRegistry(builtin_skeletons()), config_path="stages[1]")
for build in (lambda: DltTriangulator(DltParams(tier="cuda"), ctx),
              lambda: MultiPersonFusion(MultiPersonFusion.Params.model_validate({"tier": "cuda"}), ctx)):
    try:
        build()
    except ConfigError as e:
        print("REFUSED", e)
    else:
        print("BUILT")
DltTriangulator(DltParams(tier="cpu"), ctx)  # the cpu tier holds any number of views
print("CPU OK")
"""


def test_cuda_view_limit_is_refused_when_the_estimator_is_built() -> None:
    """Regression (12.6): 70 views on the cuda tier failed at the first frame (a ValueError in the
    middle of a run); now the estimators refuse them at build, naming the parameter."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    env.pop("SENSORFUSION_KERNEL_TIER", None)
    r = subprocess.run(
        [sys.executable, "-c", BUILD_WITH_70_VIEWS], env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    refused = [ln for ln in r.stdout.splitlines() if ln.startswith("REFUSED")]
    assert len(refused) == 2, r.stdout
    for ln in refused:
        assert "stages[1].params.tier" in ln and "holds at most 64 views, got 70" in ln, ln
        assert "valid choices: cpu, numpy" in ln, ln
    assert "CPU OK" in r.stdout


def test_auto_tier_runs_many_views_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a GPU, ``auto`` picks cuda, but falls back to cpu for more views than cuda holds."""
    from sensorfusion.kernels import _registry, check_limits

    monkeypatch.setattr(_registry, "real_gpu", lambda: True)
    monkeypatch.setattr(_registry, "cuda_available", lambda: True)
    monkeypatch.delenv("SENSORFUSION_KERNEL_TIER", raising=False)
    assert check_limits("fusion.triangulate", "auto", views=8) == "cuda"
    assert check_limits("fusion.triangulate", "auto", views=65) == "cpu"
    with pytest.raises(sensorfusion.ConfigError, match="holds at most 64 views, got 65"):
        check_limits("fusion.triangulate", "cuda", views=65)
    P, _, uv, conf, _ = scene(V=65, N=20, outlier_frac=0.0)
    r = triangulate_points(uv, conf, P, tier="auto")  # runs (on the cpu), no GPU needed
    assert np.isfinite(r.points3d).all()


def test_one_dlt_the_two_implementations_agree_on_noisy_input() -> None:
    """Regression (12.6): triangulate_dlt (rows scaled to unit norm) and fusion.triangulate
    (unscaled rows) disagreed by up to 4.4 mm at 1 px noise; there is now one DLT."""
    rng = np.random.default_rng(7)
    V, N = 6, 400
    P = []
    for i in range(V):  # mixed lenses and distances: where the two estimators differed most
        f = rng.uniform(400, 2000)
        K = np.array([[f, 0, 320], [0, f, 240], [0, 0, 1.0]])
        r = rng.uniform(2, 8)
        a = 2 * np.pi * i / V
        T = look_at(np.array([r * np.cos(a), r * np.sin(a), 1.5]), np.array([0, 0, 1.0]))
        P.append(K @ np.linalg.inv(T.matrix)[:3])
    P = np.stack(P)
    X = rng.uniform(-0.8, 0.8, (N, 3)) + np.array([0, 0, 1.0])
    uv = project(P, X) + rng.normal(0, 1.0, (V, N, 2))
    conf = rng.uniform(0.4, 1.0, (V, N))
    uv[0, :5] = np.nan
    conf[1:, 5] = 0.0  # one view left: NaN, 1 usable view
    ref, used = triangulate_dlt(uv, conf, P)
    for tier in ("numpy", "cpu"):
        got = triangulate_points(uv, conf, P, tier=tier)
        np.testing.assert_allclose(ref, got.points3d, rtol=0, atol=1e-9, equal_nan=True)
    assert used[0] == V - 1 and used[5] == 1 and np.isnan(ref[5]).all()
    # the one that stayed is the better estimator here: each view's focal length is its weight
    scaled = _row_normalised_dlt(uv, conf, P)
    e_kept = np.nanmean(np.linalg.norm(ref - X, axis=-1))
    e_scaled = np.nanmean(np.linalg.norm(scaled - X, axis=-1))
    assert e_kept < e_scaled


def _row_normalised_dlt(uv: np.ndarray, conf: np.ndarray, P: np.ndarray) -> np.ndarray:
    """The retired estimator, written out: DLT rows scaled to unit norm, then by the confidence."""
    out = np.full((uv.shape[1], 3), np.nan)
    for n in range(uv.shape[1]):
        rows = []
        for v in range(uv.shape[0]):
            if np.isfinite(uv[v, n]).all() and conf[v, n] > 0:
                for k in range(2):
                    row = uv[v, n, k] * P[v, 2] - P[v, k]
                    rows.append(row / np.linalg.norm(row) * conf[v, n])
        if len(rows) >= 4:
            x = np.linalg.svd(np.array(rows))[2][-1]
            out[n] = x[:3] / x[3]
    return out
