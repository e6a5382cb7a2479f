"""The ``aria`` calibration format: load_calibration(path, "aria") on the real files, projections
against Aria's equations and projectaria-tools, rig files, ``calibrate convert``, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sensorfusion import ConfigError, detect_calibration_format, load_calibration, save_calibration
from sensorfusion.geometry import project, unproject


def aria_project(params: list[float], points: np.ndarray) -> np.ndarray:
    """Aria's Fisheye624 written out from FACTS (independent of the SDK's kernels)."""
    f, cu, cv, k0, k1, k2, k3, k4, k5, p0, p1, s0, s1, s2, s3 = params
    a, b = points[:, 0] / points[:, 2], points[:, 1] / points[:, 2]
    r = np.sqrt(a * a + b * b)
    th = np.arctan(r)
    th2 = th * th
    thd = th * (1 + th2 * (k0 + th2 * (k1 + th2 * (k2 + th2 * (k3 + th2 * (k4 + th2 * k5))))))
    xr, yr = thd / r * a, thd / r * b
    rd2 = xr * xr + yr * yr
    up = xr + (2 * xr * xr + rd2) * p0 + 2 * xr * yr * p1 + s0 * rd2 + s1 * rd2 * rd2
    vp = yr + (2 * yr * yr + rd2) * p1 + 2 * xr * yr * p0 + s2 * rd2 + s3 * rd2 * rd2
    return np.stack([f * up + cu, f * vp + cv], axis=-1)


def test_load_calibration_aria_matches_the_json_exactly(mps: Path):
    path = mps / "online_calibration.jsonl"
    assert detect_calibration_format(path) == "aria"
    cal = load_calibration(path, "aria")
    raw = json.loads(path.read_text().splitlines()[0])["CameraCalibrations"]
    assert sorted(cal.sensors) == sorted(c["Label"] for c in raw)
    rng = np.random.default_rng(0)
    pts = np.c_[rng.uniform(-1, 1, (500, 2)), rng.uniform(0.3, 2.0, 500)]
    for c in raw:
        sc = cal.sensors[c["Label"]]
        assert sc.camera.model == "fisheye624"
        assert list(sc.camera.params) == c["Projection"]["Params"]  # bit for bit
        assert sc.mount.device == "aria"
        assert np.array_equal(sc.mount.device_from_sensor.translation_m, c["T_Device_Camera"]["Translation"])
        uv = project(sc.camera, pts, tier="numpy")
        assert np.abs(uv - aria_project(c["Projection"]["Params"], pts)).max() <= 1e-6
    # another record of the JSONL, and a camera subset
    last = load_calibration(path, "aria", record=-1, labels=["camera-slam-left"])
    assert list(last.sensors) == ["camera-slam-left"]
    assert last.sensors["camera-slam-left"].camera.params != cal.sensors["camera-slam-left"].camera.params


def test_against_projectaria_tools(mps: Path, projectaria: None):
    from projectaria_tools.core import mps as aria_mps

    path = mps / "online_calibration.jsonl"
    theirs = aria_mps.read_online_calibration(str(path))[0]
    ours = load_calibration(path, "aria")
    for label in ("camera-slam-left", "camera-slam-right", "camera-rgb"):
        cc = theirs.get_camera_calib(label)
        cam = ours.sensors[label].camera
        assert (cam.width, cam.height) == tuple(int(x) for x in cc.get_image_size())
        assert np.allclose(
            ours.sensors[label].mount.device_from_sensor.matrix,
            cc.get_transform_device_camera().to_matrix(),
            atol=1e-12,
        )
        w, h = cam.width, cam.height
        grid = np.stack(np.meshgrid(np.linspace(0.3 * w, 0.7 * w, 9), np.linspace(0.3 * h, 0.7 * h, 9)), -1).reshape(
            -1, 2
        )
        rays = unproject(cam, grid, tier="numpy")
        for ray, px in zip(rays, grid, strict=True):
            back = cc.project(ray)
            assert back is not None and np.abs(np.asarray(back) - px).max() < 1e-6


def test_vrs_factory_calibration_loads_through_the_format(gen1_vrs: Path, projectaria: None):
    cal = load_calibration(gen1_vrs)  # sniffed from the .vrs suffix
    assert {"camera-slam-left", "camera-slam-right", "camera-rgb"} <= set(cal.sensors)
    assert cal.sensors["camera-rgb"].camera.width == 1408


def test_rig_file_and_calibrate_convert(mps: Path, tmp_path: Path):
    from sensorfusion.cli import main as cli_main

    src = mps / "online_calibration.jsonl"
    as_json = tmp_path / "rig_cal.json"
    assert cli_main(["calibrate", "convert", str(src), str(as_json), "--to", "sensorfusion"]) == 0
    back = tmp_path / "device.aria.json"
    assert cli_main(["calibrate", "convert", str(as_json), str(back), "--to", "aria"]) == 0
    again = load_calibration(back, "aria")
    orig = load_calibration(src, "aria")
    for label, sc in orig.sensors.items():
        assert again.sensors[label].camera == sc.camera
        assert (
            np.abs(again.sensors[label].mount.device_from_sensor.matrix - sc.mount.device_from_sensor.matrix).max()
            < 1e-12
        )
    assert again.sensors["camera-rgb"].camera.width == 2880  # the size travels in the SDK's ImageSize key


def test_a_rig_file_names_the_aria_format(mps: Path, adt: Path, tmp_path: Path, projectaria: None):
    from sensorfusion.plugins import PluginHost
    from sensorfusion.scheduler import build_rig
    from sensorfusion.schema import load_rig

    slam = load_calibration(mps / "online_calibration.jsonl", "aria", labels=["camera-slam-left", "camera-slam-right"])
    cal_file = tmp_path / "slam.aria.json"
    save_calibration(slam, cal_file)  # the pattern picks the aria format
    rig = load_rig(
        text=f"""
name: aria-cal
sensors:
  - id: aria
    driver: aria.recording
    params: {{vrs: {adt / "video.vrs"}, trajectory: {adt / "aria_trajectory.csv"}}}
calibration: {{file: {cal_file}, format: aria}}
"""
    )
    built = build_rig(rig, PluginHost(), base_dir=tmp_path)
    right = built.calibration.sensors["camera-slam-right"]
    assert right.camera == slam.sensors["camera-slam-right"].camera  # the file overrides the VRS's own
    assert right.mount.device == "aria"


def test_bad_aria_calibrations_are_clear_errors(mps: Path, tmp_path: Path):
    path = mps / "online_calibration.jsonl"
    with pytest.raises(ConfigError, match="no camera with this label") as e:
        load_calibration(path, "aria", labels=["camera-slam-left", "camera-slam-middle"])
    assert e.value.value == "camera-slam-middle" and "camera-slam-right" in e.value.choices
    record = json.loads(path.read_text().splitlines()[0])
    record["CameraCalibrations"][0]["Projection"]["Params"] = record["CameraCalibrations"][0]["Projection"]["Params"][
        :12
    ]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(record))
    with pytest.raises(ConfigError, match="needs 15 parameters"):
        load_calibration(bad, "aria")
    cal = load_calibration(path, "aria")
    from sensorfusion.schema import KannalaBrandtCamera, RigCalibration, SensorCalibration

    mixed = RigCalibration(
        sensors={
            **cal.sensors,
            "kb": SensorCalibration(camera=KannalaBrandtCamera(width=8, height=8, fx=4, fy=4, cx=4, cy=4)),
        }
    )
    with pytest.raises(ConfigError, match="stores Fisheye624 cameras"):
        save_calibration(mixed, tmp_path / "x.aria.json", "aria")
