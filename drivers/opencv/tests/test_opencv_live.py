"""opencv.stream (MJPEG over HTTP from a local thread), opencv.camera errors, and the plugin's registration."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError
from sensorfusion_opencv import CameraDriver, StreamDriver

from sensorfusion import DriverContext, DriverError, MissingDependencyError
from sensorfusion.plugins import PluginHost
from sensorfusion.testing import DriverContract


def _ffmpeg_http() -> str | None:
    import cv2

    info = cv2.getBuildInformation()
    line = next((ln for ln in info.splitlines() if ln.strip().startswith("FFMPEG:")), "")
    return None if "YES" in line else "this cv2 build has no FFmpeg (no network streams)"


pytestmark = pytest.mark.skipif(_ffmpeg_http() is not None, reason=str(_ffmpeg_http()))


class TestStreamContract(DriverContract):
    driver_class = StreamDriver
    frames_to_read = 5
    plugin_name = "opencv"
    failing_params = {"url": "http://127.0.0.1:9/nothing.mjpg", "open_timeout_s": 1, "read_timeout_s": 1}

    @pytest.fixture(autouse=True)
    def _server(self, media: SimpleNamespace) -> Iterator[None]:
        with media.mjpeg_server() as url:
            self.params = {"url": url, "open_timeout_s": 5, "read_timeout_s": 5}
            yield


def test_stream_frames_are_host_stamped_and_decoded(media: SimpleNamespace) -> None:
    with media.mjpeg_server(period_s=0.02) as url:
        drv = StreamDriver(StreamDriver.Params(url=url), DriverContext("ipcam", realtime=True))
        (spec,) = drv.streams()
        assert spec.fields["image"].shape == (48, 64, 3) and spec.queue_policy == "drop_oldest"
        drv.open()
        frames = [f for _ in range(6) for f in drv.read()]
        drv.close()
    assert [f.seq for f in frames] == list(range(6))
    assert all(f.t_sensor_ns == f.t_host_ns for f in frames)
    gaps = [b.t_host_ns - a.t_host_ns for a, b in itertools.pairwise(frames)]
    assert all(g > 0 for g in gaps) and sorted(gaps)[len(gaps) // 2] > 10_000_000  # paced by the server (20 ms)
    left = frames[0]["image"][:, :30].reshape(-1, 3).mean(0)
    assert left[2] > 150 and left[0] < 80  # RGB


def test_stream_that_goes_away_is_a_driver_error(media: SimpleNamespace) -> None:
    with media.mjpeg_server(n=3) as url:
        drv = StreamDriver(StreamDriver.Params(url=url, read_timeout_s=2), DriverContext("ipcam", realtime=True))
        drv.streams()
        drv.open()
        with pytest.raises(DriverError, match="no frame"):
            for _ in range(10):
                drv.read()
        drv.close()


def test_unreachable_url_is_a_driver_error() -> None:
    drv = StreamDriver(StreamDriver.Params(url="http://127.0.0.1:9/none.mjpg", open_timeout_s=2), DriverContext("x"))
    with pytest.raises(DriverError, match="could not open"):
        drv.open()


def test_camera_params_and_absent_device() -> None:
    with pytest.raises(ValidationError, match="fourcc"):
        CameraDriver.Params.model_validate({"fourcc": "MJPEG"})
    with pytest.raises(ValidationError):
        StreamDriver.Params.model_validate({"url": "127.0.0.1/stream"})
    drv = CameraDriver(CameraDriver.Params(device="/dev/video97", width=64, height=48), DriverContext("cam"))
    assert drv.streams()[0].fields["image"].shape == (48, 64, 3)  # declared from the requested size
    with pytest.raises(DriverError, match="could not open"):
        drv.open()
    drv.close()


def test_every_driver_is_registered() -> None:
    host = PluginHost()
    for name in ("opencv.camera", "opencv.video", "opencv.images", "opencv.stream", "opencv.rig"):
        assert host.drivers.plugin_of(name) == "opencv"


def test_missing_cv2_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from sensorfusion_opencv import VideoFileDriver

    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 -> ImportError
    drv: Any = VideoFileDriver(VideoFileDriver.Params(path="x.mp4"), DriverContext("cam"))
    with pytest.raises(MissingDependencyError, match="pip install opencv-contrib-python"):
        drv.source.open(0)
