"""Camera models: tiers agree, round trips, Jacobians, invalid input, shapes, dispatch."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import sensorfusion
from sensorfusion import SensorfusionDeprecationWarning
from sensorfusion import geometry as g
from sensorfusion.geometry import _numba_models as nm
from sensorfusion.kernels import kernel_names
from sensorfusion.schema._calibration import PinholeCamera, Transform

_spec = importlib.util.spec_from_file_location("_geometry_cases", Path(__file__).with_name("test_geometry_cases.py"))
assert _spec and _spec.loader
cases = importlib.util.module_from_spec(_spec)
sys.modules["_geometry_cases"] = cases
_spec.loader.exec_module(cases)

NAMES = list(cases.CAMERAS)


def _inputs(name: str) -> np.ndarray:
    pts = cases.points_in_view(400, cases.MAX_ANGLE[name], seed=NAMES.index(name))
    return np.concatenate([pts, cases.awkward_points()])


@pytest.mark.parametrize("name", NAMES)
def test_numpy_and_cpu_tiers_agree(name: str) -> None:
    cam = cases.CAMERAS[name]
    pts = _inputs(name)
    uv_n, jac_n = g.project_with_jacobian(cam, pts, tier="numpy")
    uv_c, jac_c = g.project_with_jacobian(cam, pts, tier="cpu")
    np.testing.assert_allclose(uv_c, uv_n, rtol=0, atol=1e-9)
    np.testing.assert_allclose(jac_c, jac_n, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(g.project(cam, pts, tier="cpu"), uv_n, rtol=0, atol=1e-9)
    px = np.concatenate([uv_n, [[np.nan, 1.0], [np.inf, 2.0], [-1e9, 1e9]]])
    np.testing.assert_allclose(g.unproject(cam, px, tier="cpu"), g.unproject(cam, px, tier="numpy"), rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        g.undistort_points(cam, px, tier="cpu"), g.undistort_points(cam, px, tier="numpy"), rtol=0, atol=1e-9
    )
    # the finite-ness pattern is the same too (assert_allclose already checks NaN positions)
    assert np.isfinite(uv_n[:400]).all()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("tier", ["numpy", "cpu"])
def test_project_unproject_round_trip(name: str, tier: str) -> None:
    cam = cases.CAMERAS[name]
    pts = cases.points_in_view(500, cases.MAX_ANGLE[name], seed=3)
    uv = g.project(cam, pts, tier=tier)
    rays = g.unproject(cam, uv, tier=tier)
    np.testing.assert_allclose(np.linalg.norm(rays, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(rays, pts / np.linalg.norm(pts, axis=-1, keepdims=True), atol=1e-10)
    np.testing.assert_allclose(g.project(cam, rays * 7.5, tier=tier), uv, atol=1e-7)
    # undistort_points gives x/z, y/z for rays in front of the camera
    xy = g.undistort_points(cam, uv, tier=tier)
    front = pts[:, 2] > 0
    np.testing.assert_allclose(xy[front], pts[front, :2] / pts[front, 2:], rtol=1e-9, atol=1e-10)
    assert np.isnan(xy[~front]).all()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("tier", ["numpy", "cpu"])
def test_jacobian_matches_central_differences(name: str, tier: str) -> None:
    cam = cases.CAMERAS[name]
    pts = cases.points_in_view(200, cases.MAX_ANGLE[name], seed=5)
    pts = pts[np.linalg.norm(pts[:, :2], axis=-1) > 1e-3]
    _, jac = g.project_with_jacobian(cam, pts, tier=tier)
    num = np.empty_like(jac)
    for k in range(3):
        h = 1e-6 * np.maximum(np.linalg.norm(pts, axis=-1), 1.0)
        dp = np.zeros_like(pts)
        dp[:, k] = h
        num[:, :, k] = (g.project(cam, pts + dp, tier=tier) - g.project(cam, pts - dp, tier=tier)) / (2 * h[:, None])
    scale = np.abs(jac).max(axis=(1, 2), keepdims=True)
    assert np.abs(num - jac).max() > 0  # the comparison is not vacuous
    np.testing.assert_array_less(np.abs(num - jac) / scale, 1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("tier", ["numpy", "cpu"])
def test_invalid_points_give_nan_never_raise(name: str, tier: str) -> None:
    cam = cases.CAMERAS[name]
    pts = cases.awkward_points()
    uv, jac = g.project_with_jacobian(cam, pts, tier=tier)
    # non-finite input, the origin and the point straight behind never project
    for i in (0, 1, 2, 3, 4):
        assert np.isnan(uv[i]).all() and np.isnan(jac[i]).all(), (i, uv[i])
    # a point on the optical axis maps to the principal point / centre
    assert np.allclose(uv[6], [cam.cx, cam.cy]) and np.isfinite(jac[6]).all()
    # pixels: NaN/inf give NaN rays and NaN normalized points
    bad = np.array([[np.nan, 0.0], [0.0, np.inf], [-np.inf, np.nan]])
    assert np.isnan(g.unproject(cam, bad, tier=tier)).all()
    assert np.isnan(g.undistort_points(cam, bad, tier=tier)).all()


def test_pinhole_rejects_points_behind() -> None:
    uv = g.project(cases.PINHOLE, np.array([[0.1, 0.1, -1.0], [0.1, 0.1, 0.0], [0.1, 0.1, 1.0]]), tier="cpu")
    assert np.isnan(uv[:2]).all() and np.isfinite(uv[2]).all()


def test_wide_angle_pixels_have_no_normalized_point() -> None:
    # a KB ray at 100° from the axis: a valid pixel and ray, but no x/z
    p = np.array([[np.sin(np.radians(100)), 0.0, np.cos(np.radians(100))]])
    uv = g.project(cases.KB, p, tier="cpu")
    assert np.isfinite(uv).all()
    np.testing.assert_allclose(g.unproject(cases.KB, uv, tier="cpu"), p, atol=1e-10)
    assert np.isnan(g.undistort_points(cases.KB, uv, tier="cpu")).all()
    uv_ds = g.project(cases.DS, p, tier="numpy")
    assert np.isnan(g.undistort_points(cases.DS, uv_ds, tier="cpu")).all()


@pytest.mark.parametrize("tier", ["numpy", "cpu"])
def test_empty_and_batched_shapes(tier: str) -> None:
    for cam in cases.CAMERAS.values():
        assert g.project(cam, np.zeros((0, 3)), tier=tier).shape == (0, 2)
        uv, jac = g.project_with_jacobian(cam, np.zeros((2, 0, 3)), tier=tier)
        assert uv.shape == (2, 0, 2) and jac.shape == (2, 0, 2, 3)
        assert g.unproject(cam, np.zeros((0, 2)), tier=tier).shape == (0, 3)
        assert g.undistort_points(cam, np.zeros((3, 0, 2)), tier=tier).shape == (3, 0, 2)
    pts = cases.points_in_view(24, 0.5).reshape(2, 3, 4, 3)
    uv = g.project(cases.PINHOLE, pts, tier=tier)
    assert uv.shape == (2, 3, 4, 2)
    np.testing.assert_array_equal(uv.reshape(-1, 2), g.project(cases.PINHOLE, pts.reshape(-1, 3), tier=tier))
    assert g.project_with_jacobian(cases.KB, pts, tier=tier)[1].shape == (2, 3, 4, 2, 3)


def test_shape_errors_name_expected_and_actual() -> None:
    with pytest.raises(
        sensorfusion.SchemaError, match=r"points_camera: expected shape \(\*, N, 3\), got \(5, 2\)"
    ) as exc:
        g.project(cases.PINHOLE, np.zeros((5, 2)))
    assert exc.value.expected_shape == "(*, N, 3)" and exc.value.actual_shape == (5, 2)  # type: ignore[attr-defined]
    with pytest.raises(sensorfusion.SchemaError, match=r"pixels: expected shape \(\*, N, 2\), got \(3,\)"):
        g.unproject(cases.KB, np.zeros(3))
    with pytest.raises(sensorfusion.SchemaError, match=r"a_from_b: expected shape \(\*, 4, 4\), got \(3, 3\)"):
        g.transform_points(np.eye(3), np.zeros((1, 3)))


def test_tier_and_model_errors_are_config_errors() -> None:
    with pytest.raises(sensorfusion.ConfigError, match="valid choices: auto, numpy, cpu, cuda"):
        g.project(cases.PINHOLE, np.zeros((1, 3)), tier="gpu")
    with pytest.raises(sensorfusion.ConfigError, match=r"camera\.model"):
        g.project(Transform(), np.zeros((1, 3)))  # type: ignore[arg-type]


def test_every_model_registers_three_tiers() -> None:
    names = kernel_names()
    for model in ("pinhole", "kannala_brandt", "double_sphere", "scaramuzza", "fisheye624"):
        for op in ("project", "project_jacobian", "unproject", "undistort_points"):
            assert names[f"geometry.{model}.{op}"] == ["cpu", "cuda", "numpy"]


def test_param_layouts_documented_and_packed() -> None:
    assert list(nm.camera_params(cases.PINHOLE)) == [
        910.0,
        905.5,
        641.3,
        358.2,
        -0.28,
        0.09,
        0.0012,
        -0.0007,
        -0.012,
        0,
        0,
        0,
    ]
    assert len(nm.camera_params(cases.KB)) == 8 and len(nm.camera_params(cases.DS)) == 6
    p = nm.camera_params(cases.OMNI_NO_INV)
    assert p[5] == 5 and p[6] == 0 and len(p) == 12
    for model in nm.PARAM_LAYOUTS:
        assert model in (nm.__doc__ or "")


def test_scalar_functions_callable_from_user_njit() -> None:
    from numba import njit

    @njit
    def reproject(params: np.ndarray, pts: np.ndarray) -> np.ndarray:
        out = np.empty((pts.shape[0], 2))
        for i in range(pts.shape[0]):
            out[i, 0], out[i, 1] = nm.kb_project_point(params, pts[i, 0], pts[i, 1], pts[i, 2])
        return out

    pts = cases.points_in_view(10, 1.0)
    np.testing.assert_allclose(
        reproject(nm.camera_params(cases.KB), pts), g.project(cases.KB, pts, tier="numpy"), atol=1e-9
    )


def test_transform_points_and_world_to_pixels() -> None:
    world_from_camera = g.look_at(np.array([3.0, -4.0, 1.5]), np.array([0.0, 0.0, 1.0]))
    pts_w = np.random.default_rng(1).uniform(-1, 1, (2, 30, 3)) + np.array([0.0, 0.0, 1.0])
    with pytest.warns(
        SensorfusionDeprecationWarning, match=r"use world_to_pixels\(camera, world_from_camera, points_world"
    ):
        uv_legacy, _depth = g.project_pinhole(pts_w, cases.PINHOLE, world_from_camera)
    for tier in ("numpy", "cpu"):
        np.testing.assert_allclose(
            g.world_to_pixels(cases.PINHOLE, world_from_camera, pts_w, tier=tier), uv_legacy, atol=1e-9
        )
        np.testing.assert_allclose(
            g.world_to_pixels(cases.PINHOLE, world_from_camera.matrix, pts_w, tier=tier), uv_legacy, atol=1e-9
        )
    m = world_from_camera.matrix
    np.testing.assert_allclose(g.transform_points(m, pts_w), world_from_camera.apply(pts_w), atol=1e-12)
    np.testing.assert_allclose(g.transform_points(world_from_camera, pts_w), world_from_camera.apply(pts_w), atol=1e-12)
    # a batch of transforms broadcasts over the leading dimension
    batch = np.stack([m, np.linalg.inv(m)])
    out = g.transform_points(batch, pts_w)
    np.testing.assert_allclose(out[1], world_from_camera.inverse().apply(pts_w[1]), atol=1e-12)


def test_legacy_undistort_matches_new_kernel() -> None:
    cam = PinholeCamera(width=640, height=480, fx=500, fy=500, cx=320, cy=240, k1=-0.1, k2=0.01)
    uv = g.project(cam, cases.points_in_view(50, 0.5), tier="cpu")
    with pytest.warns(SensorfusionDeprecationWarning, match=r"use undistort_points\(camera, pixels\)"):
        ideal = g.undistort_pixels(uv, cam)
    xy = g.undistort_points(cam, uv, tier="cpu")
    np.testing.assert_allclose(ideal, xy * [cam.fx, cam.fy] + [cam.cx, cam.cy], atol=1e-6)


def _random_camera(model: str, rng: np.random.Generator) -> g.Camera:
    from sensorfusion.schema._calibration import (
        DoubleSphereCamera,
        Fisheye624Camera,
        KannalaBrandtCamera,
        OmnidirectionalCamera,
    )

    f = rng.uniform(200, 1500)
    common = {"width": 1280, "height": 960, "cx": rng.uniform(600, 680), "cy": rng.uniform(440, 520)}
    if model == "pinhole":
        k = rng.normal(0, [0.1, 0.03, 0.002, 0.002, 0.005, 0.05, 0.01, 0.002])
        names = ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")
        return PinholeCamera(
            fx=f, fy=f * rng.uniform(0.98, 1.02), **common, **dict(zip(names, k.tolist(), strict=True))
        )
    if model == "kannala_brandt":
        k = rng.normal(0, [0.03, 0.01, 0.002, 0.0003])
        return KannalaBrandtCamera(fx=f, fy=f, **common, **dict(zip(("k1", "k2", "k3", "k4"), k.tolist(), strict=True)))
    if model == "double_sphere":
        return DoubleSphereCamera(fx=f, fy=f, **common, xi=rng.uniform(-0.3, 0.3), alpha=rng.uniform(0.3, 0.7))
    if model == "fisheye624":
        k = rng.normal(0, [0.03, 0.05, 0.03, 0.01, 0.002, 0.0005, 0.002, 0.002, 0.003, 0.0005, 0.003, 0.0005])
        return Fisheye624Camera.from_params(
            [f, common["cx"], common["cy"], *k.tolist()], width=common["width"], height=common["height"]
        )
    a0 = -rng.uniform(200, 400)
    return OmnidirectionalCamera(
        **common,
        poly=(a0, 0.0, -0.5 / a0, rng.normal(0, 1e-7)),
        c=rng.uniform(0.99, 1.01),
        d=rng.normal(0, 1e-3),
        e=rng.normal(0, 1e-3),
    )


@pytest.mark.parametrize("model", ["pinhole", "kannala_brandt", "double_sphere", "scaramuzza", "fisheye624"])
def test_tiers_agree_on_random_parameters(model: str) -> None:
    rng = np.random.default_rng(42)
    for _ in range(5):
        cam = _random_camera(model, rng)
        pts = np.concatenate([cases.points_in_view(200, 0.5, seed=int(rng.integers(1000))), rng.normal(0, 3, (50, 3))])
        a = g.project_with_jacobian(cam, pts, tier="numpy")
        b = g.project_with_jacobian(cam, pts, tier="cpu")
        np.testing.assert_allclose(b[0], a[0], rtol=1e-12, atol=1e-9)  # rtol: pixels far off the image
        np.testing.assert_allclose(b[1], a[1], rtol=1e-12, atol=1e-9)
        px = np.concatenate([a[0], rng.uniform(-200, 1500, (50, 2))])
        np.testing.assert_allclose(
            g.unproject(cam, px, tier="cpu"), g.unproject(cam, px, tier="numpy"), rtol=0, atol=1e-9
        )
        np.testing.assert_allclose(
            g.undistort_points(cam, px, tier="cpu"), g.undistort_points(cam, px, tier="numpy"), rtol=0, atol=1e-9
        )
        assert np.isfinite(a[0][:200]).all()
