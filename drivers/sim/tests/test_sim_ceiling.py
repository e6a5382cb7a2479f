"""Simulated ceiling fisheye cameras: lenses, placement, ray-cast rendering and rotated-box ground truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError
from sensorfusion_sim import (
    CeilingCameraParams,
    CeilingCameras,
    PeopleSim,
    SimRigDriver,
    SimRigParams,
    fisheye_camera,
    floor_positions,
    gt_rboxes,
)

from sensorfusion import DriverContext
from sensorfusion.geometry import project, unproject
from sensorfusion.schema import CeilingMount

MODELS = ["kannala_brandt", "double_sphere", "scaramuzza", "fisheye624"]


def _person_at(x: float, y: float, *, seed: int = 4, t_s: float = 0.0) -> np.ndarray:
    """One standing person (COCO-17, world metres) moved so that their ankles' mid-point is at (x, y)."""
    j = PeopleSim(seed=seed, people=1).joints_at(t_s)[0]
    j[:, :2] += np.array([x, y]) - floor_positions(j[None])[0]
    return j


def _ceiling(model: str = "kannala_brandt", **kw: object) -> CeilingCameras:
    p = CeilingCameraParams(model=model, positions_m=[(0.0, 0.0)], **kw)  # type: ignore[arg-type]
    return CeilingCameras(1, p, fps=10.0, room_m=(8.0, 8.0))


def _inside_box(points: np.ndarray, box: np.ndarray, tol: float = 1.0) -> np.ndarray:
    a = math.radians(box[4])
    ex, ey = np.array([math.cos(a), math.sin(a)]), np.array([math.sin(a), -math.cos(a)])
    d = points - box[:2]
    return (np.abs(d @ ex) <= box[2] / 2 + tol) & (np.abs(d @ ey) <= box[3] / 2 + tol)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("fov_deg", [160.0, 200.0])
def test_lens_rim_falls_on_the_image_circle(model: str, fov_deg: float) -> None:
    p = CeilingCameraParams(model=model, fov_deg=fov_deg, width=400, height=300, circle_fill=0.95)
    cam = fisheye_camera(p)
    half = math.radians(fov_deg) / 2
    radius = 0.95 * 150.0
    px = project(cam, np.array([[math.sin(half), 0.0, math.cos(half)], [0.0, 0.0, 1.0]]), tier="numpy")
    assert px[0, 0] - cam.cx == pytest.approx(radius, rel=1e-3)  # type: ignore[union-attr]
    assert px[1] == pytest.approx([199.5, 149.5])
    # and the model inverts itself across the whole field of view (also beyond 90 degrees)
    ang = np.linspace(0.0, half, 20)
    rays = np.column_stack([np.sin(ang), np.zeros(20), np.cos(ang)])
    back = unproject(cam, project(cam, rays, tier="numpy"), tier="numpy")
    assert np.abs(back - rays).max() < 1e-6


def test_double_sphere_lens_that_cannot_see_the_field_of_view_is_rejected() -> None:
    with pytest.raises(ValidationError, match="double-sphere lens"):
        CeilingCameraParams(model="double_sphere", fov_deg=200.0, xi=-0.2, alpha=0.2)


def test_placement_height_and_calibration() -> None:
    p = SimRigParams(
        cameras=0, ceiling_cameras=3, room_m=(9.0, 5.0), render=False, ceiling={"height_m": 3.5, "fov_deg": 200}
    )
    drv = SimRigDriver(p, DriverContext(sensor_id="sim", seed=1, realtime=False))
    cal = drv.calibration()
    assert sorted(cal.sensors) == ["ceil0", "ceil1", "ceil2"]
    xs = []
    for sid in ("ceil0", "ceil1", "ceil2"):
        m = CeilingMount.from_pose(cal.sensors[sid].world_from_sensor)
        assert m.height_m == pytest.approx(3.5) and m.tilt_rad == pytest.approx(0.0, abs=1e-9)
        assert cal.sensors[sid].camera.model == "kannala_brandt"  # type: ignore[union-attr]
        xs.append(m.position_m[0])
    assert xs == pytest.approx([-3.0, 0.0, 3.0])  # spread along the longer side
    names = {s.name for s in drv.streams()}
    assert {"ceil0/gt_rboxes", "gt/floor", "gt/skeleton3d"} <= names and "ceil0/image" not in names
    with pytest.raises(ValidationError, match="no sensor"):
        SimRigParams(cameras=0)
    with pytest.raises(ValueError, match="positions_m"):
        CeilingCameras(2, CeilingCameraParams(positions_m=[(0.0, 0.0)]), fps=10.0, room_m=(6.0, 6.0))


@pytest.mark.parametrize("model", MODELS)
def test_person_under_the_camera_is_seen_from_the_top_of_the_head(model: str) -> None:
    cc = _ceiling(model, width=320, height=320)
    r = cc.renderers()[0]
    j = _person_at(0.05, 0.0)
    buf = r.render_buffers(j[None], np.array([7]))
    mine = buf.person_id == 7
    assert mine.sum() > 200
    v, u = np.nonzero(mine)
    # the blob surrounds the image centre; the pixel straight below is the head or shoulders
    assert abs(u.mean() - 159.5) < 25 and abs(v.mean() - 159.5) < 25
    centre_dist = buf.distance_m[160, 160]
    assert 3.0 - 1.0 > 0.0 and centre_dist < 3.0 - 1.2  # the surface there is above 1.2 m: the head, not the feet
    boxes, _, _ = gt_rboxes(r, j[None], None, np.array([159.5, 159.5]))
    assert np.all(np.isfinite(boxes))
    assert _inside_box(np.column_stack([u, v]).astype(float), boxes[0]).mean() > 0.99


@pytest.mark.parametrize("model", MODELS)
def test_box_encloses_the_silhouette_head_outward_at_mid_range_and_rim(model: str) -> None:
    cc = _ceiling(model, width=400, height=400, fov_deg=190.0)
    r = cc.renderers()[0]
    nadir = np.array([199.5, 199.5])
    for x, y in ((2.0, 1.0), (-3.2, -3.3)):  # the second one 4.6 m away: ~57 degrees at the feet, ~74 at the head
        j = _person_at(x, y)
        buf = r.render_buffers(j[None], np.array([0]))
        v, u = np.nonzero(buf.person_id == 0)
        assert len(u) > 30
        box, feet, head = gt_rboxes(r, j[None], None, nadir)
        assert _inside_box(np.column_stack([u, v]).astype(float), box[0]).mean() > 0.99
        # the box is radius-aligned: its long axis points at the image centre, the top (head) outward
        a = math.radians(box[0, 4])
        top = box[0, :2] + box[0, 3] / 2 * np.array([math.sin(a), -math.cos(a)])
        bottom = box[0, :2] - box[0, 3] / 2 * np.array([math.sin(a), -math.cos(a)])
        assert np.hypot(*(top - nadir)) > np.hypot(*(bottom - nadir))
        assert np.hypot(*(head[0] - top)) < np.hypot(*(head[0] - bottom))
        assert np.hypot(*(feet[0] - bottom)) < np.hypot(*(feet[0] - top))


def test_people_close_together_hide_each_other() -> None:
    cc = _ceiling(width=400, height=400)
    r = cc.renderers()[0]
    # two people 0.45 m apart on the same radius, 3 m out: the nearer one hides part of the farther one
    near, far = _person_at(2.8, 0.0), _person_at(3.25, 0.0, seed=5)
    buf = r.render_buffers(np.stack([near, far]), np.array([0, 1]))
    vis = buf.visible_fraction
    assert vis[0] > 0.97 and 0.2 < vis[1] < 0.9
    assert buf.covered_px[1] > buf.visible_px[1]
    # each alone is fully visible
    alone = r.render_buffers(far[None], np.array([1]))
    assert alone.visible_fraction[0] == pytest.approx(1.0)
    assert alone.covered_px[0] == buf.covered_px[1]


def test_driver_frames_are_deterministic_and_carry_ground_truth() -> None:
    p = SimRigParams(
        cameras=0, ceiling_cameras=2, people=5, room_m=(8.0, 6.0), fps=10.0, ceiling={"width": 256, "height": 256}
    )
    d1 = SimRigDriver(p, DriverContext(sensor_id="sim", seed=9, realtime=False))
    d2 = SimRigDriver(p, DriverContext(sensor_id="sim", seed=9, realtime=False))
    a = {f.stream: f for f in d1.frames_at(40)}
    d2.frames_at(3)
    b = {f.stream: f for f in d2.frames_at(40)}
    assert set(a) == {"ceil0/image", "ceil1/image", "ceil0/gt_rboxes", "ceil1/gt_rboxes", "gt/floor", "gt/skeleton3d"}
    for name in a:
        for k in a[name].data:
            np.testing.assert_array_equal(a[name][k], b[name][k])
    specs = {s.name: s for s in d1.streams()}
    for name, f in a.items():
        specs[name].validate_frame(f)
    floor = a["gt/floor"]
    assert floor["position_m"].shape == (5, 2)
    np.testing.assert_allclose(floor["position_m"], floor_positions(a["gt/skeleton3d"]["joints"]), atol=1e-5)
    g = a["ceil0/gt_rboxes"]
    assert len(g["rbox"]) >= 3 and np.all(g["visible_fraction"] <= 1.0)
    assert set(g["person_id"].tolist()) <= set(range(5))
