"""Boards and intrinsics: OpenCV's ChArUco reference, Pose2Sim's checkerboards, fisheye/omni, bad input."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from sensorfusion_calibration import load_calibration
from sensorfusion_calibration._boards import BoardDetection, detect_board, iter_frames, parse_board
from sensorfusion_calibration._intrinsics import CalibrationError, calibrate_intrinsics

from sensorfusion import ConfigError

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))
CACHE = Path.home() / ".cache" / "sensorfusion" / "pose2sim-0.10.49"


def _charuco_ref() -> tuple[Path, dict[str, float]]:
    folder = DATA / "calibration" / "charuco-opencv"
    if not (folder / "tutorial_camera_charuco.yml").exists():
        pytest.skip(f"test data not found: {folder}")
    fs = cv2.FileStorage(str(folder / "tutorial_camera_charuco.yml"), cv2.FILE_STORAGE_READ)
    k = fs.getNode("camera_matrix").mat()
    rms = fs.getNode("avg_reprojection_error").real()
    fs.release()
    return folder, {"fx": float(k[0, 0]), "fy": float(k[1, 1]), "rms": float(rms)}


def test_charuco_matches_opencvs_reference() -> None:
    folder, ref = _charuco_ref()
    board = parse_board("charuco:5x7:0.04:0.02:DICT_6X6_250")
    dets = [detect_board(img, board, source=n) for n, img in iter_frames([folder])]
    assert all(d is not None and d.count == 24 for d in dets)
    res = calibrate_intrinsics([d for d in dets if d is not None], board)
    assert abs(res.camera.fx / ref["fx"] - 1) < 0.01
    assert abs(res.camera.fy / ref["fy"] - 1) < 0.01
    assert res.rms_px <= ref["rms"] + 0.05
    print(f"charuco fx {res.camera.fx:.2f} (ref {ref['fx']:.2f}), fy {res.camera.fy:.2f} (ref {ref['fy']:.2f}), "
          f"RMS {res.rms_px:.4f} (ref {ref['rms']:.4f})")  # fmt: skip


def _pose2sim_images() -> Path:
    root = CACHE / "extracted" / "Pose2Sim" / "Demo_SinglePerson" / "calibration" / "intrinsics"
    if root.exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = list(CACHE.glob("pose2sim-0.10.49-*.whl"))
    if not wheels:
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "pose2sim==0.10.49", "-d", str(CACHE), "-q"],
                           check=True, capture_output=True, timeout=300)  # fmt: skip
        except (subprocess.SubprocessError, OSError) as e:
            pytest.skip(f"cannot fetch the pose2sim 0.10.49 wheel from PyPI: {e}")
        wheels = list(CACHE.glob("pose2sim-0.10.49-*.whl"))
        if not wheels:
            pytest.skip("pip download gave no pose2sim 0.10.49 wheel")
    with zipfile.ZipFile(wheels[0]) as z:
        members = [m for m in z.namelist() if "/calibration/intrinsics/int_cam" in m and m.endswith(".jpg")]
        z.extractall(CACHE / "extracted", members)
    return root


def test_pose2sim_checkerboards_match_the_qualisys_focal_lengths() -> None:
    toml_path = DATA / "pose2sim-demo-single" / "calibration" / "Calib_qualisys.toml"
    if not toml_path.exists():
        pytest.skip(f"test data not found: {toml_path}")
    ref = load_calibration(toml_path)
    root = _pose2sim_images()
    board = parse_board("checkerboard:4x7:0.06")
    for i in range(1, 5):
        dets = [detect_board(img, board, source=n) for n, img in iter_frames([root / f"int_cam0{i}_img"])]
        res = calibrate_intrinsics([d for d in dets if d is not None], board, camera=f"cam0{i}")
        want = ref.camera(f"cam_0{i}")
        err_x, err_y = res.camera.fx / want.fx - 1, res.camera.fy / want.fy - 1  # type: ignore[union-attr]
        print(f"cam0{i}: fx err {err_x:+.4%}, fy err {err_y:+.4%}, RMS {res.rms_px:.3f} px, k1 {res.camera.k1:.4f}")  # type: ignore[union-attr]
        assert abs(err_x) < 0.01 and abs(err_y) < 0.01
        assert res.rms_px < 0.5


def _synthetic_views(
    project: object, size: tuple[int, int], n: int = 12, seed: int = 0
) -> tuple[list[BoardDetection], object]:
    board = parse_board("checkerboard:9x6:0.03")
    rng = np.random.default_rng(seed)
    grid = board.object_points()
    dets = []
    for v in range(n):
        rvec = rng.normal(0, 0.35, 3)
        tvec = np.array([rng.uniform(-0.2, 0.0), rng.uniform(-0.15, 0.0), rng.uniform(0.25, 0.45)])
        uv = project(grid, rvec, tvec)  # type: ignore[operator]
        dets.append(BoardDetection(f"v{v}", np.arange(len(grid)), uv + rng.normal(0, 0.1, uv.shape), size))
    return dets, board


def test_fisheye_recovers_a_kannala_brandt_camera() -> None:
    k = np.array([[300.0, 0, 320], [0, 302.0, 240], [0, 0, 1]])
    d = np.array([0.08, -0.02, 0.005, -0.001])

    def proj(g: np.ndarray, r: np.ndarray, t: np.ndarray) -> np.ndarray:
        return cv2.fisheye.projectPoints(g.reshape(-1, 1, 3), r, t, k, d)[0].reshape(-1, 2)

    dets, board = _synthetic_views(proj, (640, 480))
    res = calibrate_intrinsics(dets, board, model="fisheye")  # type: ignore[arg-type]
    assert res.camera.model == "kannala_brandt"
    assert res.camera.fx == pytest.approx(300.0, rel=2e-3) and res.camera.fy == pytest.approx(302.0, rel=2e-3)  # type: ignore[union-attr]
    assert res.rms_px < 0.2


def test_omni_recovers_a_double_sphere_camera() -> None:
    fx, fy, cx, cy, xi, alpha = 250.0, 252.0, 320.0, 240.0, -0.2, 0.6

    def proj(g: np.ndarray, r: np.ndarray, t: np.ndarray) -> np.ndarray:
        p = g @ cv2.Rodrigues(r)[0].T + t
        d1 = np.linalg.norm(p, axis=1)
        zz = xi * d1 + p[:, 2]
        d2 = np.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2 + zz**2)
        den = alpha * d2 + (1 - alpha) * zz
        return np.column_stack([fx * p[:, 0] / den + cx, fy * p[:, 1] / den + cy])

    dets, board = _synthetic_views(proj, (640, 480), n=6, seed=3)
    res = calibrate_intrinsics(dets, board, model="omni")  # type: ignore[arg-type]
    assert res.camera.model == "double_sphere"
    assert res.rms_px < 0.2
    # the model's focal length and alpha trade off; compare projections instead of parameters
    cam = res.camera
    pts = np.array([[x, y, 1.0] for x in np.linspace(-0.8, 0.8, 5) for y in np.linspace(-0.6, 0.6, 5)])
    got = proj.__wrapped__ if hasattr(proj, "__wrapped__") else None  # noqa: F841
    fx2, fy2, cx2, cy2, xi2, a2 = cam.fx, cam.fy, cam.cx, cam.cy, cam.xi, cam.alpha  # type: ignore[union-attr]
    d1 = np.linalg.norm(pts, axis=1)
    zz = xi2 * d1 + pts[:, 2]
    den = a2 * np.sqrt(pts[:, 0] ** 2 + pts[:, 1] ** 2 + zz**2) + (1 - a2) * zz
    mine = np.column_stack([fx2 * pts[:, 0] / den + cx2, fy2 * pts[:, 1] / den + cy2])
    truth = proj(pts, np.zeros(3), np.zeros(3))
    assert np.abs(mine - truth).max() < 1.0


def test_outlier_frames_are_rejected() -> None:
    k = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])

    def proj(g: np.ndarray, r: np.ndarray, t: np.ndarray) -> np.ndarray:
        return cv2.projectPoints(g, r, t, k, np.zeros(5))[0].reshape(-1, 2)

    dets, board = _synthetic_views(proj, (640, 480), n=10, seed=5)
    dets[3].corners_px = dets[3].corners_px + np.random.default_rng(1).normal(
        0, 4.0, dets[3].corners_px.shape
    )  # a blurred, badly detected image
    res = calibrate_intrinsics(dets, board)  # type: ignore[arg-type]
    assert [v.used for v in res.views].count(False) == 1 and not res.views[3].used
    assert "outlier" in res.views[3].reason
    assert res.camera.fx == pytest.approx(500.0, rel=2e-3)


def test_bad_input_is_a_clear_error() -> None:
    board = parse_board("checkerboard:9x6:0.03")
    with pytest.raises(CalibrationError, match="no board found"):
        calibrate_intrinsics([], board)
    g = board.object_points()[:, :2] * 1000 + 50
    a = BoardDetection("a.png", np.arange(54), g, (640, 480))
    b = BoardDetection("b.png", np.arange(54), g, (1280, 720))
    with pytest.raises(CalibrationError, match=r"different sizes.*640x480.*1280x720"):
        calibrate_intrinsics([a, b, a], board)
    with pytest.raises(ConfigError, match="unknown ArUco dictionary"):
        parse_board("charuco:5x7:0.04:0.02:DICT_7X7_9")
    with pytest.raises(ConfigError, match="metres"):
        parse_board("checkerboard:4x7:60")
    with pytest.raises(ConfigError, match="valid choices: checkerboard, charuco"):
        parse_board("circles:4x11:0.02")
    assert math.isfinite(board.square_m)
