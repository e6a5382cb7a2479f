"""``sensorfusion calibrate``: the plugin registers, the subcommands run, bad input exits 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from sensorfusion_calibration import load_calibration
from sensorfusion_calibration._boards import parse_board

from sensorfusion.cli import main

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))


def test_intrinsics_command_on_the_charuco_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = DATA / "calibration" / "charuco-opencv"
    if not folder.exists():
        pytest.skip(f"test data not found: {folder}")
    out = tmp_path / "cam.json"
    rc = main(
        [
            "calibrate",
            "intrinsics",
            "--board",
            "charuco:5x7:0.04:0.02:DICT_6X6_250",
            str(folder),
            "--out",
            str(out),
            "--json",
            "--name",
            "tutorial",
        ]
    )
    assert rc == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["views_used"] == 4 and report["rms_px"] < 0.25
    cal = load_calibration(out)
    assert cal.camera("tutorial").fx == pytest.approx(report["camera"]["fx"])  # type: ignore[union-attr]
    assert (tmp_path / "cam_coverage_tutorial.png").stat().st_size > 1000
    assert (tmp_path / "cam_report.json").exists()


def test_convert_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    qca = DATA / "pose2sim-demo-single" / "calibration" / "Calib.qca.txt"
    if not qca.exists():
        pytest.skip(f"test data not found: {qca}")
    out = tmp_path / "Calib.toml"
    assert main(["calibrate", "convert", str(qca), str(out), "--qca-distortion", "pose2sim", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["from"] == "qualisys" and info["to"] == "pose2sim" and len(info["sensors"]) == 4
    ref = load_calibration(DATA / "pose2sim-demo-single" / "calibration" / "Calib_qualisys.toml")
    got = load_calibration(out)
    for sid in ref.sensors:
        assert np.allclose(
            got.sensors[sid].world_from_sensor.matrix, ref.sensors[sid].world_from_sensor.matrix, atol=1e-12
        )


def _board_image(board_spec: str, size: tuple[int, int]) -> np.ndarray:
    b = parse_board(board_spec)
    img = np.asarray(b._cv_board().generateImage((size[0] // 2, size[1] // 2), marginSize=20))
    canvas = np.full((size[1], size[0]), 255, np.uint8)
    canvas[size[1] // 4 : size[1] // 4 + img.shape[0], size[0] // 4 : size[0] // 4 + img.shape[1]] = img
    return canvas


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blank = tmp_path / "blank"
    blank.mkdir()
    for i in range(3):
        cv2.imwrite(str(blank / f"{i}.png"), np.full((240, 320), 128, np.uint8))
    assert (
        main(
            [
                "calibrate",
                "intrinsics",
                "--board",
                "checkerboard:9x6:0.03",
                str(blank),
                "--out",
                str(tmp_path / "c.json"),
            ]
        )
        == 2
    )
    assert "no board" in capsys.readouterr().err
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    spec = "charuco:5x7:0.04:0.02:DICT_4X4_50"
    cv2.imwrite(str(mixed / "a.png"), _board_image(spec, (640, 800)))
    cv2.imwrite(str(mixed / "b.png"), _board_image(spec, (800, 1000)))
    cv2.imwrite(str(mixed / "c.png"), _board_image(spec, (640, 800)))
    assert main(["calibrate", "intrinsics", "--board", spec, str(mixed), "--out", str(tmp_path / "m.json")]) == 2
    assert "different sizes" in capsys.readouterr().err
    assert main(["calibrate", "convert", str(blank / "0.png"), str(tmp_path / "x.json")]) == 2
    assert "cannot tell the calibration format" in capsys.readouterr().err
    assert (
        main(
            [
                "calibrate",
                "intrinsics",
                "--board",
                "charuco:5x7:0.04:0.02:NOPE",
                str(blank),
                "--out",
                str(tmp_path / "c.json"),
            ]
        )
        == 2
    )
    assert "unknown ArUco dictionary" in capsys.readouterr().err


def test_extrinsics_command_names_a_camera_without_shared_views(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sensorfusion_calibration import save_calibration

    from sensorfusion.schema import PinholeCamera, RigCalibration, SensorCalibration

    spec = "charuco:5x7:0.04:0.02:DICT_4X4_50"
    cam = PinholeCamera(width=640, height=800, fx=800.0, fy=800.0, cx=320.0, cy=400.0)
    save_calibration(
        RigCalibration(sensors={"a": SensorCalibration(camera=cam), "b": SensorCalibration(camera=cam)}),
        tmp_path / "intr.json",
        "sensorfusion",
    )
    va, vb = tmp_path / "a", tmp_path / "b"
    va.mkdir()
    vb.mkdir()
    cv2.imwrite(str(va / "0.png"), _board_image(spec, (640, 800)))
    cv2.imwrite(str(va / "1.png"), np.full((800, 640), 128, np.uint8))
    cv2.imwrite(str(vb / "0.png"), np.full((800, 640), 128, np.uint8))
    cv2.imwrite(str(vb / "1.png"), _board_image(spec, (640, 800)))
    rc = main(
        [
            "calibrate",
            "extrinsics",
            "--board",
            spec,
            "--intrinsics",
            str(tmp_path / "intr.json"),
            "--view",
            f"a={va}",
            "--view",
            f"b={vb}",
            "--out",
            str(tmp_path / "rig.json"),
        ]
    )
    assert rc == 2
    assert "'a' shares no view" in capsys.readouterr().err
