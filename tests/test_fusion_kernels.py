"""fusion.triangulate: numpy and Numba CPU tiers agree; robust mode, refinement, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from sensorfusion._kernels import kernel_names
from sensorfusion.fusion import TriangulationStatus, triangulate_dlt, triangulate_points
from sensorfusion.geometry import look_at


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
