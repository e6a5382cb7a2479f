"""Fisheye624 (Project Aria): against Aria's equations written out plainly here, on the real
calibrations of an Aria recording, over the whole valid image, and against projectaria-tools."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from sensorfusion import geometry as g
from sensorfusion.schema import Fisheye624Camera

ARIA_CALIB = (
    Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    / "aria"
    / "mps_sample"
    / "online_calibration.jsonl"
)
# image sizes of Aria (gen 1) cameras: the SLAM pair and the RGB camera at full resolution
ARIA_SIZES = {"camera-slam-left": (640, 480), "camera-slam-right": (640, 480), "camera-rgb": (2880, 2880)}
TIERS = ("numpy", "cpu")


def aria_distort(params: list[float], th: float, az: float) -> tuple[float, float]:
    """Pixel of the direction ``th`` from the optical axis at azimuth ``az``, term by term."""
    f, cu, cv = params[0], params[1], params[2]
    k = params[3:9]
    p0, p1 = params[9], params[10]
    s0, s1, s2, s3 = params[11:15]
    thd = th * (1 + sum(k[i] * th ** (2 * i + 2) for i in range(6)))
    xr, yr = thd * math.cos(az), thd * math.sin(az)
    rd2 = xr * xr + yr * yr
    up = xr + (2 * xr * xr + rd2) * p0 + 2 * xr * yr * p1 + s0 * rd2 + s1 * rd2 * rd2
    vp = yr + (2 * yr * yr + rd2) * p1 + 2 * xr * yr * p0 + s2 * rd2 + s3 * rd2 * rd2
    return f * up + cu, f * vp + cv


def aria_project(params: list[float], x: float, y: float, z: float) -> tuple[float, float]:
    """Fisheye624 as Aria writes it (z > 0: a = x/z, b = y/z, θ = atan r): the independent reference."""
    a, b = x / z, y / z
    r = math.sqrt(a * a + b * b)
    return aria_distort(params, math.atan(r), math.atan2(b, a))


def aria_cameras() -> dict[str, Fisheye624Camera]:
    """The three cameras of the first record of ``online_calibration.jsonl``, read as plain JSON."""
    if not ARIA_CALIB.is_file():
        pytest.skip(f"Aria sample data not found at {ARIA_CALIB}")
    record = json.loads(ARIA_CALIB.read_text().splitlines()[0])
    out = {}
    for cam in record["CameraCalibrations"]:
        assert cam["Projection"]["Name"] == "FisheyeRadTanThinPrism"
        w, h = ARIA_SIZES[cam["Label"]]
        out[cam["Label"]] = Fisheye624Camera.from_params(cam["Projection"]["Params"], width=w, height=h)
    return out


def directions(n: int, max_angle_rad: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ang = max_angle_rad * np.sqrt(rng.uniform(0, 1, n))
    az = rng.uniform(-np.pi, np.pi, n)
    return np.stack([np.sin(ang) * np.cos(az), np.sin(ang) * np.sin(az), np.cos(ang)], -1) * rng.uniform(
        0.2, 30, (n, 1)
    )


def image_grid(cam: Fisheye624Camera, step_px: float) -> np.ndarray:
    """Pixels over the whole image, its border included."""
    u = np.append(np.arange(0.0, cam.width, step_px), cam.width - 1.0)
    v = np.append(np.arange(0.0, cam.height, step_px), cam.height - 1.0)
    uu, vv = np.meshgrid(u, v)
    return np.stack([uu.ravel(), vv.ravel()], -1)


def rim_radius_px(cam: Fisheye624Camera, azimuth_rad: np.ndarray) -> np.ndarray:
    """Image radius (from the principal point) where the radial polynomial folds (dθd/dθ = 0),
    per image azimuth, from the plain equations."""
    params = list(cam.params)
    k = params[3:9]
    th = np.linspace(0, np.pi, 400001)
    dthd = 1 + sum((2 * i + 3) * k[i] * th ** (2 * i + 2) for i in range(6))
    th_max = th[np.flatnonzero(dthd <= 0)[0] - 1] if (dthd <= 0).any() else np.pi - 1e-6
    az = np.linspace(-np.pi, np.pi, 3601)
    uv = np.array([aria_distort(params, th_max, a) for a in az])
    img_az = np.arctan2(uv[:, 1] - cam.cv, uv[:, 0] - cam.cu)
    radius = np.hypot(uv[:, 0] - cam.cu, uv[:, 1] - cam.cv)
    order = np.argsort(img_az)
    return np.interp(azimuth_rad, img_az[order], radius[order], period=2 * np.pi)


# -- the equations ------------------------------------------------------------------------------


@pytest.mark.parametrize("tier", TIERS)
def test_projection_matches_arias_equations(tier: str) -> None:
    cam = Fisheye624Camera.from_params(
        [
            300.0,
            330.5,
            250.25,
            -0.03,
            0.1,
            -0.07,
            0.012,
            0.0015,
            -0.0005,
            0.004,
            -0.003,
            -0.006,
            0.0008,
            0.005,
            -0.0004,
        ],
        width=640,
        height=480,
    )
    pts = directions(500, 1.45, seed=1)  # up to 83° from the axis, z > 0
    ref = np.array([aria_project(list(cam.params), *p) for p in pts])
    got = g.project(cam, pts, tier=tier)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)
    # every term matters: dropping the thin-prism terms moves pixels by more than the tolerance
    plain = cam.model_copy(update={"s0": 0.0, "s1": 0.0, "s2": 0.0, "s3": 0.0})
    assert np.abs(g.project(plain, pts, tier=tier) - ref).max() > 0.1


@pytest.mark.parametrize("tier", TIERS)
def test_real_aria_calibrations_match_the_equations(tier: str) -> None:
    for label, cam in aria_cameras().items():
        max_angle = 1.3 if label != "camera-rgb" else 0.95
        pts = directions(400, max_angle, seed=2)
        ref = np.array([aria_project(list(cam.params), *p) for p in pts])
        np.testing.assert_allclose(g.project(cam, pts, tier=tier), ref, rtol=0, atol=1e-6, err_msg=label)


@pytest.mark.parametrize("tier", TIERS)
def test_whole_image_round_trips_up_to_the_rim(tier: str) -> None:
    for label, cam in aria_cameras().items():
        px = image_grid(cam, 4.0 if label != "camera-rgb" else 24.0)
        rays = g.unproject(cam, px, tier=tier)
        valid = np.isfinite(rays).all(-1)
        back = g.project(cam, rays, tier=tier)
        err = np.linalg.norm(back[valid] - px[valid], axis=-1)
        assert err.max() <= 1e-6, (label, err.max())
        np.testing.assert_allclose(np.linalg.norm(rays[valid], axis=-1), 1.0, atol=1e-12)
        # the rays really are the directions Aria's equations send to these pixels
        front = valid & (rays[:, 2] > 1e-3)
        ref = np.array([aria_project(list(cam.params), *r) for r in rays[front]])
        np.testing.assert_allclose(ref, px[front], rtol=0, atol=1e-6)
        # valid everywhere inside the fold of the radial polynomial, NaN only beyond it
        radius = np.hypot(px[:, 0] - cam.cu, px[:, 1] - cam.cv)
        azimuth = np.arctan2(px[:, 1] - cam.cv, px[:, 0] - cam.cu)
        if label == "camera-rgb":
            assert valid.all()  # no fold within the RGB camera's image
            continue
        rim_here = rim_radius_px(cam, azimuth)
        assert valid[radius < rim_here - 0.01].all(), label
        assert not valid[radius > rim_here + 0.01].any(), label
        assert valid.mean() > 0.99  # only the image corners lie beyond the SLAM cameras' rim
        # the rim itself: pixels within 0.05 px inside it still unproject and round-trip
        az = np.linspace(-np.pi, np.pi, 360, endpoint=False)
        r_in = rim_radius_px(cam, az) - 0.05
        rim_px = np.stack([cam.cu + r_in * np.cos(az), cam.cv + r_in * np.sin(az)], -1)
        rim_rays = g.unproject(cam, rim_px, tier=tier)
        assert np.isfinite(rim_rays).all(), label
        assert np.abs(g.project(cam, rim_rays, tier=tier) - rim_px).max() <= 1e-6, label
        assert np.degrees(np.arccos(rim_rays[:, 2])).min() > 100.0  # the SLAM cameras see past 90°


@pytest.mark.parametrize("tier", TIERS)
def test_jacobian_of_real_calibration_matches_central_differences(tier: str) -> None:
    for cam in aria_cameras().values():
        pts = directions(300, 1.2, seed=7)
        _, jac = g.project_with_jacobian(cam, pts, tier=tier)
        num = np.empty_like(jac)
        for k in range(3):
            h = 1e-6 * np.linalg.norm(pts, axis=-1)
            dp = np.zeros_like(pts)
            dp[:, k] = h
            num[:, :, k] = (g.project(cam, pts + dp, tier=tier) - g.project(cam, pts - dp, tier=tier)) / (
                2 * h[:, None]
            )
        scale = np.abs(jac).max(axis=(1, 2), keepdims=True)
        np.testing.assert_array_less(np.abs(num - jac) / scale, 1e-6)


def test_undistort_gives_normalized_coordinates_and_nan_beyond_90_degrees() -> None:
    cam = aria_cameras()["camera-slam-left"]
    pts = np.array([[0.3, -0.2, 1.0], [-1.0, 0.5, 0.8], [1.0, 0.0, -0.1], [0.0, 0.0, 1.0]])
    for tier in TIERS:
        xy = g.undistort_points(cam, g.project(cam, pts, tier=tier), tier=tier)
        np.testing.assert_allclose(xy[[0, 1, 3]], pts[[0, 1, 3], :2] / pts[[0, 1, 3], 2:], atol=1e-10)
        assert np.isnan(xy[2]).all()  # 95.7° from the axis: a pixel and a ray, but no x/z


def test_invalid_and_empty_input() -> None:
    cam = aria_cameras()["camera-slam-right"]
    pts = np.array(
        [[np.nan, 0, 1], [0, np.inf, 1], [0, 0, 0], [0, 0, -1], [np.sin(1.9), 0, np.cos(1.9)], [1e200, 1e200, 1e200]]
    )
    for tier in TIERS:
        uv, jac = g.project_with_jacobian(cam, pts, tier=tier)
        assert np.isnan(uv[:5]).all() and np.isnan(jac[:5]).all()  # 1.9 rad (109°) is beyond the fold
        # huge coordinates: the direction still projects (the model is scale-free)
        np.testing.assert_allclose(uv[5], g.project(cam, np.array([[1.0, 1.0, 1.0]]), tier=tier)[0], atol=1e-9)
        bad = np.array([[np.nan, 1.0], [1.0, -np.inf], [1e6, 1e6]])
        assert np.isnan(g.unproject(cam, bad, tier=tier)).all()
        assert np.isnan(g.undistort_points(cam, bad, tier=tier)).all()
        assert g.project(cam, np.zeros((0, 3)), tier=tier).shape == (0, 2)
        assert g.unproject(cam, np.zeros((2, 0, 2)), tier=tier).shape == (2, 0, 3)


def test_parameters_read_in_arias_order() -> None:
    params = list(range(1, 16))
    cam = Fisheye624Camera.from_params(params, width=640, height=480)
    assert cam.params == tuple(float(p) for p in params)
    assert (cam.f, cam.cu, cam.cv, cam.k0, cam.k5, cam.p0, cam.p1, cam.s0, cam.s3) == (1, 2, 3, 4, 9, 10, 11, 12, 15)
    assert (cam.fx, cam.fy, cam.cx, cam.cy) == (1, 1, 2, 3)
    np.testing.assert_array_equal(g.camera_params(cam), np.arange(1.0, 16.0))
    with pytest.raises(ValueError, match="15 parameters"):
        Fisheye624Camera.from_params(params[:14], width=640, height=480)


# -- projectaria-tools' own implementation --------------------------------------------------------


def test_matches_projectaria_tools() -> None:
    calibration = pytest.importorskip("projectaria_tools.core.calibration")
    for label, cam in aria_cameras().items():
        proj = calibration.CameraProjection(calibration.CameraModelType.FISHEYE624, np.array(cam.params))
        pts = directions(300, 1.3 if label != "camera-rgb" else 0.95, seed=11)
        theirs = np.array([proj.project(p) for p in pts])
        for tier in TIERS:
            np.testing.assert_allclose(g.project(cam, pts, tier=tier), theirs, rtol=0, atol=1e-6, err_msg=label)
            # their unproject returns (x/z, y/z, 1): the same direction as our unit ray
            px = theirs[:50]
            ray_theirs = np.array([proj.unproject(p) for p in px])
            ray_theirs /= np.linalg.norm(ray_theirs, axis=-1, keepdims=True)
            np.testing.assert_allclose(g.unproject(cam, px, tier=tier), ray_theirs, rtol=0, atol=1e-9, err_msg=label)


def test_cameras_from_load_calibration_aria() -> None:
    """The issue's check: ``load_calibration(path, "aria")`` keys the cameras by label, and each
    projects as Aria's equations with the parameters of the file (<= 1e-6 px)."""
    import sensorfusion

    expected = aria_cameras()
    try:
        cal = sensorfusion.load_calibration(ARIA_CALIB, "aria")
    except sensorfusion.ConfigError as e:
        if "unknown calibration format" in str(e):
            pytest.skip("no installed plugin registers the aria calibration format (sensorfusion-aria)")
        raise
    for label, want in expected.items():
        cam = cal.camera(label)
        assert isinstance(cam, Fisheye624Camera) and cam.params == want.params, label
        pts = directions(200, 1.3 if label != "camera-rgb" else 0.95, seed=3)
        ref = np.array([aria_project(list(want.params), *p) for p in pts])
        for tier in TIERS:
            np.testing.assert_allclose(g.project(cam, pts, tier=tier), ref, rtol=0, atol=1e-6, err_msg=label)
