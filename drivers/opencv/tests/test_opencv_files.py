"""opencv.video and opencv.images: contracts, frame contents, timestamps, resume, calibration, the real videos."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest
from sensorfusion_opencv import ImageFolderDriver, VideoFileDriver, load_calibration_file

from sensorfusion import ConfigError, Driver, DriverContext, DriverError, EndOfStream, Frame, FrameKind
from sensorfusion.testing import DriverContract


def make(cls: type[Driver], sensor_id: str = "cam", **params: Any) -> Driver:
    return cls(cls.Params.model_validate(params), DriverContext(sensor_id, realtime=False))


def read_all(drv: Driver, limit: int = 10_000) -> list[Frame]:
    out: list[Frame] = []
    drv.open()
    try:
        for _ in range(limit):
            out.extend(drv.read())
    except EndOfStream:
        pass
    finally:
        drv.close()
    return out


class TestVideoContract(DriverContract):
    driver_class = VideoFileDriver
    finite = True
    frames_to_read = 12
    plugin_name = "opencv"

    @pytest.fixture(autouse=True)
    def _video(self, tmp_path: Path, media: SimpleNamespace) -> None:
        self.params = {"path": str(media.write_video(tmp_path / "v.avi", 8, 25.0))}


class TestImageFolderContract(DriverContract):
    driver_class = ImageFolderDriver
    finite = True
    frames_to_read = 12
    plugin_name = "opencv"

    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path, media: SimpleNamespace) -> None:
        self.params = {"path": str(media.write_folder(tmp_path / "imgs", 6)), "fps": 10.0}


@pytest.mark.parametrize(("fourcc", "ext"), [("MJPG", ".avi"), ("mp4v", ".mp4")])
def test_video_frames_sizes_timestamps(tmp_path: Path, media: SimpleNamespace, fourcc: str, ext: str) -> None:
    path = media.write_video(tmp_path / f"v{ext}", 12, 25.0, fourcc=fourcc, width=80, height=60)
    drv = make(VideoFileDriver, path=str(path))
    (spec,) = drv.streams()
    assert spec.name == "cam/image" and spec.kind == FrameKind.IMAGE
    assert spec.fields["image"].shape == (60, 80, 3) and spec.rate_hz == pytest.approx(25.0)
    frames = read_all(drv)
    assert [f.seq for f in frames] == list(range(12))
    assert [f.t_sensor_ns for f in frames] == [i * 40_000_000 for i in range(12)]
    for i, f in enumerate(frames):
        spec.validate_frame(f)
        img = f["image"]
        # RGB: the blue left half (BGR 200, 30, 30) reads as R≈30, B≈200
        left = img[:, :30].reshape(-1, 3).mean(0)
        assert left[2] > 150 and left[0] < 80, left
        assert abs(img[:, 50:].mean() - 10 * i) < 6  # the frame's own content, in order


def test_container_timestamps_and_bgr(tmp_path: Path, media: SimpleNamespace) -> None:
    path = media.write_video(tmp_path / "v.avi", 5, 20.0)
    frames = read_all(make(VideoFileDriver, path=str(path), timestamps="container", color_order="bgr"))
    assert [f.t_sensor_ns for f in frames] == pytest.approx([i * 50_000_000 for i in range(5)], abs=1_000)
    assert frames[0]["image"][:, :20].reshape(-1, 3).mean(0)[0] > 150  # BGR kept


def test_reopen_resumes_at_the_next_frame(tmp_path: Path, media: SimpleNamespace) -> None:
    drv = make(VideoFileDriver, path=str(media.write_video(tmp_path / "v.avi", 10, 25.0)))
    drv.streams()
    drv.open()
    first = [f for _ in range(4) for f in drv.read()]
    drv.close()  # as after a failure: the scheduler reopens the same instance
    rest = read_all(drv)
    assert [f.seq for f in first + rest] == list(range(10))
    assert abs(rest[0]["image"][:, 40:].mean() - 40) < 6


def test_max_frames_and_pacing(tmp_path: Path, media: SimpleNamespace) -> None:
    path = media.write_video(tmp_path / "v.avi", 10, 50.0)
    assert len(read_all(make(VideoFileDriver, path=str(path), max_frames=3))) == 3
    drv = VideoFileDriver(VideoFileDriver.Params(path=str(path)), DriverContext("cam", realtime=True))
    t0 = time.monotonic()
    assert len(read_all(drv)) == 10
    assert time.monotonic() - t0 >= 0.17  # 9 periods of 20 ms in real time


def test_missing_file_is_a_driver_error(tmp_path: Path) -> None:
    with pytest.raises(DriverError, match="not found"):
        make(VideoFileDriver, path=str(tmp_path / "nope.mp4")).streams()


def test_image_folder_order_pattern_and_bad_files(tmp_path: Path, media: SimpleNamespace) -> None:
    folder = media.write_folder(tmp_path / "imgs", 12)  # img0 .. img11: natural order, not img1, img10, img11, img2
    (folder / "notes.txt").write_text("not an image")
    frames = read_all(make(ImageFolderDriver, path=str(folder), fps=4.0))
    assert [f.t_sensor_ns for f in frames] == [i * 250_000_000 for i in range(12)]
    assert [round(f["image"][:, 40:].mean() / 10) for f in frames] == list(range(12))
    only = read_all(make(ImageFolderDriver, path=str(folder), pattern="img1*.png"))
    assert len(only) == 3  # img1, img10, img11
    (folder / "img5.png").write_bytes(b"corrupt")
    cv2.imwrite(str(folder / "img7.png"), np.zeros((10, 10, 3), np.uint8))  # wrong size
    drv = make(ImageFolderDriver, path=str(folder))
    drv.streams()
    frames = read_all(drv)
    assert [f.seq for f in frames] == [i for i in range(12) if i not in (5, 7)]
    assert isinstance(drv, ImageFolderDriver) and drv.bad_frames == 2
    with pytest.raises(DriverError, match="no image"):
        make(ImageFolderDriver, path=str(folder), pattern="*.jpg").streams()


def test_calibration_size_is_checked(tmp_path: Path, media: SimpleNamespace) -> None:
    path = media.write_video(tmp_path / "v.avi", 3, 25.0)
    cal = {
        "sensors": {
            "cam_0": {"camera": {"model": "pinhole", "width": 64, "height": 50, "fx": 50, "fy": 50, "cx": 32, "cy": 24}}
        }
    }
    (tmp_path / "cal.json").write_text(json.dumps(cal))
    with pytest.raises(ConfigError) as err:
        make(VideoFileDriver, "cam0", path=str(path), calibration=str(tmp_path / "cal.json")).calibration()
    assert err.value.field_path == "sensors[cam0].params.calibration" and "64x50" in str(err.value)
    drv = make(VideoFileDriver, "cam0", path=str(path), calibration=str(tmp_path / "cal.json"), size_mismatch="ignore")
    got = drv.calibration()
    assert got is not None and got.camera("cam0").height == 48 and got.camera("cam0").fx == 50  # cam_0 found as cam0
    with pytest.raises(ConfigError) as err:
        make(
            VideoFileDriver, "cam0", path=str(path), calibration=str(tmp_path / "cal.json"), calibration_name="left"
        ).calibration()
    assert err.value.field_path.endswith("calibration_name") and err.value.choices == ["cam_0"]


def test_pose2sim_toml_calibration(media: SimpleNamespace) -> None:
    toml = media.data / "pose2sim-demo-single" / "calibration" / "Calib_qualisys.toml"
    if not toml.is_file():
        pytest.skip(f"reference data absent: {toml}")
    cal = load_calibration_file(toml, field_path="calibration")
    assert sorted(cal.sensors) == ["cam_01", "cam_02", "cam_03", "cam_04"]
    c1 = cal.sensors["cam_01"]
    cam = c1.camera
    assert cam is not None and (cam.width, cam.height) == (1088, 1920) and cam.fx == pytest.approx(1681.244873046875)
    rvec = np.array([1.6882754799999993, 1.0483220499999997, -0.41955852000000016])
    tvec = np.array([0.3211048899999996, 0.9563320600000009, 2.8907130499999996])
    r_cw, _ = cv2.Rodrigues(rvec)
    cam_from_world = np.linalg.inv(c1.world_from_sensor.matrix)
    np.testing.assert_allclose(cam_from_world[:3, :3], r_cw, atol=1e-12)
    np.testing.assert_allclose(cam_from_world[:3, 3], tvec, atol=1e-12)


def test_real_pose2sim_videos(media: SimpleNamespace) -> None:
    videos = media.data / "pose2sim-demo-single" / "trial" / "videos"
    if not videos.is_dir():
        pytest.skip(f"reference data absent: {videos}")
    sizes = {}
    for n in range(1, 5):
        drv = make(VideoFileDriver, f"cam0{n}", path=str(videos / f"cam0{n}.mp4"))
        (spec,) = drv.streams()
        frames = read_all(drv)
        assert len(frames) == 100 and spec.rate_hz == 60.0
        assert [f.t_sensor_ns for f in frames] == [round(i * 1e9 / 60) for i in range(100)]
        sizes[n] = spec.fields["image"].shape
        assert all(f["image"].shape == sizes[n] for f in frames[::33])
    assert sizes == {1: (1920, 1080, 3), 2: (1920, 1080, 3), 3: (1920, 1088, 3), 4: (1920, 1088, 3)}
