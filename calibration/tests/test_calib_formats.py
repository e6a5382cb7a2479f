"""Calibration formats: real files, Pose2Sim's own conversion, round trips through every writable format."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

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
    ("freemocap", "rec_camera_calibration.toml", {}, True, False, True),
    ("caliscope", "config.toml", {}, True, True, True),
    ("caliscope", "camera_array.toml", {}, True, True, True),
    ("voxelpose", "calibration_shelf.json", {}, True, False, True),
    ("voxelpose", "cams.json", {"image_size": (640, 480)}, True, False, True),
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
        save_calibration(rig, path, fmt, **{k: v for k, v in opts.items() if k != "image_size"})
        assert detect_format(path) == fmt  # sniffed, and no other installed format claims it
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


def _worst_px(a: RigCalibration, b: RigCalibration, rng: np.random.Generator) -> float:
    """Largest projection difference over points in front of each camera of ``a`` (cameras in order)."""
    worst = 0.0
    for sid, bid in zip(a.sensors, b.sensors, strict=True):
        z = rng.uniform(1, 5, 200)
        xy = rng.uniform(-0.4, 0.4, (200, 2)) * z[:, None]
        pts_w = a.sensors[sid].world_from_sensor.apply(np.column_stack([xy, z]))
        worst = max(worst, float(np.abs(_project(pts_w, a, sid) - _project(pts_w, b, bid)).max()))
    return worst


def test_file_names_pick_the_writer_format(tmp_path: Path) -> None:
    from sensorfusion.plugins import get_plugin_host

    pick = get_plugin_host().calibration_formats.for_output
    expect = {
        "rig.json": "sensorfusion", "Calib.toml": "pose2sim", "calibration.toml": "aniposelib",
        "config.toml": "caliscope", "camera_array.toml": "caliscope", "x_camera_calibration.toml": "freemocap",
        "c.qca.txt": "qualisys", "c.yml": "opencv", "intri.yml": "easymocap", "calibration_shelf.json": "voxelpose",
        "calibration_160906.json": "panoptic", "camchain.yaml": "kalibr",
    }  # fmt: skip
    assert {name: pick(tmp_path / name) for name in expect} == expect


def test_anipose_is_aniposelib(tmp_path: Path) -> None:
    rig = _random_rig(np.random.default_rng(3), 2)
    save_calibration(rig, tmp_path / "calibration.toml", "anipose")
    assert detect_format(tmp_path / "calibration.toml") == "aniposelib"
    back = load_calibration(tmp_path / "calibration.toml", "anipose")
    assert _worst_px(rig, back, np.random.default_rng(0)) <= 1e-6


def _voxelpose_pixels(points_w_m: np.ndarray, cam: dict[str, Any]) -> np.ndarray:
    """VoxelPose's own projection (lib/utils/cameras_cpu.py: project_point_radial), written out:
    camera coordinates R (X - T) in mm, radial 1 + k1 r^2 + k2 r^4 + k3 r^6, and its tangential term."""
    r, t = np.asarray(cam["R"]), np.asarray(cam["T"]).reshape(3, 1)
    k, p = np.asarray(cam["k"]).ravel(), np.asarray(cam["p"]).ravel()
    xc = r @ (points_w_m.T * 1000.0 - t)
    y = xc[:2] / xc[2]
    r2 = (y**2).sum(0)
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tan = p[0] * y[1] + p[1] * y[0]
    y = y * (radial + 2 * tan) + np.outer([p[1], p[0]], r2)
    return (np.array([[cam["fx"]], [cam["fy"]]]) * y + np.array([[cam["cx"]], [cam["cy"]]])).T


def test_voxelpose_centre_in_mm_and_distortion_match_voxelposes_projection(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    cams = {}
    for i in range(3):
        wfc = Transform.from_rotvec(rng.normal(0, 1.0, 3), rng.normal(0, 3, 3))
        r, _ = camera_from_world_rt(wfc)
        cams[str(i)] = {
            "R": np.round(r, 6).tolist(),  # six decimals, as the published files
            "T": [[float(x) * 1000.0] for x in wfc.translation_m],
            "fx": float(rng.uniform(400, 1200)), "fy": float(rng.uniform(400, 1200)),
            "cx": float(rng.uniform(150, 550)), "cy": float(rng.uniform(120, 400)),
            "k": [[float(rng.normal(0, 0.1))], [float(rng.normal(0, 0.05))], [float(rng.normal(0, 0.01))]],
            "p": [[float(rng.normal(0, 1e-3))], [float(rng.normal(0, 1e-3))]],
        }  # fmt: skip
    path = tmp_path / "calibration_campus.json"
    path.write_text(json.dumps(cams))
    assert detect_format(path) == "voxelpose"
    cal = load_calibration(path)
    assert list(cal.sensors) == ["0", "1", "2"]
    assert (cal.camera("0").width, cal.camera("0").height) == (360, 288)  # Campus' image size
    for sid, cam in cams.items():
        s = cal.sensors[sid]
        centre = np.asarray(cam["T"]).ravel() / 1000.0
        assert np.abs(np.asarray(s.world_from_sensor.translation_m) - centre).max() < 1e-12
        z = rng.uniform(1, 5, 200)
        xy = rng.uniform(-0.3, 0.3, (200, 2)) * z[:, None]
        pts_w = s.world_from_sensor.apply(np.column_stack([xy, z]))
        # VoxelPose uses the 6-decimal R as is; the reader re-orthonormalises it, which moves
        # a pixel by a few 1e-4 at most on these cameras
        assert np.abs(_project(pts_w, cal, sid) - _voxelpose_pixels(pts_w, cam)).max() < 5e-3


def test_freemocap_reads_both_generations(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    rig = _random_rig(rng, 3)
    v1 = tmp_path / "v1_camera_calibration.toml"
    save_calibration(rig, v1, "freemocap")
    text = v1.read_text()
    assert "world_position" in text and "world_orientation" in text
    # FreeMoCap 2.x: tables keyed by camera id, an index, and a board in the metadata
    import toml

    data = toml.loads(text)
    v2 = {t["id"]: {k: v for k, v in t.items()} for k, t in data.items() if k != "metadata"}
    v2["metadata"] = {"reprojection_error_px": 0.4, "board": {"squares_x": 5, "squares_y": 3}}
    (tmp_path / "v2.toml").write_text(toml.dumps(v2))
    for p in (v1, tmp_path / "v2.toml"):
        assert detect_format(p) == "freemocap"
        back = load_calibration(p)
        assert list(back.sensors) == ["cam0", "cam1", "cam2"]
        assert _worst_px(rig, back, rng) <= 1e-6
    # translation in millimetres: a 1 m offset is 1000 in the file
    cam = data["cam_0"]
    assert np.allclose(np.asarray(cam["world_position"]) / 1000.0, rig.sensors["cam0"].world_from_sensor.translation_m)


def test_caliscope_config_toml_as_caliscope_keeps_it(tmp_path: Path) -> None:
    """A config.toml laid out as caliscope writes it: project settings, [charuco], a camera not
    calibrated yet and one the user ignored, rotation as a 3x3 matrix (older files)."""
    import toml

    rng = np.random.default_rng(5)
    rig = _random_rig(rng, 2, fisheye=True)
    doc: dict[str, Any] = {"fps_recording": 24, "camera_count": 4, "charuco": {"columns": 4, "rows": 5, "units": "inch"},
                           "capture_volume": {"stage": 2}}  # fmt: skip
    for i, s in enumerate(rig.sensors.values()):
        cam = s.camera
        r, t = camera_from_world_rt(s.world_from_sensor)
        fisheye = isinstance(cam, KannalaBrandtCamera)
        dist = [cam.k1, cam.k2, cam.k3, cam.k4] if fisheye else [cam.k1, cam.k2, cam.p1, cam.p2, cam.k3]
        doc[f"cam_{i}"] = {"cam_id": i, "rotation_count": 0, "error": 0.3, "exposure": -7, "grid_count": 20, "ignore": False,
                           "size": [cam.width, cam.height], "matrix": [[cam.fx, 0.0, cam.cx], [0.0, cam.fy, cam.cy], [0.0, 0.0, 1.0]],
                           "distortions": dist, "translation": t.tolist(), "rotation": r.tolist(), "fisheye": fisheye}  # fmt: skip
    doc["cam_2"] = {"cam_id": 2, "size": [1280, 720], "exposure": -7, "ignore": False}  # not calibrated
    doc["cam_3"] = {**doc["cam_0"], "cam_id": 3, "ignore": True}
    path = tmp_path / "config.toml"
    path.write_text(toml.dumps(doc))
    assert detect_format(path) == "caliscope"
    back = load_calibration(path, "caliscope")
    assert list(back.sensors) == ["cam_0", "cam_1"]
    assert _worst_px(rig, back, rng) <= 1e-6
    assert "cam_3" in load_calibration(path, "caliscope", include_ignored=True).sensors
    # export, and the project's settings are not needed to read it back
    out = tmp_path / "export" / "camera_array.toml"
    save_calibration(back, out)
    assert detect_format(out) == "caliscope" and "[cameras.0]" in out.read_text()
    assert _worst_px(back, load_calibration(out), rng) <= 1e-6


def test_convert_through_the_new_formats(tmp_path: Path) -> None:
    from sensorfusion.cli import main

    rig = _random_rig(np.random.default_rng(9), 2)
    src = tmp_path / "rig.json"
    save_calibration(rig, src)
    assert main(["calibrate", "convert", str(src), str(tmp_path / "config.toml")]) == 0
    assert main(["calibrate", "convert", str(tmp_path / "config.toml"), str(tmp_path / "c.json"), "--to", "mmpose"]) == 0
    assert main(["calibrate", "convert", str(tmp_path / "c.json"), str(tmp_path / "f_camera_calibration.toml")]) == 0
    back = load_calibration(tmp_path / "f_camera_calibration.toml")
    assert _worst_px(rig, back, np.random.default_rng(1)) <= 1e-6
    assert main(["calibrate", "convert", str(src), str(tmp_path / "x.toml"), "--to", "colmap"]) == 2
