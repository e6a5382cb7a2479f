"""Differentiable camera models and triangulation against the core's numpy reference
(``sensorfusion.geometry``, ``sensorfusion.fusion.triangulate_points``) on the same inputs, and
their gradients against finite differences."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from sensorfusion_selfsup.camera import (
    TorchCamera,
    TorchRig,
    nan_where_invalid,
    triangulate_dlt,
    triangulate_rays,
)

from sensorfusion import RigCalibration, SensorCalibration
from sensorfusion.fusion import triangulate_points
from sensorfusion.geometry import look_at, project, read_ocamcalib, unproject, world_to_pixels
from sensorfusion.schema import (
    DoubleSphereCamera,
    Fisheye624Camera,
    KannalaBrandtCamera,
    OmnidirectionalCamera,
    PinholeCamera,
)

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
OCAM = DATA / "fisheye" / "ocamcalib" / "calib_results.txt"

CAMERAS = {
    "pinhole": PinholeCamera(
        width=1280,
        height=720,
        fx=910.0,
        fy=905.5,
        cx=641.3,
        cy=358.2,
        k1=-0.28,
        k2=0.09,
        p1=0.0012,
        p2=-0.0007,
        k3=-0.012,
    ),
    "pinhole_rational": PinholeCamera(
        width=1920,
        height=1080,
        fx=1400.0,
        fy=1395.0,
        cx=955.0,
        cy=545.0,
        k1=0.35,
        k2=-0.12,
        p1=-0.0009,
        p2=0.0015,
        k3=0.02,
        k4=0.6,
        k5=-0.05,
        k6=0.01,
    ),
    "kannala_brandt": KannalaBrandtCamera(
        width=1280, height=1024, fx=420.0, fy=419.0, cx=640.5, cy=511.0, k1=0.042, k2=-0.011, k3=0.0023, k4=-0.0004
    ),
    "double_sphere": DoubleSphereCamera(
        width=1024, height=1024, fx=350.0, fy=349.0, cx=512.0, cy=511.0, xi=-0.21, alpha=0.59
    ),
    "omni_newton": OmnidirectionalCamera(
        width=1280,
        height=960,
        poly=(-300.0, 0.0, 1.1e-3, -4e-7, 1.5e-9),
        cx=642.0,
        cy=478.5,
        c=1.0002,
        d=0.0004,
        e=-0.0003,
    ),
    # Aria-like SLAM camera, tangential and thin-prism terms included
    "fisheye624": Fisheye624Camera.from_params(
        [
            241.2,
            318.6,
            237.9,
            0.398,
            -0.361,
            0.094,
            0.671,
            -0.844,
            0.249,
            6.8e-4,
            -3.1e-4,
            -1.2e-3,
            2.1e-4,
            9e-4,
            -1.5e-4,
        ],
        width=640,
        height=480,
    ),
}
MAX_ANGLE = {
    "pinhole": 0.6,
    "pinhole_rational": 0.6,
    "kannala_brandt": 1.4,
    "double_sphere": 1.5,
    "omni_newton": 1.5,
    "fisheye624": 0.8,  # beyond ~0.95 rad the core's Newton on theta (started at theta_d) can overshoot the fold
}
ARIA = DATA / "aria" / "mps_sample" / "online_calibration.jsonl"
if ARIA.exists():
    import json

    for cam in json.loads(ARIA.read_text().splitlines()[0])["CameraCalibrations"]:
        if cam["Label"] == "camera-slam-left":
            CAMERAS["fisheye624_aria_slam_left"] = Fisheye624Camera.from_params(
                cam["Projection"]["Params"], width=640, height=480
            )
            MAX_ANGLE["fisheye624_aria_slam_left"] = 1.0
if OCAM.exists():
    CAMERAS["omni_ocamcalib"] = read_ocamcalib(OCAM)
    MAX_ANGLE["omni_ocamcalib"] = 1.2
NAMES = list(CAMERAS)


def points_in_view(n: int, max_angle_rad: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ang = max_angle_rad * np.sqrt(rng.uniform(0, 1, n))
    az = rng.uniform(-np.pi, np.pi, n)
    dist = rng.uniform(0.3, 20.0, n)
    return np.stack([np.sin(ang) * np.cos(az), np.sin(ang) * np.sin(az), np.cos(ang)], -1) * dist[:, None]


AWKWARD = np.array(
    [
        [np.nan, 0.0, 1.0],
        [0.0, np.inf, 1.0],
        [0.0, 0.0, -np.inf],
        [0.0, 0.0, 0.0],  # the origin
        [0.0, 0.0, -2.0],  # straight behind
        [0.3, -0.2, -1.0],  # behind, off-axis
        [0.0, 0.0, 3.0],  # exactly on the optical axis
        [1e-9, -2e-9, 1.0],  # next to it
        [1.0, 0.0, 0.0],  # in the image plane
    ]
)


def _t(a: np.ndarray, dtype: torch.dtype = torch.float64, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=dtype, requires_grad=grad)


@pytest.mark.parametrize("name", NAMES)
def test_project_matches_numpy_reference(name: str) -> None:
    cam = CAMERAS[name]
    pts = np.concatenate([points_in_view(500, MAX_ANGLE[name], seed=NAMES.index(name)), AWKWARD])
    ref = project(cam, pts, tier="numpy")
    tc = TorchCamera.from_schema(cam)
    uv, ok = tc.project(_t(pts))
    got = nan_where_invalid(uv, ok).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-8)  # NaN where the reference has NaN
    assert ok[:500].all()
    # batched leading dimensions give the same numbers
    uv2, ok2 = tc.project(_t(pts[:500].reshape(5, 4, 25, 3)))
    assert uv2.shape == (5, 4, 25, 2) and ok2.shape == (5, 4, 25)
    np.testing.assert_allclose(uv2.reshape(-1, 2).numpy(), ref[:500], atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_unproject_matches_numpy_reference(name: str) -> None:
    cam = CAMERAS[name]
    pts = points_in_view(500, MAX_ANGLE[name], seed=1 + NAMES.index(name))
    px = np.concatenate([project(cam, pts, tier="numpy"), [[np.nan, 1.0], [np.inf, 2.0], [cam.cx, cam.cy]]])
    ref = unproject(cam, px, tier="numpy")
    rays, ok = TorchCamera.from_schema(cam).unproject(_t(px))
    np.testing.assert_allclose(nan_where_invalid(rays, ok).numpy(), ref, rtol=0, atol=1e-9)
    np.testing.assert_allclose(rays[:500].numpy(), pts / np.linalg.norm(pts, axis=-1, keepdims=True), atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_float32_agrees_with_float64(name: str) -> None:
    cam = CAMERAS[name]
    pts = points_in_view(300, MAX_ANGLE[name], seed=7)
    tc64 = TorchCamera.from_schema(cam)
    tc32 = TorchCamera.from_schema(cam, dtype=torch.float32)
    uv64, ok64 = tc64.project(_t(pts))
    uv32, ok32 = tc32.project(_t(pts, torch.float32))
    assert uv32.dtype == torch.float32 and ok32.all() and ok64.all()
    assert (uv32.double() - uv64).abs().max() < 0.02  # pixels
    rays32, okr = tc32.unproject(uv32)
    assert okr.all()
    sin_ang = torch.linalg.cross(
        torch.nn.functional.normalize(rays32.double(), dim=-1), torch.nn.functional.normalize(_t(pts), dim=-1)
    ).norm(dim=-1)
    assert sin_ang.max() < 2e-5  # radians


def _unit_scale(tc: TorchCamera) -> torch.Tensor:
    """Relative perturbations of the parameters (their scales span 1e-9 to 1e3)."""
    return torch.ones_like(tc.params).requires_grad_(True)


def _scaled(tc: TorchCamera, s: torch.Tensor) -> torch.Tensor:
    if tc.model == "scaramuzza":  # the polynomial lengths are integers, not parameters
        keep = torch.zeros_like(s, dtype=torch.bool)
        keep[5:7] = True
        s = torch.where(keep, torch.ones_like(s), s)
    return tc.params * s


@pytest.mark.parametrize("name", NAMES)
def test_project_gradients_match_finite_differences(name: str) -> None:
    cam = CAMERAS[name]
    tc = TorchCamera.from_schema(cam)
    pts = points_in_view(12, MAX_ANGLE[name], seed=11)
    # exactly on the optical axis and right next to it: the models' 0/0 points
    pts = np.concatenate([pts, [[0.0, 0.0, 2.0], [1e-7, -3e-7, 1.5]]])
    x = _t(pts, grad=True)
    assert torch.autograd.gradcheck(lambda p: tc.project(p)[0], (x,), eps=1e-7, atol=1e-5, rtol=1e-4)
    fn = tc.functions.project
    assert torch.autograd.gradcheck(lambda s: fn(_scaled(tc, s), _t(pts))[0], (_unit_scale(tc),), eps=1e-7, atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_unproject_gradients_match_finite_differences(name: str) -> None:
    cam = CAMERAS[name]
    tc = TorchCamera.from_schema(cam)
    pts = points_in_view(10, MAX_ANGLE[name], seed=13)
    px = np.concatenate([project(cam, pts, tier="numpy"), [[cam.cx + 0.3, cam.cy - 0.2]]])
    x = _t(px, grad=True)
    assert torch.autograd.gradcheck(lambda p: tc.unproject(p)[0], (x,), eps=1e-6, atol=1e-6, rtol=1e-4)
    fn = tc.functions.unproject
    assert torch.autograd.gradcheck(lambda s: fn(_scaled(tc, s), _t(px))[0], (_unit_scale(tc),), eps=1e-7, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_no_nan_gradient_anywhere(name: str, dtype: torch.dtype) -> None:
    """Invalid rows and the optical axis give finite values and finite gradients (masked loss)."""
    tc = TorchCamera.from_schema(CAMERAS[name], dtype=dtype)
    x = _t(AWKWARD, dtype, grad=True)
    uv, ok = tc.project(x)
    assert torch.isfinite(uv).all()
    torch.where(ok[:, None], uv, torch.zeros_like(uv)).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert ok[6] and ok[7]  # on and next to the axis are valid points
    px = _t(np.array([[np.nan, 0.0], [CAMERAS[name].cx, CAMERAS[name].cy], [1e12, -1e12]]), dtype, grad=True)
    rays, okr = tc.unproject(px)
    assert torch.isfinite(rays).all() and okr[1] and not okr[0]
    torch.where(okr[:, None], rays, torch.zeros_like(rays)).sum().backward()
    assert px.grad is not None and torch.isfinite(px.grad).all()


def test_unknown_model_and_bad_shapes_are_clear_errors() -> None:
    from sensorfusion import ConfigError
    from sensorfusion.geometry import ShapeError

    class Odd:
        model = "fisheye9000"
        width = height = 10

    with pytest.raises(ConfigError, match="fisheye9000"):
        TorchCamera.from_schema(Odd())
    tc = TorchCamera.from_schema(CAMERAS["pinhole"])
    with pytest.raises(ShapeError) as e:
        tc.project(torch.zeros(4, 2, dtype=torch.float64))
    assert e.value.expected_shape == "(*, 3)" and e.value.actual_shape == (4, 2)


# -- rigs and triangulation -------------------------------------------------------------------


IDEAL = PinholeCamera(width=1280, height=720, fx=1000.0, fy=1000.0, cx=640.0, cy=360.0)


def _rig(V: int, models: list[str] | None = None) -> RigCalibration:
    """``V`` cameras on a circle looking at the middle; ideal pinholes unless ``models`` names some."""
    sensors = {}
    for v in range(V):
        a = 2 * np.pi * v / V + 0.3
        pose = look_at(np.array([4.0 * np.cos(a), 4.0 * np.sin(a), 2.2 + 0.2 * v]), np.array([0.0, 0.0, 1.0]))
        cam = CAMERAS[models[v % len(models)]] if models else IDEAL
        sensors[f"cam{v}"] = SensorCalibration(camera=cam, world_from_sensor=pose)
    return RigCalibration(sensors=sensors)


def test_rig_projection_matches_world_to_pixels() -> None:
    cal = _rig(4, ["pinhole", "kannala_brandt", "double_sphere", "omni_newton"])
    rig = TorchRig.from_calibration(cal, sorted(cal.sensors))
    X = np.random.default_rng(0).uniform([-1, -1, 0], [1, 1, 2], (50, 3))
    uv, ok = rig.project(_t(X))
    assert uv.shape == (4, 50, 2) and ok.all()
    for v, s in enumerate(rig.sensors):
        ref = world_to_pixels(cal.camera(s), cal.sensors[s].world_from_sensor, X, tier="numpy")
        np.testing.assert_allclose(uv[v].numpy(), ref, atol=1e-8)
    d, okr = rig.rays(uv)
    assert okr.all()
    c = rig.centers_world()
    for v, s in enumerate(rig.sensors):
        np.testing.assert_allclose(c[v].numpy(), cal.sensors[s].world_from_sensor.translation_m, atol=1e-12)
    want = (X[None] - c.numpy()[:, None]) / np.linalg.norm(X[None] - c.numpy()[:, None], axis=-1, keepdims=True)
    np.testing.assert_allclose(d.numpy(), want, atol=1e-9)


def _scene(V: int, N: int, noise_px: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    cal = _rig(V)
    rig = TorchRig.from_calibration(cal, sorted(cal.sensors))
    P = rig.projection_matrices().numpy()
    rng = np.random.default_rng(seed)
    X = rng.uniform([-1, -1, 0], [1, 1, 2], (N, 3))
    Xh = np.concatenate([X, np.ones((N, 1))], -1)
    q = np.einsum("vij,nj->vni", P, Xh)
    uv = q[..., :2] / q[..., 2:] + rng.normal(0, noise_px, (V, N, 2))
    conf = rng.uniform(0.05, 1.0, (V, N))
    return X, uv, conf, P


def test_dlt_matches_core_triangulation_on_noisy_data() -> None:
    _, uv, conf, P = _scene(5, 400, noise_px=3.0, seed=1)
    conf[0, :50] = 0.0  # left out
    uv[1, 40:60] = np.nan  # missing
    conf[2:, 100:110] = 0.0  # only two views remain: still a point
    conf[1:, 110:120] = 0.0  # one view: invalid
    ref = triangulate_points(uv, conf, P, min_confidence=0.1, tier="numpy")
    got, ok = triangulate_dlt(_t(uv), _t(conf), _t(P), min_confidence=0.1)
    np.testing.assert_allclose(nan_where_invalid(got, ok).numpy(), ref.points3d, rtol=0, atol=1e-7)
    assert not ok[110:120].any() and ok[100:110].all()
    got32, ok32 = triangulate_dlt(
        _t(uv, torch.float32), _t(conf, torch.float32), _t(P, torch.float32), min_confidence=0.1
    )
    assert got32.dtype == torch.float32 and (ok32 == ok).all()
    assert np.nanmax(np.abs(nan_where_invalid(got32, ok32).numpy() - ref.points3d)) < 1e-4


def test_dlt_gradients_match_finite_differences() -> None:
    _, uv, conf, P = _scene(4, 6, noise_px=2.0, seed=2)
    a, b, c = _t(uv, grad=True), _t(conf, grad=True), _t(P, grad=True)
    assert torch.autograd.gradcheck(lambda u, w, p: triangulate_dlt(u, w, p)[0], (a, b, c), eps=1e-6, atol=1e-5)


def test_dlt_gradients_are_finite_for_invalid_and_symmetric_systems() -> None:
    _, uv, conf, P = _scene(3, 4, noise_px=0.0, seed=3)
    conf[1:, 0] = 0.0  # one view
    uv[:, 1] = np.nan  # nothing
    a, b = _t(uv, grad=True), _t(conf, grad=True)
    got, ok = triangulate_dlt(a, b, _t(P))
    assert ok.tolist() == [False, False, True, True]
    torch.where(ok[:, None], got, torch.zeros_like(got)).sum().backward()
    assert a.grad is not None and b.grad is not None
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
    # a matrix with two equal large eigenvalues: eigh's own backward would give NaN
    from sensorfusion_selfsup.camera._triangulate import _SmallestEigenvector

    M = torch.diag(torch.tensor([1e-3, 2.0, 5.0, 5.0], dtype=torch.float64))[None].requires_grad_(True)
    _SmallestEigenvector.apply(M)[0, 0].backward()
    assert M.grad is not None and torch.isfinite(M.grad).all()


def test_rays_agree_with_dlt_and_work_beyond_ninety_degrees() -> None:
    X, uv, conf, _ = _scene(4, 200, noise_px=0.0, seed=4)
    cal = _rig(4)
    rig = TorchRig.from_calibration(cal, sorted(cal.sensors))
    d, ok = rig.rays(_t(uv))
    Xr, okr = triangulate_rays(rig.centers_world(), d, _t(conf))
    assert okr.all() and ok.all()
    np.testing.assert_allclose(Xr.numpy(), X, atol=1e-9)
    # a fisheye seeing a point 100 degrees off its axis (no pinhole P exists for it)
    kb = CAMERAS["kannala_brandt"]
    fish = TorchCamera.from_schema(kb)
    pt_cam = np.array([[np.sin(1.75), 0.0, np.cos(1.75)]]) * 3.0
    uv_f, okf = fish.project(_t(pt_cam))
    ray, okr2 = fish.unproject(uv_f)
    assert okf.all() and okr2.all() and ray[0, 2] < 0
    origins = _t(np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    target = pt_cam[0]
    dirs = torch.stack([ray[0], torch.nn.functional.normalize(_t(target - np.array([0.0, 1.0, 0.0])), dim=0)])[:, None]
    Xf, okx = triangulate_rays(origins, dirs, torch.ones(2, 1, dtype=torch.float64))
    assert okx.all()
    np.testing.assert_allclose(Xf[0].numpy(), target, atol=1e-9)
    # parallel rays are invalid, with finite gradients
    dd = _t(np.array([[[0.0, 0.0, 1.0]], [[0.0, 0.0, 1.0]]]), grad=True)
    Xp, okp = triangulate_rays(origins, dd, torch.ones(2, 1, dtype=torch.float64))
    assert not okp.any()
    torch.where(okp[:, None], Xp, torch.zeros_like(Xp)).sum().backward()
    assert dd.grad is not None and torch.isfinite(dd.grad).all()


def test_rays_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(5)
    o = _t(rng.normal(size=(3, 3)), grad=True)
    d = _t(rng.normal(size=(3, 4, 3)), grad=True)
    w = _t(rng.uniform(0.2, 1.0, (3, 4)), grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: triangulate_rays(a, b, c)[0], (o, d, w), eps=1e-6, atol=1e-5)


def test_projection_matrices_need_pinhole() -> None:
    from sensorfusion import ConfigError

    cal = _rig(2, ["pinhole", "kannala_brandt"])
    with pytest.raises(ConfigError, match="cam1"):
        TorchRig.from_calibration(cal, ["cam0", "cam1"]).projection_matrices()
    with pytest.raises(ConfigError, match=r"calibration\.sensors\.nope\.camera"):
        TorchRig.from_calibration(cal, ["cam0", "nope"])
