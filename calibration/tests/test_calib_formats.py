"""Calibration formats: real files, Pose2Sim's own conversion, round trips through every writable format."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from sensorfusion_calibration import FORMATS, detect_format, load_calibration, save_calibration
from sensorfusion_calibration.formats._common import camera_from_world_rt

from sensorfusion import ConfigError
from sensorfusion.schema import KannalaBrandtCamera, PinholeCamera, RigCalibration, SensorCalibration, Transform

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))
P2S = DATA / "pose2sim-demo-single"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"test data not found: {path} (set SENSORFUSION_TEST_DATA)")
    return path


def _project(points_w: np.ndarray, cal: RigCalibration, sid: str) -> np.ndarray:
    """Independent projection through OpenCV (cv2.projectPoints / cv2.fisheye.projectPoints)."""
    s = cal.sensors[sid]
    cam = s.camera
    r, t = camera_from_world_rt(s.world_from_sensor)
    rvec = cv2.Rodrigues(r)[0]
    pts = np.ascontiguousarray(points_w, dtype=np.float64).reshape(-1, 1, 3)
    if isinstance(cam, KannalaBrandtCamera):
        k = np.array([[cam.fx, 0, cam.cx], [0, cam.fy, cam.cy], [0, 0, 1.0]])
        uv, _ = cv2.fisheye.projectPoints(pts, rvec, t, k, np.array([cam.k1, cam.k2, cam.k3, cam.k4]))
    else:
        assert isinstance(cam, PinholeCamera)
        uv, _ = cv2.projectPoints(pts, rvec, t, cam.K, cam.dist_coeffs)
    return np.asarray(uv).reshape(-1, 2)


def _read_trc(path: Path) -> np.ndarray:
    rows = [line.split("\t") for line in path.read_text().splitlines()[5:] if line.strip()]
    vals = np.array([[float(x) for x in r[2:] if x.strip()] for r in rows])
    trc = vals.reshape(len(rows), -1, 3)
    # Pose2Sim writes the Z-up world Y-up for OpenSim: trc (X, Y, Z) = world (Y, Z, X)
    return np.stack([trc[..., 2], trc[..., 0], trc[..., 1]], axis=-1)


def test_pose2sim_toml_and_qca_give_pose2sims_pixels() -> None:
    toml_cal = load_calibration(_need(P2S / "calibration" / "Calib_qualisys.toml"))
    qca_cal = load_calibration(_need(P2S / "calibration" / "Calib.qca.txt"), distortion="pose2sim")
    assert detect_format(P2S / "calibration" / "Calib.qca.txt") == "qualisys"
    assert detect_format(P2S / "calibration" / "Calib_qualisys.toml") == "pose2sim"
    assert sorted(toml_cal.sensors) == sorted(qca_cal.sensors) == ["cam_01", "cam_02", "cam_03", "cam_04"]
    pts = _read_trc(_need(P2S / "trial" / "pose-3d" / "S00_P00_T01_BalancingTrial_0-100.trc")).reshape(-1, 3)
    pts = pts[np.isfinite(pts).all(axis=1)]
    for sid in toml_cal.sensors:
        a, b = _project(pts, toml_cal, sid), _project(pts, qca_cal, sid)
        assert np.abs(a - b).max() < 1e-6
        cam = toml_cal.camera(sid)
        inside = (a[:, 0] > 0) & (a[:, 0] < cam.width) & (a[:, 1] > 0) & (a[:, 1] < cam.height)
        assert inside.mean() > 0.95  # the person is in every camera's view
    # the raw reading keeps the undivided distortion that checkerboards give
    raw = load_calibration(P2S / "calibration" / "Calib.qca.txt")
    cam = raw.camera("cam_01")
    assert isinstance(cam, PinholeCamera)
    assert cam.k1 == pytest.approx(-0.046183) and cam.k2 == pytest.approx(0.139983)


def test_panoptic_reads_centimetres_as_metres() -> None:
    path = _need(DATA / "multiview" / "panoptic" / "160906_band1" / "calibration_160906_band1.json")
    cal = load_calibration(path, types=["hd"])
    assert len(cal.sensors) == 31
    cam = cal.camera("00_00")
    assert isinstance(cam, PinholeCamera)
    assert (cam.width, cam.height) == (1920, 1080)
    assert cam.k3 == pytest.approx(0.0238445)
    # camera centres of the dome lie a few metres from the origin
    centres = np.array([s.world_from_sensor.translation_m for s in cal.sensors.values()])
    radius = np.linalg.norm(centres, axis=1)
    assert 2.0 < np.median(radius) < 6.0


def _random_rig(rng: np.random.Generator, n: int, *, fisheye: bool = False, k3: bool = True) -> RigCalibration:
    sensors = {}
    for i in range(n):
        w, h = int(rng.integers(320, 2000)), int(rng.integers(240, 2000))
        f = float(rng.uniform(300, 2000))
        cam: PinholeCamera | KannalaBrandtCamera
        if fisheye and i % 2:
            cam = KannalaBrandtCamera(width=w, height=h, fx=f, fy=f * rng.uniform(0.98, 1.02), cx=w / 2 + rng.normal(0, 5),
                                      cy=h / 2 + rng.normal(0, 5), k1=rng.normal(0, 0.05), k2=rng.normal(0, 0.01),
                                      k3=rng.normal(0, 0.005), k4=rng.normal(0, 0.001))  # fmt: skip
        else:
            cam = PinholeCamera(width=w, height=h, fx=f, fy=f * rng.uniform(0.98, 1.02), cx=w / 2 + rng.normal(0, 5),
                                cy=h / 2 + rng.normal(0, 5), k1=rng.normal(0, 0.1), k2=rng.normal(0, 0.05),
                                p1=rng.normal(0, 1e-3), p2=rng.normal(0, 1e-3), k3=rng.normal(0, 0.01) if k3 else 0.0)  # fmt: skip
        wfc = Transform.from_rotvec(rng.normal(0, 1.5, 3), rng.normal(0, 3, 3))
        sensors[f"cam{i}"] = SensorCalibration(camera=cam, world_from_sensor=wfc)
    return RigCalibration(sensors=sensors)


# (format, file name, options, supports k3, supports fisheye, keeps the world frame)
_WRITABLE = [
    ("sensorfusion", "rig.json", {}, True, True, True),
    ("pose2sim", "Calib.toml", {}, True, True, True),
    ("aniposelib", "calibration.toml", {}, True, True, True),
    ("qualisys", "calib.qca.txt", {}, True, False, True),
    ("qualisys", "calib.qca.txt", {"distortion": "pose2sim"}, False, False, True),
    ("opencv", "calib.yml", {}, True, True, True),
    ("opencv", "calib.xml", {}, True, True, True),
    ("easymocap", "intri.yml", {}, True, False, True),
    ("panoptic", "calibration.json", {}, True, False, True),
    ("kalibr", "camchain.yaml", {}, False, True, False),
]


@pytest.mark.parametrize(("fmt", "name", "opts", "k3", "fisheye", "world"), _WRITABLE)
def test_round_trip_preserves_projections(
    tmp_path: Path, fmt: str, name: str, opts: dict[str, str], k3: bool, fisheye: bool, world: bool
) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{fmt}{name}{sorted(opts.items())}".encode()))
    for n in (1, 3):
        rig = _random_rig(rng, n, fisheye=fisheye, k3=k3)
        path = tmp_path / f"{n}" / name
        path.parent.mkdir()
        save_calibration(rig, path, fmt, **opts)
        assert detect_format(path) == fmt
        back = load_calibration(path, fmt, **opts)
        ids = list(back.sensors)
        assert len(ids) == n
        for sid, bid in zip(rig.sensors, ids, strict=True):
            first = rig.sensors[next(iter(rig.sensors))].world_from_sensor
            # points in front of the camera: 1..5 m along its z, within its field of view
            cam = rig.sensors[sid]
            z = rng.uniform(1, 5, 200)
            xy = rng.uniform(-0.4, 0.4, (200, 2)) * z[:, None]
            pts_w = cam.world_from_sensor.apply(np.column_stack([xy, z]))
            a = _project(pts_w, rig, sid)
            if not world:  # the format keeps poses relative to the first camera only
                pts_w = back.sensors[ids[0]].world_from_sensor.apply(first.inverse().apply(pts_w))
            b = _project(pts_w, back, bid)
            assert np.abs(a - b).max() <= 1e-6, (fmt, sid)


def test_unknown_format_names_the_choices(tmp_path: Path) -> None:
    rig = _random_rig(np.random.default_rng(0), 1)
    with pytest.raises(ConfigError, match="valid choices: sensorfusion, pose2sim"):
        save_calibration(rig, tmp_path / "x", "colmap")
    with pytest.raises(ConfigError, match="unknown calibration format"):
        load_calibration(tmp_path / "x", "colmap")
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    with pytest.raises(ConfigError, match="cannot tell the calibration format"):
        load_calibration(junk)


def test_formats_refuse_what_they_cannot_store(tmp_path: Path) -> None:
    rig = _random_rig(np.random.default_rng(1), 2, fisheye=True)
    with pytest.raises(ConfigError, match="cannot store a 'kannala_brandt' camera"):
        save_calibration(rig, tmp_path / "c.qca.txt", "qualisys")
    with pytest.raises(ConfigError, match="distortion mode"):
        load_calibration(_need(P2S / "calibration" / "Calib.qca.txt"), distortion="divide")


def test_easymocap_accepts_the_folder_or_either_file(tmp_path: Path) -> None:
    rig = _random_rig(np.random.default_rng(2), 2)
    save_calibration(rig, tmp_path, "easymocap")
    for p in (tmp_path, tmp_path / "intri.yml", tmp_path / "extri.yml"):
        assert detect_format(p) == "easymocap"
        assert sorted(load_calibration(p).sensors) == ["cam0", "cam1"]
    assert FORMATS[0] == "sensorfusion"
