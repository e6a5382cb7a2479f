"""The real OCamCalib calibration in ../shared/data/fisheye/ocamcalib: reader and round trips."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import sensorfusion
from sensorfusion import geometry as g

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
CALIB = DATA / "fisheye" / "ocamcalib" / "calib_results.txt"
ROI_MAX_RADIUS_PX = 600.0  # the file's "ROI max min radius" section

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def cam() -> g.Camera:
    if not CALIB.exists():
        pytest.skip(f"OCamCalib data absent: {CALIB} (set SENSORFUSION_TEST_DATA)")
    return g.read_ocamcalib(CALIB)


def test_reader_follows_ocamcalib_conventions(cam: g.Camera) -> None:
    assert cam.model == "scaramuzza"
    assert (cam.width, cam.height) == (1300, 1080)
    assert cam.poly == (-2.665880e02, 0.0, 1.220001e-03, -5.781730e-07, 2.003631e-09)  # type: ignore[union-attr]
    assert len(cam.inv_poly) == 12 and cam.inv_poly[0] == 443.183827  # type: ignore[union-attr]
    # the file gives the centre as (row, column); the schema stores x = column, y = row
    assert (cam.cx, cam.cy) == (674.318875, 545.872616)
    assert (cam.c, cam.d, cam.e) == (0.999998, 0.000003, 0.000026)  # type: ignore[union-attr]


def _pixel_grid(cam: g.Camera, step: float = 7.0) -> np.ndarray:
    u, v = np.meshgrid(np.arange(0.0, cam.width, step), np.arange(0.0, cam.height, step))
    px = np.stack([u.ravel(), v.ravel()], -1)
    return px[np.hypot(px[:, 0] - cam.cx, px[:, 1] - cam.cy) <= ROI_MAX_RADIUS_PX]


@pytest.mark.parametrize("tier", ["numpy", "cpu"])
def test_cam2world_world2cam_round_trip_over_the_image(cam: g.Camera, tier: str) -> None:
    px = _pixel_grid(cam)
    rays = g.unproject(cam, px, tier=tier)
    assert np.isfinite(rays).all()
    back = g.project(cam, rays, tier=tier)
    err = np.linalg.norm(back - px, axis=-1)
    assert err.max() < 0.01, err.max()  # limited by how well inv_poly fits poly
    # the field of view exceeds 180°: the outer ROI sees behind the image plane
    assert (rays[:, 2] < 0).any()


@pytest.mark.parametrize("tier", ["numpy", "cpu"])
def test_newton_fallback_inverts_cam2world_exactly(cam: g.Camera, tier: str) -> None:
    no_inv = cam.model_copy(update={"inv_poly": ()})
    px = _pixel_grid(cam, step=11.0)
    back = g.project(no_inv, g.unproject(cam, px, tier=tier), tier=tier)
    assert np.abs(back - px).max() < 1e-8


def test_world2cam_agrees_with_the_newton_inverse(cam: g.Camera) -> None:
    """Project the same rays by inv_poly and by Newton: the fit error of inv_poly, in px."""
    no_inv = cam.model_copy(update={"inv_poly": ()})
    rays = g.unproject(cam, _pixel_grid(cam, step=13.0), tier="numpy")
    a = g.project(cam, rays, tier="cpu")
    b = g.project(no_inv, rays, tier="cpu")
    assert np.abs(a - b).max() < 0.01


@pytest.mark.parametrize("tier", ["numpy", "cpu"])
def test_world2cam_jacobian_matches_central_differences(cam: g.Camera, tier: str) -> None:
    rays = g.unproject(cam, _pixel_grid(cam, step=37.0), tier="numpy")
    pts = rays[np.linalg.norm(rays[:, :2], axis=-1) > 1e-3] * 2.0
    _, jac = g.project_with_jacobian(cam, pts, tier=tier)
    h = 1e-6
    num = np.stack(
        [
            (g.project(cam, pts + h * e, tier=tier) - g.project(cam, pts - h * e, tier=tier)) / (2 * h)
            for e in np.eye(3)
        ],
        axis=-1,
    )
    scale = np.abs(jac).max(axis=(1, 2), keepdims=True)
    assert np.abs(num - jac).max() > 0
    np.testing.assert_array_less(np.abs(num - jac) / scale, 1e-6)


def test_optical_axis_maps_to_centre_and_down_is_down(cam: g.Camera) -> None:
    uv = g.project(cam, np.array([[0.0, 0.0, 1.0], [0.0, 0.3, 1.0], [0.3, 0.0, 1.0]]), tier="cpu")
    np.testing.assert_allclose(uv[0], [cam.cx, cam.cy])
    assert uv[1, 1] > cam.cy + 50 and abs(uv[1, 0] - cam.cx) < 1  # +y (down) moves down the rows
    assert uv[2, 0] > cam.cx + 50 and abs(uv[2, 1] - cam.cy) < 1  # +x (right) moves along the columns


def test_malformed_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "calib_results.txt"
    bad.write_text("#poly\n3 1 2\n#inv\n1 1\n#centre\n1 2\n#affine\n1 0 0\n#size\n10 10\n")
    with pytest.raises(sensorfusion.ConfigError, match="count says 3 coefficients but 2 follow"):
        g.read_ocamcalib(bad)
    bad.write_text("#poly\n1 1\n")
    with pytest.raises(sensorfusion.ConfigError, match="needs 5 sections"):
        g.read_ocamcalib(bad)
