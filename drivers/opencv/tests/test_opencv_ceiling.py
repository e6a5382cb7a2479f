"""Ceiling (overhead) fisheye cameras through the OpenCV drivers: a declared mounting, fisheye lenses only."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from sensorfusion_opencv import ImageFolderDriver, RigDriver, VideoFileDriver

from sensorfusion import ConfigError, DriverContext, RigCalibration, SensorCalibration
from sensorfusion.geometry import read_ocamcalib
from sensorfusion.schema import CeilingMount, PinholeCamera


def _write_calibration(path: Path, sensors: dict[str, SensorCalibration]) -> Path:
    path.write_text(RigCalibration(sensors=sensors).model_dump_json(), encoding="utf-8")
    return path


@pytest.mark.needs_data
def test_real_omnidirectional_image_on_the_ceiling(tmp_path: Path, media: SimpleNamespace) -> None:
    """The real OCamCalib image and calibration, mounted 3 m up and tilted 5 degrees."""
    OCAM = media.data / "fisheye" / "ocamcalib"
    if not (OCAM / "example.jpg").is_file():
        pytest.skip(f"reference data missing: {OCAM}")
    # the calibration is of the image with 300 px cropped on the left and 320 on the right (its file says so)
    img = cv2.imread(str(OCAM / "example.jpg"))
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "f0.png"), img[:, 300:1600])
    cal_file = _write_calibration(
        tmp_path / "cal.json", {"ceil0": SensorCalibration(camera=read_ocamcalib(OCAM / "calib_results.txt"))}
    )
    mount = {
        "height_m": 3.0,
        "position_m": (1.0, 2.0),
        "yaw_rad": 0.5,
        "tilt_rad": math.radians(5.0),
        "tilt_azimuth_rad": 1.0,
    }
    drv = ImageFolderDriver(ImageFolderDriver.Params.model_validate({"path": str(folder), "calibration": str(cal_file), "ceiling": mount}),
                            DriverContext("ceil0", realtime=False))  # fmt: skip
    cal = drv.calibration()
    assert cal is not None
    entry = cal.sensors["ceil0"]
    assert entry.camera is not None and entry.camera.model == "scaramuzza"
    back = CeilingMount.from_pose(entry.world_from_sensor)
    assert back.height_m == pytest.approx(3.0) and back.tilt_rad == pytest.approx(math.radians(5.0))
    assert back.position_m == pytest.approx((1.0, 2.0)) and back.yaw_rad == pytest.approx(0.5)
    drv.open()
    frames = drv.read()
    drv.close()
    assert frames[0]["image"].shape == (1080, 1300, 3)
    # the overhead plugin takes it as a ceiling camera
    overhead = pytest.importorskip("sensorfusion_overhead")
    oc = overhead.OverheadCamera.from_calibration(cal, "ceil0")
    assert oc.height_m == pytest.approx(3.0)
    floor = np.array([[3.0, 5.0]])  # a floor point 3.6 m from below the camera: inside this lens' 50-117 degree ring
    assert oc.floor_points(oc.floor_to_pixels(floor)) == pytest.approx(floor, abs=1e-3)


def test_ceiling_camera_needs_a_fisheye_calibration(tmp_path: Path, media: SimpleNamespace) -> None:
    video = media.write_video(tmp_path / "v.avi", 3, 10.0)
    ctx = DriverContext("ceil0", realtime=False)
    # no calibration at all
    with pytest.raises(ConfigError) as exc:
        VideoFileDriver(
            VideoFileDriver.Params.model_validate({"path": str(video), "ceiling": {"height_m": 3.0}}), ctx
        ).streams()
    assert exc.value.field_path == "sensors[ceil0].params.calibration" and "fisheye" in str(exc.value)
    # a pinhole calibration
    pin = PinholeCamera(width=64, height=48, fx=50.0, fy=50.0, cx=31.5, cy=23.5)
    cal_file = _write_calibration(tmp_path / "pin.json", {"ceil0": SensorCalibration(camera=pin)})
    with pytest.raises(ConfigError) as exc2:
        VideoFileDriver(
            VideoFileDriver.Params.model_validate(
                {"path": str(video), "calibration": str(cal_file), "ceiling": {"height_m": 3.0}}
            ),
            ctx,
        ).streams()
    assert exc2.value.field_path == "sensors[ceil0].params.calibration"
    assert exc2.value.choices is not None and "kannala_brandt" in exc2.value.choices
    # a mount without a height
    with pytest.raises(Exception, match="height_m"):
        VideoFileDriver.Params.model_validate({"path": str(video), "ceiling": {"position_m": (0.0, 0.0)}})
    # the same pinhole camera without `ceiling:` is an ordinary camera (unchanged behaviour)
    drv = VideoFileDriver(
        VideoFileDriver.Params.model_validate({"path": str(video), "calibration": str(cal_file)}), ctx
    )
    assert drv.calibration().sensors["ceil0"].world_from_sensor.translation_m == (0.0, 0.0, 0.0)  # type: ignore[union-attr]


def test_rig_of_ceiling_cameras(tmp_path: Path, media: SimpleNamespace) -> None:
    from sensorfusion.schema import KannalaBrandtCamera

    a = media.write_folder(tmp_path / "a", 3)
    b = media.write_folder(tmp_path / "b", 3)
    kb = KannalaBrandtCamera(width=64, height=48, fx=15.0, fy=15.0, cx=31.5, cy=23.5)
    cal_file = _write_calibration(
        tmp_path / "cal.json", {"a": SensorCalibration(camera=kb), "b": SensorCalibration(camera=kb)}
    )
    params = {"views": {"a": {"source": str(a), "ceiling": {"height_m": 2.8, "position_m": (-2.0, 0.0)}},
                        "b": {"source": str(b), "ceiling": {"height_m": 3.2, "position_m": (2.0, 0.0), "yaw_rad": 1.0}}},
              "calibration": str(cal_file), "fps": 10}  # fmt: skip
    drv = RigDriver(RigDriver.Params.model_validate(params), DriverContext("rig", realtime=False))
    cal = drv.calibration()
    assert cal is not None
    ma, mb = (CeilingMount.from_pose(cal.sensors[v].world_from_sensor) for v in ("a", "b"))
    assert (ma.height_m, *ma.position_m) == pytest.approx((2.8, -2.0, 0.0))
    assert (mb.height_m, mb.yaw_rad) == pytest.approx((3.2, 1.0))
    with pytest.raises(ConfigError) as exc:
        RigDriver(
            RigDriver.Params.model_validate({**params, "calibration": None}), DriverContext("rig", realtime=False)
        ).streams()
    assert exc.value.field_path == "sensors[rig].params.calibration"
