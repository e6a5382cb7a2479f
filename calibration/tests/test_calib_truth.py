"""Calibration that tells the truth (issue 10 item 3): board coverage, degenerate intrinsics refused
with the reason, inverted ChArUco boards, ``--view CAM=GLOB``, rounded published rotations."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from sensorfusion_calibration import load_calibration, save_calibration
from sensorfusion_calibration._boards import BoardDetection, detect_board, iter_frames, parse_board
from sensorfusion_calibration._intrinsics import CalibrationError, DegenerateCalibrationError, calibrate_intrinsics
from sensorfusion_calibration._quality import board_coverage, implausible
from sensorfusion_calibration._synthetic import render_board_image

from sensorfusion.cli import main
from sensorfusion.schema import PinholeCamera, RigCalibration, SensorCalibration, Transform

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))
CHARUCO = DATA / "calibration" / "charuco-opencv"
CHARUCO_SPEC = "charuco:5x7:0.04:0.02:DICT_6X6_250"


def _charuco_folder() -> Path:
    if not (CHARUCO / "img_00.jpg").exists():
        pytest.skip(f"test data not found: {CHARUCO}")
    return CHARUCO


# --- degenerate intrinsics from a small, nearly fronto-parallel board --------------------------------


def _small_board_views(seed: int) -> tuple[list[BoardDetection], object]:
    """Three views of a 9x6 board (5 cm squares) covering 7-10 % of a 1280x720 image each, nearly
    fronto-parallel, 0.5 px corner noise: the input of the reported fy/fx ~ 1.5 failure."""
    board = parse_board("checkerboard:9x6:0.05")
    grid = board.object_points()
    k = np.array([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]])
    rng = np.random.default_rng(seed)
    dets = []
    for v in range(3):
        rvec = rng.normal(0, 0.08, 3)
        t = np.array([rng.uniform(-0.3, 0.15), rng.uniform(-0.15, 0.05), rng.uniform(0.9, 1.3)])
        uv = cv2.projectPoints(grid, rvec, t, k, np.array([-0.1, 0.05, 0, 0, 0]))[0].reshape(-1, 2)
        dets.append(BoardDetection(f"v{v}", np.arange(len(grid)), uv + rng.normal(0, 0.5, uv.shape), (1280, 720)))
    return dets, board


@pytest.mark.parametrize(
    ("seed", "reason"), [(78, "principal point .* outside the 1280x720 image"), (299, r"aspect ratio fy/fx = 1\.[34]")]
)
def test_degenerate_intrinsics_from_a_small_board_are_an_error(seed: int, reason: str) -> None:
    dets, board = _small_board_views(seed)
    with pytest.raises(DegenerateCalibrationError, match=reason) as info:
        calibrate_intrinsics(dets, board)  # type: ignore[arg-type]
    err = info.value
    assert isinstance(err, CalibrationError)  # a ConfigError: the CLI exits 2
    assert err.reasons and err.result.coverage is not None
    cov = err.result.coverage
    assert cov.area < 0.25 and all(0.05 < f < 0.12 for f in cov.per_view)
    assert "covered" in err.result.warnings[0]
    # check=False keeps the result, with the reasons as warnings
    res = calibrate_intrinsics(dets, board, check=False)  # type: ignore[arg-type]
    # (OpenCV's threads make an ill-conditioned fit differ in the last digits from run to run)
    assert [p.split(" ")[:2] for p in res.problems] == [p.split(" ")[:2] for p in err.reasons]
    assert any("degenerate" in w for w in res.warnings)
    print(
        f"seed {seed}: {res.problems}; coverage {cov.area:.0%} (views {min(cov.per_view):.0%}..{max(cov.per_view):.0%})"
    )


def test_plausibility_checks_each_reason() -> None:
    ok = PinholeCamera(width=1280, height=720, fx=1000, fy=1002, cx=640, cy=360)
    assert implausible(ok) == []
    assert "principal point" in implausible(ok.model_copy(update={"cy": 800.0}))[0]
    assert "aspect ratio" in implausible(ok.model_copy(update={"fy": 1500.0}))[0]
    assert "out of range" in " ".join(implausible(ok.model_copy(update={"fx": 100.0, "fy": 100.0})))  # 162 deg
    assert "out of range" in " ".join(implausible(ok.model_copy(update={"fx": 20000.0, "fy": 20000.0})))  # 3.7 deg
    assert implausible(ok.model_copy(update={"fy": 1500.0}), max_aspect_ratio=1.6) == []


def test_coverage_of_the_real_charuco_images_is_reported_and_warned() -> None:
    folder = _charuco_folder()
    board = parse_board(CHARUCO_SPEC)
    dets = [d for n, img in iter_frames([folder]) if (d := detect_board(img, board, source=n)) is not None]
    res = calibrate_intrinsics(dets, board)
    cov = res.coverage
    assert cov is not None
    # the four tutorial images each show the board over ~12 % of the image, 19 % together
    assert all(0.10 < f < 0.15 for f in cov.per_view) and 0.15 < cov.area < 0.25 and 0.15 < cov.cells < 0.35
    assert len(res.warnings) == 1 and "covered 18%" in res.warnings[0]
    assert calibrate_intrinsics(dets, board, min_coverage=0.1).warnings == []
    # the same numbers by hand: one view's hull area over the image area
    hull = cv2.convexHull(dets[0].corners_px.astype(np.float32))
    assert cov.per_view[0] == pytest.approx(cv2.contourArea(hull) / (640 * 480))
    assert board_coverage(dets, (640, 480)).area == pytest.approx(cov.area)
    assert res.std_px["fx"] > 0 and res.summary()["coverage"]["area"] == cov.area


# --- inverted ChArUco boards ---------------------------------------------------------------------------


def test_inverted_real_charuco_images_are_found_automatically() -> None:
    folder = _charuco_folder()
    board = parse_board(CHARUCO_SPEC)
    for name, img in iter_frames([folder]):
        normal = detect_board(img, board, source=name)
        inv_img = 255 - img  # white markers on black, as printed inverted boards are
        assert normal is not None and not normal.inverted
        assert detect_board(inv_img, board, inverted=False) is None  # the normal pass finds nothing
        auto = detect_board(inv_img, board)
        forced = detect_board(inv_img, board, inverted=True)
        assert auto is not None and forced is not None and auto.inverted and forced.inverted
        assert np.array_equal(auto.ids, normal.ids)
        assert np.abs(auto.corners_px - normal.corners_px).max() < 0.05


@pytest.mark.parametrize("spec", [CHARUCO_SPEC, "charuco:7x5:0.03:0.022:DICT_4X4_50"])
def test_rendered_inverted_charuco_boards_give_the_true_corners(spec: str) -> None:
    board = parse_board(spec)
    cam = PinholeCamera(width=1280, height=720, fx=900, fy=900, cx=641, cy=362, k1=-0.05, k2=0.01)
    rng = np.random.default_rng(3)
    for i in range(4):
        m = np.eye(4)
        m[:3, :3] = Rotation.from_rotvec(rng.normal(0, 0.35, 3)).as_matrix()
        m[:3, 3] = [rng.uniform(-0.15, 0.0), rng.uniform(-0.12, 0.0), rng.uniform(0.5, 0.7)]
        img = render_board_image(board, cam, m, inverted=True, seed=i)
        assert detect_board(img, board, inverted=False) is None
        det = detect_board(img, board)
        assert det is not None and det.inverted and det.count >= 0.8 * board.corner_count
        obj = board.object_points(det.ids)
        uv = cv2.projectPoints(obj, cv2.Rodrigues(m[:3, :3])[0], m[:3, 3], cam.K, cam.dist_coeffs)[0].reshape(-1, 2)
        err = np.linalg.norm(uv - det.corners_px, axis=1)
        assert err.max() < 0.5 and np.median(err) < 0.15  # as accurate as the same board printed normally


def _render_views(folder: Path, cam: PinholeCamera, board_spec: str, n: int, *, inverted: bool = False,
                  prefix: str = "view", seed: int = 0) -> list[np.ndarray]:  # fmt: skip
    """Board images from well-spread, tilted poses (what a good calibration session looks like)."""
    board = parse_board(board_spec)
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    mid = board.object_points().mean(axis=0)
    poses = []
    for i in range(n):
        m = np.eye(4)
        m[:3, :3] = Rotation.from_rotvec(rng.normal(0, 0.4, 3)).as_matrix()
        m[:3, 3] = (
            np.array([rng.uniform(-0.06, 0.06), rng.uniform(-0.05, 0.05), rng.uniform(0.35, 0.5)]) - m[:3, :3] @ mid
        )
        cv2.imwrite(str(folder / f"{prefix}_{i:02d}.png"), render_board_image(board, cam, m, inverted=inverted, seed=i))
        poses.append(m)
    return poses


def test_cli_calibrates_an_inverted_board(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cam = PinholeCamera(width=960, height=720, fx=820, fy=822, cx=478, cy=362, k1=-0.08, k2=0.02)
    _render_views(tmp_path / "imgs", cam, CHARUCO_SPEC, 8, inverted=True)
    out = tmp_path / "cal" / "cam.json"
    args = ["calibrate", "intrinsics", "--board", CHARUCO_SPEC, str(tmp_path / "imgs"), "--out", str(out), "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["inverted_views"] == 8 and report["views_used"] >= 7
    got = load_calibration(out).camera("imgs")
    assert isinstance(got, PinholeCamera)
    assert got.fx == pytest.approx(820, rel=0.01) and got.fy == pytest.approx(822, rel=0.01)
    assert main([*args, "--inverted", "no"]) == 2
    assert "no board" in capsys.readouterr().err


def test_cli_degenerate_result_exits_2_with_the_reason_and_keeps_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # views of a camera with fy/fx = 1.5: the fit finds it, and it is not a plausible camera
    cam = PinholeCamera(width=960, height=720, fx=600, fy=900, cx=480, cy=360)
    _render_views(tmp_path / "imgs", cam, CHARUCO_SPEC, 6)
    out = tmp_path / "cam.json"
    args = ["calibrate", "intrinsics", "--board", CHARUCO_SPEC, str(tmp_path / "imgs"), "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "degenerate pinhole calibration" in err and "aspect ratio fy/fx = 1.5" in err and "cam_report.json" in err
    assert not out.exists()  # no calibration written ...
    report = json.loads((tmp_path / "cam_report.json").read_text())  # ... but the report and the plot are
    assert report["error"] and report["problems"] and report["coverage"]["area"] > 0
    assert (tmp_path / "cam_coverage_imgs.png").stat().st_size > 1000
    # an anamorphic lens is real: the user says so and gets the calibration
    assert main([*args, "--max-aspect-ratio", "1.6", "--json"]) == 0
    got = load_calibration(out).camera("imgs")
    assert isinstance(got, PinholeCamera) and got.fy / got.fx == pytest.approx(1.5, rel=0.01)
    assert main([*args, "--allow-degenerate"]) == 0
    assert "warning:" in capsys.readouterr().err
    assert main([*args, "--min-coverage", "2"]) == 2
    assert "--min-coverage" in capsys.readouterr().err


# --- calibrate extrinsics --view CAM=GLOB ----------------------------------------------------------------


def test_extrinsics_from_one_folder_of_left_and_right_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = "charuco:7x5:0.04:0.03:DICT_4X4_50"
    board = parse_board(spec)
    left = PinholeCamera(width=960, height=600, fx=700, fy=700, cx=480, cy=300)
    right = PinholeCamera(width=960, height=600, fx=710, fy=710, cx=470, cy=305)
    right_from_left = np.eye(4)
    right_from_left[:3, :3] = Rotation.from_rotvec([0.0, -0.08, 0.01]).as_matrix()
    right_from_left[:3, 3] = [-0.12, 0.002, 0.004]
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    rng = np.random.default_rng(5)
    mid = board.object_points().mean(axis=0)
    for i in range(8):
        m = np.eye(4)
        m[:3, :3] = Rotation.from_rotvec(rng.normal(0, 0.3, 3)).as_matrix()
        m[:3, 3] = np.array([rng.uniform(-0.1, 0.0), rng.uniform(-0.05, 0.05), rng.uniform(0.6, 0.8)]) - m[:3, :3] @ mid
        cv2.imwrite(str(pairs / f"left_{i:03d}.png"), render_board_image(board, left, m, seed=i))
        if i != 2:  # one right image is missing: frames pair by name, not by position
            cv2.imwrite(
                str(pairs / f"right_{i:03d}.png"), render_board_image(board, right, right_from_left @ m, seed=50 + i)
            )
    intr = tmp_path / "intrinsics.json"
    save_calibration(RigCalibration(sensors={"left": SensorCalibration(camera=left), "right": SensorCalibration(camera=right)}),
                     intr, "sensorfusion")  # fmt: skip
    out = tmp_path / "rig.json"
    rc = main(["calibrate", "extrinsics", "--board", spec, "--intrinsics", str(intr), "--view", f"left={pairs}/left_*.png",
               "--view", f"right={pairs}/right_*.png", "--out", str(out), "--json"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["board_poses"] == 8
    rig = load_calibration(out)
    est = np.linalg.inv(rig.sensors["right"].world_from_sensor.matrix) @ rig.sensors["left"].world_from_sensor.matrix
    assert np.linalg.norm(est[:3, 3] - right_from_left[:3, 3]) < 1e-3
    assert Rotation.from_matrix(est[:3, :3] @ right_from_left[:3, :3].T).magnitude() < 1e-3
    # a pattern that matches nothing is a clear error, not a traceback
    rc = main(["calibrate", "extrinsics", "--board", spec, "--intrinsics", str(intr), "--view", f"left={pairs}/left_*.png",
               "--view", f"right={pairs}/cam1_*.png", "--out", str(out)])  # fmt: skip
    assert rc == 2 and "no image or video matches the pattern" in capsys.readouterr().err


# --- rounded rotations in published calibrations ---------------------------------------------------------


def _rounded_rotation(decimals: int) -> tuple[np.ndarray, np.ndarray, float]:
    r = Rotation.from_rotvec([0.3, -0.11, -1.19]).as_matrix()  # 6 decimals: 1.074e-6
    rr = np.round(r, decimals)
    return r, rr, float(np.abs(rr @ rr.T - np.eye(3)).max())


def test_six_decimal_rotations_are_reorthonormalised_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth, r6, dev = _rounded_rotation(6)
    assert 1e-6 < dev < 1e-5  # what published files give (the reported one: 1.07e-6)
    t = Transform(rotation=r6.tolist(), translation_m=(0.1, 0.2, 0.3))  # type: ignore[arg-type]
    r = np.asarray(t.rotation)
    assert np.abs(r @ r.T - np.eye(3)).max() < 1e-12 and np.abs(r - truth).max() < 2e-6
    assert t.note is not None and f"{dev:.3g}" in t.note
    assert Transform.from_rotvec(np.array([0.1, 0.2, 0.3]), np.zeros(3)).note is None
    # larger deviations are still refused, with the measured value
    _, r3, dev3 = _rounded_rotation(3)
    with pytest.raises(ValueError, match=f"{dev3:.3g} exceeds the tolerance 1e-05"):
        Transform(rotation=r3.tolist())  # type: ignore[arg-type]
    # a published file in the SDK's JSON and in OpenCV's YAML: read, with a note in the report
    cam = {"model": "pinhole", "width": 1920, "height": 1080, "fx": 1000.0, "fy": 1000.0, "cx": 960.0, "cy": 540.0}
    js = tmp_path / "published.json"
    js.write_text(json.dumps({"sensors": {"cam0": {"camera": cam, "world_from_sensor": {"rotation": r6.tolist()}}}}))
    assert load_calibration(js).notes() == [f"sensors.cam0.world_from_sensor: {t.note}"]
    yml = tmp_path / "published.yml"
    fs = cv2.FileStorage(str(yml), cv2.FILE_STORAGE_WRITE)
    fs.write("camera_matrix", np.array([[1000.0, 0, 960], [0, 1000, 540], [0, 0, 1]]))
    fs.write("distortion_coefficients", np.zeros((1, 5)))
    fs.write("image_width", 1920)
    fs.write("image_height", 1080)
    fs.write("rotation_matrix", r6)
    fs.write("translation_vector", np.array([[0.1], [0.2], [0.3]]))
    fs.release()
    cal = load_calibration(yml)
    assert len(cal.notes()) == 1 and "re-orthonormalised" in cal.notes()[0]
    assert main(["calibrate", "convert", str(js), str(tmp_path / "out.toml"), "--json"]) == 0
    io = capsys.readouterr()
    assert json.loads(io.out)["notes"] and "note: sensors.cam0.world_from_sensor: rotation re-orthonormalised" in io.err
    js.write_text(json.dumps({"sensors": {"cam0": {"camera": cam, "world_from_sensor": {"rotation": r3.tolist()}}}}))
    assert main(["calibrate", "convert", str(js), str(tmp_path / "out.toml")]) == 2
    assert f"{dev3:.3g} exceeds the tolerance" in capsys.readouterr().err
