"""Pinhole and Kannala–Brandt kernels against OpenCV, to <= 1e-6 px."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from sensorfusion import geometry as g

cv2 = pytest.importorskip("cv2")

_spec = importlib.util.spec_from_file_location("_geometry_cases", Path(__file__).with_name("test_geometry_cases.py"))
assert _spec and _spec.loader
cases = importlib.util.module_from_spec(_spec)
sys.modules["_geometry_cases"] = cases
_spec.loader.exec_module(cases)

TIERS = ["numpy", "cpu"]
# Many iterations and a tight tolerance, so OpenCV's fixed-point / Newton loops converge fully.
# (cv2.fisheye.undistortPoints marks points that miss an EPS below ~1e-15 as -1e6.)
CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-14)


def _k(cam: object) -> np.ndarray:
    return np.array([[cam.fx, 0, cam.cx], [0, cam.fy, cam.cy], [0, 0, 1.0]])  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["pinhole", "pinhole_rational"])
@pytest.mark.parametrize("tier", TIERS)
def test_pinhole_project_equals_cv2_project_points(name: str, tier: str) -> None:
    cam = cases.CAMERAS[name]
    pts = cases.points_in_view(2000, 0.6, seed=11)
    ref, _ = cv2.projectPoints(pts.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), _k(cam), cam.dist_coeffs)
    uv = g.project(cam, pts, tier=tier)
    err = np.abs(uv - ref.reshape(-1, 2)).max()
    assert err <= 1e-6, err


@pytest.mark.parametrize("name", ["pinhole", "pinhole_rational"])
@pytest.mark.parametrize("tier", TIERS)
def test_pinhole_undistort_equals_cv2_undistort_points(name: str, tier: str) -> None:
    cam = cases.CAMERAS[name]
    pts = cases.points_in_view(2000, 0.55, seed=12)
    uv = g.project(cam, pts, tier="numpy")
    ref = cv2.undistortPoints(uv.reshape(-1, 1, 2), _k(cam), cam.dist_coeffs, criteria=CRITERIA).reshape(-1, 2)
    assert not (ref == -1e6).any()  # OpenCV converged everywhere
    xy = g.undistort_points(cam, uv, tier=tier)
    err_px = (np.abs(xy - ref) * [cam.fx, cam.fy]).max()
    assert err_px <= 1e-6, err_px
    # and both recover the true normalized point
    assert (np.abs(xy - pts[:, :2] / pts[:, 2:]) * [cam.fx, cam.fy]).max() <= 1e-6


@pytest.mark.parametrize("tier", TIERS)
def test_kannala_brandt_project_equals_cv2_fisheye(tier: str) -> None:
    cam = cases.KB
    pts = cases.points_in_view(2000, 1.4, seed=13)
    d = np.array([cam.k1, cam.k2, cam.k3, cam.k4])
    ref, _ = cv2.fisheye.projectPoints(pts.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), _k(cam), d)
    err = np.abs(g.project(cam, pts, tier=tier) - ref.reshape(-1, 2)).max()
    assert err <= 1e-6, err


@pytest.mark.parametrize("tier", TIERS)
def test_kannala_brandt_undistort_equals_cv2_fisheye(tier: str) -> None:
    cam = cases.KB
    pts = cases.points_in_view(2000, 1.3, seed=14)
    uv = g.project(cam, pts, tier="numpy")
    d = np.array([cam.k1, cam.k2, cam.k3, cam.k4])
    ref = cv2.fisheye.undistortPoints(uv.reshape(-1, 1, 2), _k(cam), d, criteria=CRITERIA).reshape(-1, 2)
    assert not (ref == -1e6).any()  # OpenCV converged everywhere
    xy = g.undistort_points(cam, uv, tier=tier)
    err_px = (np.abs(xy - ref) * [cam.fx, cam.fy]).max()
    assert err_px <= 1e-6, err_px
