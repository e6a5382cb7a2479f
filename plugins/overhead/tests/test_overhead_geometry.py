"""Floor geometry of ceiling cameras: projection and localisation round trips, mountings, bad input."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from sensorfusion_overhead import OverheadCamera, localise_detections, radial_rbox_from_points

from sensorfusion import ConfigError
from sensorfusion.geometry import read_ocamcalib
from sensorfusion.schema import (
    CeilingMount,
    DoubleSphereCamera,
    Fisheye624Camera,
    KannalaBrandtCamera,
    OmnidirectionalCamera,
    PinholeCamera,
    RigCalibration,
    SensorCalibration,
    Transform,
)

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[3] / "../shared/data")).resolve()
OCAM = DATA / "fisheye" / "ocamcalib" / "calib_results.txt"


def _kb() -> KannalaBrandtCamera:
    return KannalaBrandtCamera(
        width=640, height=640, fx=190.0, fy=190.0, cx=319.5, cy=319.5, k1=0.02, k2=-0.004, k3=0.0005
    )


def _ds() -> DoubleSphereCamera:
    return DoubleSphereCamera(width=640, height=640, fx=150.0, fy=150.0, cx=319.5, cy=319.5, xi=-0.2, alpha=0.6)


def _omni() -> OmnidirectionalCamera:
    # an equidistant-like cam2world polynomial (a0 < 0), no inverse polynomial: projection by Newton
    return OmnidirectionalCamera(width=640, height=640, poly=(-190.0, 0.0, 1.4e-3, -2.0e-6, 4.0e-9), cx=319.5, cy=319.5)


def _fisheye624() -> Fisheye624Camera:
    # Project Aria's model with radial, tangential and thin-prism terms (mild, like a real lens)
    return Fisheye624Camera(width=640, height=640, f=190.0, cu=319.5, cv=319.5, k0=0.02, k1=-0.004, k2=0.0005,
                            p0=1e-4, p1=-1e-4, s0=2e-4, s2=-1e-4)  # fmt: skip


MODELS = {"kannala_brandt": _kb, "double_sphere": _ds, "scaramuzza": _omni, "fisheye624": _fisheye624}


def _rig(camera: object, mount: CeilingMount) -> OverheadCamera:
    cal = RigCalibration(sensors={"c": SensorCalibration(camera=camera, world_from_sensor=mount.world_from_sensor())})  # type: ignore[arg-type]
    return OverheadCamera.from_calibration(cal, "c")


def _floor_round_trip(cam: OverheadCamera, angles_deg: list[float]) -> float:
    """Largest error (m) of floor points projected and localised back, at the nadir and at the given angles."""
    worst = 0.0
    c = cam.centre_m
    for th in [0.0, *angles_deg]:
        for az in np.linspace(-math.pi, math.pi, 7, endpoint=False):
            d = cam.height_m * math.tan(math.radians(th))
            p = np.array([[c[0] + d * math.cos(az), c[1] + d * math.sin(az)]])
            px = cam.floor_to_pixels(p)
            assert np.all(np.isfinite(px)), (th, az)
            back = cam.floor_points(px)
            worst = max(worst, float(np.linalg.norm(back - p)))
    return worst


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("height_m", [2.5, 4.0])
@pytest.mark.parametrize("tilt_deg", [0.0, 12.0])
def test_floor_point_round_trip_is_within_a_millimetre(model: str, height_m: float, tilt_deg: float) -> None:
    mount = CeilingMount(
        height_m=height_m, position_m=(1.0, -0.5), yaw_rad=0.4, tilt_rad=math.radians(tilt_deg), tilt_azimuth_rad=2.0
    )
    cam = _rig(MODELS[model](), mount)
    # the image centre (straight below) and the rim: 85 degrees from the vertical is 11 x the height away
    rim = 85.0 - tilt_deg
    assert _floor_round_trip(cam, [45.0, 70.0, rim]) <= 1e-3
    # the nadir is the principal point only without tilt
    if tilt_deg == 0.0:
        assert np.allclose(cam.nadir_px, [319.5, 319.5], atol=1e-6)


@pytest.mark.needs_data
@pytest.mark.parametrize("inverse_polynomial", [True, False])
def test_real_ocamcalib_round_trip(inverse_polynomial: bool) -> None:
    """The real OCamCalib calibration (a catadioptric lens imaging 50-117 degrees from its axis)."""
    if not OCAM.is_file():
        pytest.skip(f"reference data missing: {OCAM}")
    camera = read_ocamcalib(OCAM)
    if not inverse_polynomial:
        camera = camera.model_copy(update={"inv_poly": ()})
    cam = _rig(camera, CeilingMount(height_m=3.0))
    worst = 0.0
    for th in (52.0, 70.0, 85.0):
        d = 3.0 * math.tan(math.radians(th))
        p = np.array([[0.6 * d, 0.8 * d], [-d, 0.0]])
        back = cam.floor_points(cam.floor_to_pixels(p))
        worst = max(worst, float(np.abs(back - p).max()))
    # world2cam (inv_poly) is OCamCalib's own fit of the inverse: sub-millimetre here; without it exact
    assert worst <= (1e-3 if inverse_polynomial else 1e-9)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_localising_a_box_of_a_vertical_person_returns_their_position(model: str) -> None:
    """A synthetic standing person (a vertical cylinder with a spherical head) seen by the lens:
    the box enclosing its projection is localised to where it stands, at the centre and at the rim."""
    cam = _rig(MODELS[model](), CeilingMount(height_m=3.0, yaw_rad=0.3))
    h, r = 1.72, 0.15
    for d in (1.0, 2.5, 5.0, 9.0):
        for az in (0.3, 2.0, -2.5):
            pos = np.array([d * math.cos(az), d * math.sin(az)])
            # body: a cylinder radius r from the floor to the shoulders, head sphere radius 0.1 on top
            ang = np.linspace(-math.pi, math.pi, 24, endpoint=False)
            ring = np.stack([np.cos(ang), np.sin(ang)], axis=1) * r
            pts = [np.column_stack([pos + ring, np.full(24, z)]) for z in np.linspace(0.0, h - 0.25, 8)]
            sph = np.array(
                [
                    (math.cos(a) * math.cos(b), math.sin(a) * math.cos(b), math.sin(b))
                    for a in ang
                    for b in np.linspace(-1.5, 1.5, 9)
                ]
            )
            pts.append(np.array([*pos, h - 0.1]) + 0.1 * sph)
            px = cam.world_to_pixels(np.concatenate(pts))
            box = radial_rbox_from_points(px, cam.nadir_px)
            est = localise_detections(cam, box[None])
            err = float(np.linalg.norm(est.position_m[0] - pos))
            assert err < 0.06, (model, d, az, err, int(est.method[0]))
            assert abs(float(est.implied_height_m[0]) - h) < 0.1
            # the head (top of the box) points away from the image centre
            assert np.hypot(*(box[:2] - cam.nadir_px)) > 0


def test_head_is_the_outer_end_in_an_overhead_view() -> None:
    """Derivation check: feet at atan(d/H), head at atan(d/(H-h)) from the nadir, so the head is outward."""
    cam = _rig(_kb(), CeilingMount(height_m=3.0))
    for d in (0.5, 2.0, 6.0):
        feet, head = cam.world_to_pixels(np.array([[d, 0.0, 0.0], [d, 0.0, 1.7]]))
        centre = cam.nadir_px
        assert np.hypot(*(head - centre)) > np.hypot(*(feet - centre))


def test_mount_round_trip_and_pose_conventions() -> None:
    m = CeilingMount(height_m=3.2, position_m=(1.5, -2.0), yaw_rad=-0.7, tilt_rad=0.25, tilt_azimuth_rad=2.4)
    t = m.world_from_sensor()
    back = CeilingMount.from_pose(t)
    for f in ("height_m", "yaw_rad", "tilt_rad", "tilt_azimuth_rad"):
        assert getattr(back, f) == pytest.approx(getattr(m, f), abs=1e-9)
    assert back.position_m == pytest.approx(m.position_m)
    straight = CeilingMount(height_m=3.0, yaw_rad=0.5).world_from_sensor().matrix
    # optical axis straight down, image x along (cos yaw, sin yaw)
    assert straight[:3, 2] == pytest.approx([0.0, 0.0, -1.0])
    assert straight[:3, 0] == pytest.approx([math.cos(0.5), math.sin(0.5), 0.0])
    tilted = t.matrix[:3, 2]
    assert math.degrees(math.acos(-tilted[2])) == pytest.approx(math.degrees(0.25))
    assert math.atan2(tilted[1], tilted[0]) == pytest.approx(2.4)


def test_camera_without_height_or_pose_is_a_clear_error() -> None:
    cal = RigCalibration(sensors={"ceil0": SensorCalibration(camera=_kb())})  # identity pose: not mounted
    with pytest.raises(ConfigError) as exc:
        OverheadCamera.from_calibration(cal, "ceil0")
    assert exc.value.field_path == "calibration.sensors.ceil0.world_from_sensor"
    assert "no mounting" in str(exc.value) and "height" in str(exc.value)
    # looking up from below the floor
    up = Transform.from_matrix(np.diag([1.0, -1.0, -1.0, 1.0]) @ np.eye(4))
    cal = RigCalibration(sensors={"ceil0": SensorCalibration(camera=_kb(), world_from_sensor=up)})
    with pytest.raises(ConfigError, match="not above the floor"):
        OverheadCamera.from_calibration(cal, "ceil0")
    # a camera on the wall looking sideways
    side = CeilingMount(height_m=2.5).world_from_sensor().matrix
    rot = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    side[:3, :3] = rot @ side[:3, :3]
    cal = RigCalibration(
        sensors={"ceil0": SensorCalibration(camera=_kb(), world_from_sensor=Transform.from_matrix(side))}
    )
    with pytest.raises(ConfigError, match="does not look down"):
        OverheadCamera.from_calibration(cal, "ceil0")


def test_calibration_without_a_fisheye_model_is_a_clear_error() -> None:
    pin = PinholeCamera(width=640, height=480, fx=500.0, fy=500.0, cx=320.0, cy=240.0)
    cal = RigCalibration(
        sensors={
            "ceil0": SensorCalibration(camera=pin, world_from_sensor=CeilingMount(height_m=3.0).world_from_sensor())
        }
    )
    with pytest.raises(ConfigError) as exc:
        OverheadCamera.from_calibration(cal, "ceil0")
    assert exc.value.field_path == "calibration.sensors.ceil0.camera.model"
    assert exc.value.choices and "kannala_brandt" in exc.value.choices
    assert OverheadCamera.from_calibration(cal, "ceil0", require_fisheye=False).height_m == 3.0
    # no camera model at all
    with pytest.raises(ConfigError) as exc2:
        OverheadCamera.from_calibration(RigCalibration(), "ceil0")
    assert exc2.value.field_path == "calibration.sensors.ceil0.camera"


def test_detection_outside_the_image_circle_is_not_localised() -> None:
    cam = _rig(_kb(), CeilingMount(height_m=3.0))
    boxes = np.array([[320.0, 500.0, 20.0, 50.0, 0.0], [620.0, 620.0, 20.0, 50.0, 135.0], [np.nan, 1.0, 1.0, 1.0, 0.0]])
    est = localise_detections(cam, boxes)
    assert est.inside.tolist() == [True, False, False]
    assert np.all(np.isfinite(est.position_m[0])) and np.all(np.isnan(est.position_m[1:]))
    assert est.method[1] == -1 and est.method[2] == -1
    # a narrower lens: its field of view ends before the image circle
    narrow = OverheadCamera.from_calibration(
        RigCalibration(
            sensors={
                "c": SensorCalibration(camera=_kb(), world_from_sensor=CeilingMount(height_m=3.0).world_from_sensor())
            }
        ),
        "c",
        fov_deg=120.0,
    )
    assert narrow.inside_image_circle(np.array([[320.0, 570.0], [320.0, 400.0]])).tolist() == [False, True]
