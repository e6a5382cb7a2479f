"""The model's pieces: the spatio-temporal triangulation, the person frame, the corruption, and the
evidence through the SDK's kernel tiers (numpy, Numba CPU, Numba CUDA under the simulator)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sensorfusion_selfsup._augment import AugmentSettings, corrupt
from sensorfusion_selfsup._features import NUM_FEATURES, FeatureSettings, compute_features
from sensorfusion_selfsup._model import ModelConfig, SelfSupFusionModel, person_frames
from sensorfusion_selfsup._views import view_geometries
from sensorfusion_selfsup.camera import TorchRig, triangulate_rays

from sensorfusion import RigCalibration, SensorCalibration
from sensorfusion.geometry import look_at
from sensorfusion.schema import PinholeCamera

CAM = PinholeCamera(width=640, height=480, fx=500.0, fy=500.0, cx=320.0, cy=240.0)


def _cal(V: int) -> RigCalibration:
    s = {}
    for v in range(V):
        a = 2 * np.pi * v / V + 0.4
        s[f"cam{v}"] = SensorCalibration(
            camera=CAM,
            world_from_sensor=look_at(np.array([3.5 * np.cos(a), 3.5 * np.sin(a), 2.3]), np.array([0, 0, 1.0])),
        )
    return RigCalibration(sensors=s)


def _model(V: int, J: int, **kw: float) -> SelfSupFusionModel:
    torch.manual_seed(0)
    cfg = ModelConfig(num_views=V, num_joints=J, num_features=NUM_FEATURES, left_hip=0, right_hip=1, **kw)  # type: ignore[arg-type]
    return SelfSupFusionModel(cfg).double()


def _trajectory(L: int, J: int) -> np.ndarray:
    """Joints on exact quadratic trajectories (metres), ``(L, J, 3)``."""
    rng = np.random.default_rng(0)
    x0 = rng.uniform([-0.5, -0.5, 0.3], [0.5, 0.5, 1.7], (J, 3))
    v = rng.normal(0, 1.0, (J, 3))
    a = rng.normal(0, 3.0, (J, 3))
    t = np.arange(L)[:, None, None] / 30.0
    return x0[None] + v[None] * t + 0.5 * a[None] * t**2


def test_spatio_temporal_solve_recovers_a_joint_seen_by_one_camera() -> None:
    """On quadratic motion with exact rays, the solve is exact at every frame — also where a joint
    is seen by a single camera (two of three views lost: a "hard" joint), from its one ray and its
    neighbours in time; plain per-frame triangulation has nothing there."""
    V, J, L = 3, 4, 15
    cal = _cal(V)
    rig = TorchRig.from_calibration(cal, list(cal.sensors))
    X = _trajectory(L, J)
    uv, ok = rig.project(torch.as_tensor(X))
    assert ok.all()
    rays, _ = rig.rays(uv)
    rays = rays.permute(1, 0, 2, 3)[None]  # (1, L, V, J, 3)
    w = torch.ones(1, L, V, J, dtype=torch.float64)
    w[0, 7, 1:, 2] = 0.0  # frame 7, joint 2: only camera 0 sees it
    w[0, 3, :2, 1] = 0.0  # frame 3, joint 1: only camera 2
    centers = rig.centers_world()[None]
    depth = torch.linalg.vector_norm(torch.as_tensor(X).mean(1)[None, :, None, :] - centers[:, None], dim=-1)
    prior = torch.zeros(1, L, J, 3, dtype=torch.float64)
    model = _model(V, J, prior_weight=1e-12, ridge_velocity=1e-12, ridge_acceleration=1e-12)
    Xs, log_sigma = model._solve(w, rays, centers, depth, prior, torch.zeros(1, dtype=torch.bool))
    np.testing.assert_allclose(Xs[0].detach().numpy(), X, atol=1e-6)
    # the lone joints are less certain than their neighbours
    assert log_sigma[0, 7, 2] > log_sigma[0, 7, 0] and log_sigma[0, 3, 1] > log_sigma[0, 3, 0]
    # with the default (tiny) ridges, and a prior off by 10 cm, the bias stays under a millimetre
    near = torch.as_tensor(X)[None] + 0.1
    Xd, _ = _model(V, J)._solve(w, rays, centers, depth, near, torch.zeros(1, dtype=torch.bool))
    assert np.abs(Xd[0].detach().numpy() - X).max() < 1e-3
    # causal: no frame after t is used, yet still exact (extrapolating the fitted curve)
    Xc, _ = model._solve(w, rays, centers, depth, prior, torch.ones(1, dtype=torch.bool))
    np.testing.assert_allclose(Xc[0, 2:].detach().numpy(), X[2:], atol=1e-5)
    # a single frame with equal weights is the ray least squares of that frame
    one = _model(V, J, radius=0, prior_weight=1e-12)
    X1, _ = one._solve(w[:, 5:6], rays[:, 5:6], centers, depth[:, 5:6], prior[:, 5:6], torch.zeros(1, dtype=torch.bool))
    ref, _ = triangulate_rays(
        centers[0], rays[0, 5].permute(1, 0, 2).transpose(0, 1), 1 / depth[0, 5][:, None].expand(V, J) ** 2
    )
    np.testing.assert_allclose(X1[0, 0].detach().numpy(), ref.numpy(), atol=1e-6)


def test_solve_falls_back_to_the_prior_where_nothing_is_seen() -> None:
    V, J, L = 2, 2, 5
    cal = _cal(V)
    rig = TorchRig.from_calibration(cal, list(cal.sensors))
    rays = torch.zeros(1, L, V, J, 3, dtype=torch.float64)
    rays[..., 2] = 1.0
    w = torch.zeros(1, L, V, J, dtype=torch.float64)
    prior = torch.full((1, L, J, 3), 0.25, dtype=torch.float64)
    depth = torch.full((1, L, V), 3.0, dtype=torch.float64)
    X, _ = _model(V, J)._solve(w, rays, rig.centers_world()[None], depth, prior, torch.zeros(1, dtype=torch.bool))
    np.testing.assert_allclose(X.detach().numpy(), 0.25, atol=1e-9)


def test_gradients_flow_to_every_parameter_and_stay_finite() -> None:
    V, J, L = 3, 5, 10
    cal = _cal(V)
    rig = TorchRig.from_calibration(cal, list(cal.sensors))
    X = _trajectory(L, J)
    uv, _ = rig.project(torch.as_tensor(X))
    rays, _ = rig.rays(uv)
    model = _model(V, J)
    feats = torch.rand(1, L, V, J, NUM_FEATURES, dtype=torch.float64)
    present = torch.ones(1, L, V, J, dtype=torch.bool)
    present[0, :, 1:, 3] = False  # a joint seen by one camera all along
    present[0, 4] = False  # a frame nobody saw
    out = model(
        features=feats, present=present, rays=rays.permute(1, 0, 2, 3)[None], centers=rig.centers_world()[None],
        depth_m=torch.full((1, L, V), 3.5, dtype=torch.float64), prior=torch.as_tensor(X)[None],
        up=torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64), causal=torch.zeros(1, dtype=torch.bool),
    )  # fmt: skip
    loss = (out.joints - torch.as_tensor(X)[None]).square().sum()
    loss.backward()  # type: ignore[no-untyped-call]
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert float(model.kernel_raw.grad.abs().sum()) > 0  # type: ignore[union-attr]


def test_person_frames_are_rotations_with_up_as_z() -> None:
    X = torch.randn(2, 6, 4, 3, dtype=torch.float64)
    up = torch.nn.functional.normalize(torch.randn(2, 3, dtype=torch.float64), dim=-1)
    R = person_frames(X, up, 0, 1)
    eye = torch.eye(3, dtype=torch.float64)
    torch.testing.assert_close(R @ R.transpose(-1, -2), eye.expand_as(R), atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(2, 6, dtype=torch.float64))
    torch.testing.assert_close(R[..., 2, :], up[:, None].expand(2, 6, 3))
    X[0, 2, 1] = X[0, 2, 0]  # hips on top of each other: still a rotation
    R2 = person_frames(X, up, 0, 1)
    assert torch.isfinite(R2).all()


def test_corruption_marks_every_change_and_is_reproducible() -> None:
    rng = np.random.default_rng(1)
    kp = np.concatenate([rng.uniform(0, 600, (30, 3, 17, 2)), rng.uniform(0.5, 1, (30, 3, 17, 1))], -1)
    mirror = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    bones = [(5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16)]
    s = AugmentSettings(occlusion_runs_per_view=3, swap_prob=0.5, drop_view_prob=0.5, confidence_jitter=0.0)
    a, ch = corrupt(kp, np.random.default_rng(7), focal_scale=np.full(3, 0.5), mirror=mirror, bones=bones, settings=s)
    b, _ = corrupt(kp, np.random.default_rng(7), focal_scale=np.full(3, 0.5), mirror=mirror, bones=bones, settings=s)
    np.testing.assert_array_equal(a, b)
    diff = ~((a == kp) | (np.isnan(a) & np.isnan(kp))).all(-1)
    assert diff.any() and not (diff & ~ch).any()  # nothing changed without being marked
    assert (np.isnan(a[..., 0]) == (a[..., 2] == 0)).all()  # misses are NaN with confidence 0
    assert kp.shape == a.shape and np.isfinite(kp).all()  # the input is untouched


TIER_SCRIPT = r"""
import numpy as np, torch
from sensorfusion import RigCalibration, SensorCalibration
from sensorfusion.geometry import look_at
from sensorfusion.schema import PinholeCamera
from sensorfusion_selfsup._features import FeatureSettings, compute_features
from sensorfusion_selfsup._views import view_geometries
cam = PinholeCamera(width=640, height=480, fx=500.0, fy=500.0, cx=320.0, cy=240.0)
cal = RigCalibration(sensors={f"cam{v}": SensorCalibration(camera=cam, world_from_sensor=look_at(
    np.array([3.5 * np.cos(2.1 * v), 3.5 * np.sin(2.1 * v), 2.3]), np.array([0, 0, 1.0]))) for v in range(3)})
geoms = view_geometries(cal, ["cam0", "cam1", "cam2"])
rng = np.random.default_rng(2)
X = rng.uniform([-0.4, -0.4, 0.2], [0.4, 0.4, 1.8], (1, 4, 5, 3))
P = np.stack([g.P for g in geoms])
q = np.einsum("vij,nlkj->nlvki", P, np.concatenate([X, np.ones((1, 4, 5, 1))], -1))
kp = np.concatenate([q[..., :2] / q[..., 2:] + rng.normal(0, 1.5, (1, 4, 3, 5, 2)), rng.uniform(0.4, 1, (1, 4, 3, 5, 1))], -1)
kp[0, 1, 0, 2, :2] += 80.0
kp[0, 2, 1:, 3] = np.nan
kp[0, 2, 1:, 3, 2] = 0.0
out = {}
for tier in TIERS:
    f = compute_features(kp, geoms, FeatureSettings(tier=tier))
    out[tier] = f
ref = out["numpy"]
for tier, f in out.items():
    np.testing.assert_allclose(f.consensus, ref.consensus, atol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(f.inlier, ref.inlier)
    np.testing.assert_allclose(f.features, ref.features, atol=1e-5)
print("TIERS-OK", sorted(out))
"""


def test_evidence_is_the_same_through_numpy_and_cpu_tiers() -> None:
    ns: dict[str, object] = {"TIERS": ("numpy", "cpu")}
    exec(compile(TIER_SCRIPT, "tiers", "exec"), ns)


def test_evidence_through_the_cuda_tier_under_the_simulator() -> None:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    script = "TIERS = ('numpy', 'cuda')\n" + TIER_SCRIPT
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600,
                       cwd=Path(__file__).parent)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "TIERS-OK ['cuda', 'numpy']" in r.stdout


def test_features_describe_outliers() -> None:
    cal = _cal(4)
    geoms = view_geometries(cal, list(cal.sensors))
    X = _trajectory(12, 6)[None]
    P = np.stack([g.P for g in geoms])
    q = np.einsum("vij,nlkj->nlvki", P, np.concatenate([X, np.ones((*X.shape[:-1], 1))], -1))
    kp = np.concatenate([q[..., :2] / q[..., 2:], np.full((*q.shape[:-1], 1), 0.9)], -1)
    kp[0, 6, 1, 2, :2] += 90.0  # one outlier observation
    f = compute_features(kp, geoms, FeatureSettings(tier="numpy"))
    assert f.features.shape == (1, 12, 4, 6, NUM_FEATURES)
    assert not f.inlier[0, 6, 1, 2] and f.inlier[0, 6, 0, 2]
    assert f.features[0, 6, 1, 2, 2] > 1.0 > f.features[0, 6, 0, 2, 2]  # its reprojection error stands out
    assert f.features[0, 6, 1, 2, 5] > 1.0  # and its jump against its own view's neighbours
    np.testing.assert_allclose(f.consensus[0, 6, 2], X[0, 6, 2], atol=1e-6)  # the SDK rejected it
    assert pytest.approx(0.9) == float(f.features[0, 0, 0, 0, 0])
