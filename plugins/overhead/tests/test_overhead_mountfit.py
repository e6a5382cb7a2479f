"""Fitting a ceiling camera's pose (height, position, yaw, tilt) to floor points seen through its lens."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sensorfusion_overhead import OverheadCamera, fit_ceiling_mount, read_floor_points

from sensorfusion.cli import main as cli_main
from sensorfusion.schema import (
    CeilingMount,
    DoubleSphereCamera,
    KannalaBrandtCamera,
    OmnidirectionalCamera,
    RigCalibration,
    SensorCalibration,
)

CAMERAS = {
    "kannala_brandt": KannalaBrandtCamera(width=800, height=800, fx=240.0, fy=240.0, cx=399.5, cy=399.5, k1=0.01),
    "double_sphere": DoubleSphereCamera(
        width=800, height=800, fx=200.0, fy=200.0, cx=399.5, cy=399.5, xi=-0.2, alpha=0.6
    ),
    "scaramuzza": OmnidirectionalCamera(
        width=800, height=800, poly=(-240.0, 0.0, 1.0e-3, -1.0e-6, 2.0e-9), cx=399.5, cy=399.5
    ),
}
TRUTH = CeilingMount(
    height_m=3.3, position_m=(0.7, -1.2), yaw_rad=0.6, tilt_rad=math.radians(8.0), tilt_azimuth_rad=2.2
)


def _observations(
    camera: object, mount: CeilingMount, noise_px: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    cal = RigCalibration(sensors={"c": SensorCalibration(camera=camera, world_from_sensor=mount.world_from_sensor())})  # type: ignore[arg-type]
    oc = OverheadCamera.from_calibration(cal, "c")
    floor = rng.uniform(-5.0, 5.0, (30, 2)) + np.asarray(mount.position_m)
    px = oc.floor_to_pixels(floor)
    ok = np.all(np.isfinite(px), axis=1) & oc.inside_image_circle(px)
    return px[ok] + rng.normal(0.0, noise_px, (int(ok.sum()), 2)), floor[ok]


@pytest.mark.parametrize("model", sorted(CAMERAS))
def test_pose_is_recovered_through_every_lens_model(model: str) -> None:
    rng = np.random.default_rng(5)
    px, floor = _observations(CAMERAS[model], TRUTH, 0.5, rng)
    fit = fit_ceiling_mount(CAMERAS[model], px, floor)  # type: ignore[arg-type]
    m = fit.mount
    assert abs(m.height_m - TRUTH.height_m) < 0.02
    assert np.hypot(*(np.asarray(m.position_m) - TRUTH.position_m)) < 0.03
    assert abs(math.degrees(m.tilt_rad - TRUTH.tilt_rad)) < 0.3
    assert abs(math.degrees(m.yaw_rad - TRUTH.yaw_rad)) < 0.3
    assert 0.3 < fit.rms_px < 0.9  # the noise, not the model
    # the reported uncertainty is honest: the errors are within 4 sigma
    assert abs(m.height_m - TRUTH.height_m) < 4 * fit.sigma["height_m"] + 1e-4
    assert abs(m.tilt_rad - TRUTH.tilt_rad) < 4 * fit.sigma["tilt_rad"] + 1e-5


def test_straight_down_camera_and_outliers() -> None:
    rng = np.random.default_rng(1)
    down = CeilingMount(height_m=2.6, position_m=(0.0, 0.0), yaw_rad=-1.0)
    px, floor = _observations(CAMERAS["kannala_brandt"], down, 0.3, rng)
    px[:2] += 40.0  # two mis-clicked points
    fit = fit_ceiling_mount(CAMERAS["kannala_brandt"], px, floor)
    assert abs(fit.mount.height_m - 2.6) < 0.02 and math.degrees(fit.mount.tilt_rad) < 0.3
    assert sorted(np.argsort(fit.residuals_px)[-2:].tolist()) == [0, 1]  # the robust loss leaves them out


def test_bad_point_sets_are_clear_errors() -> None:
    cam = CAMERAS["kannala_brandt"]
    with pytest.raises(ValueError, match="at least 4"):
        fit_ceiling_mount(cam, np.zeros((3, 2)) + 400, np.zeros((3, 2)))
    line = np.column_stack([np.linspace(-2, 2, 8), np.zeros(8)])
    px = OverheadCamera.from_calibration(
        RigCalibration(sensors={"c": SensorCalibration(camera=cam, world_from_sensor=TRUTH.world_from_sensor())}), "c"
    ).floor_to_pixels(line)
    with pytest.raises(ValueError, match="collinear"):
        fit_ceiling_mount(cam, px, line)
    with pytest.raises(ValueError, match="shape"):
        fit_ceiling_mount(cam, px, np.zeros((8, 4)))


def test_from_checkerboard_corners_found_in_a_rendered_fisheye_image() -> None:
    """Real pixels: the simulator renders its floor checkerboard (0.5 m squares) through a 190-degree lens;
    OpenCV finds the corners (cornerSubPix on the image); the fit recovers the camera's true mounting."""
    sim = pytest.importorskip("sensorfusion_sim")
    cv2 = pytest.importorskip("cv2")
    p = sim.CeilingCameraParams(
        fov_deg=190, width=768, height=768, height_m=3.3, tilt_deg=6.0, positions_m=[(0.8, -0.6)]
    )
    cc = sim.CeilingCameras(1, p, fps=10.0, room_m=(8.0, 6.0))
    cal = cc.rig
    image = cc.renderers()[0].render(np.zeros((0, 17, 3)))
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    oc = OverheadCamera.from_calibration(cal, "ceil0")
    xs, ys = np.meshgrid(np.arange(-3.5, 3.6, 0.5), np.arange(-2.5, 2.6, 0.5))
    grid = np.column_stack([xs.ravel(), ys.ravel()])
    guess = oc.floor_to_pixels(grid)  # where to look (the true pose only pairs pixels with grid points)
    keep = (
        np.all(np.isfinite(guess), axis=1) & oc.inside_image_circle(guess) & (np.hypot(*(grid - (0.8, -0.6)).T) < 4.0)
    )
    corners = cv2.cornerSubPix(grey, guess[keep].astype(np.float32).reshape(-1, 1, 2), (4, 4), (-1, -1),
                               (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-3)).reshape(-1, 2)  # fmt: skip
    moved = np.hypot(*(corners - guess[keep]).T)
    assert np.median(moved) < 1.0  # the detector found the corners where the renderer drew them
    fit = fit_ceiling_mount(cal.sensors["ceil0"].camera, corners.astype(float), grid[keep])  # type: ignore[arg-type]
    assert len(corners) > 40 and fit.rms_px < 1.0
    assert abs(fit.mount.height_m - 3.3) < 0.03 and abs(math.degrees(fit.mount.tilt_rad) - 6.0) < 0.3
    assert np.hypot(fit.mount.position_m[0] - 0.8, fit.mount.position_m[1] + 0.6) < 0.03


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(2)
    px, floor = _observations(CAMERAS["double_sphere"], TRUTH, 0.3, rng)
    cal_file = tmp_path / "cal.json"
    cal_file.write_text(
        RigCalibration(sensors={"ceil0": SensorCalibration(camera=CAMERAS["double_sphere"])}).model_dump_json()
    )
    points = tmp_path / "points.csv"
    points.write_text("u,v,x,y\n" + "\n".join(f"{a},{b},{c},{d}" for (a, b), (c, d) in zip(px, floor, strict=True)))
    assert read_floor_points(points)[0].shape == px.shape
    out = tmp_path / "mounted.json"
    code = cli_main(
        [
            "overhead-mount",
            "--calibration",
            str(cal_file),
            "--camera",
            "ceil0",
            "--points",
            str(points),
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert abs(res["mount"]["height_m"] - 3.3) < 0.02 and abs(res["tilt_deg"] - 8.0) < 0.3
    mounted = RigCalibration.model_validate_json(out.read_text())
    assert CeilingMount.from_pose(mounted.sensors["ceil0"].world_from_sensor).height_m == pytest.approx(
        res["mount"]["height_m"]
    )
    # bad input: exit 2 with a reason
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n")
    assert cli_main(["overhead-mount", "--calibration", str(cal_file), "--camera", "ceil0", "--points", str(bad)]) == 2
    assert "u, v, x, y" in capsys.readouterr().err
    assert (
        cli_main(["overhead-mount", "--calibration", str(cal_file), "--camera", "nope", "--points", str(points)]) == 2
    )
