"""A Fisheye624 (Project Aria) camera in calibration files: the SDK's own JSON keeps it exactly,
formats that cannot hold it refuse it by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sensorfusion_calibration import detect_format, load_calibration, save_calibration

from sensorfusion import ConfigError
from sensorfusion.geometry import world_to_pixels
from sensorfusion.schema import Fisheye624Camera, RigCalibration, SensorCalibration, Transform

SLAM_LEFT = [241.746, 320.629, 242.641, -0.026942, 0.103187, -0.072546, 0.012318, 0.001513, -0.00048, 0.001934,
             0.001901, -0.003101, -0.000324, -0.002613, 1.6337e-05]  # fmt: skip


def _rig() -> RigCalibration:
    cam = Fisheye624Camera.from_params(SLAM_LEFT, width=640, height=480)
    wfc = Transform.from_rotvec(np.array([0.1, -0.4, 0.2]), np.array([0.05, 1.6, -0.2]))
    return RigCalibration(sensors={"camera-slam-left": SensorCalibration(camera=cam, world_from_sensor=wfc)})


def test_sensorfusion_json_round_trip_is_exact(tmp_path: Path) -> None:
    rig = _rig()
    path = tmp_path / "rig.json"
    save_calibration(rig, path, "sensorfusion")
    assert detect_format(path) == "sensorfusion"
    back = load_calibration(path)
    assert back == rig
    cam = back.sensors["camera-slam-left"]
    assert isinstance(cam.camera, Fisheye624Camera) and cam.camera.params == tuple(SLAM_LEFT)
    pts = cam.world_from_sensor.apply(np.random.default_rng(0).uniform([-1, -1, 0.5], [1, 1, 3], (50, 3)))
    np.testing.assert_array_equal(
        world_to_pixels(cam.camera, cam.world_from_sensor, pts),
        world_to_pixels(rig.camera("camera-slam-left"), cam.world_from_sensor, pts),
    )


@pytest.mark.parametrize(
    ("fmt", "name"), [("opencv", "c.yml"), ("pose2sim", "Calib.toml"), ("kalibr", "camchain.yaml")]
)
def test_formats_without_the_model_refuse_it(tmp_path: Path, fmt: str, name: str) -> None:
    with pytest.raises(ConfigError, match="cannot store a 'fisheye624' camera"):
        save_calibration(_rig(), tmp_path / name, fmt)
