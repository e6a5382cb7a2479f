"""Single-source OpenCV drivers: ``opencv.camera``, ``opencv.video``, ``opencv.images``, ``opencv.stream``.

Each produces one stream ``<sensor_id>/image``: ``image`` uint8 ``(H, W, 3)``, RGB by default
(OpenCV decodes BGR; ``color_order: bgr`` keeps it). The frame size is declared before
``open`` (probed from the file/folder/stream, or the size requested of a camera); a frame of
another size is counted in ``bad_frames`` and skipped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sensorfusion import (
    ConfigError,
    Driver,
    DriverContext,
    DriverError,
    EndOfStream,
    FieldSpec,
    Frame,
    FrameKind,
    RigCalibration,
    SensorCalibration,
    StreamSpec,
)
from sensorfusion.schema import CeilingMount

from ._calib import find_camera, load_calibration_file
from ._ceiling import mount_on_ceiling, require_calibration
from ._cv import require_cv2
from ._source import CaptureSource, FolderSource, RawFrame, Source, SourceInfo

__all__ = [
    "CameraDriver",
    "CameraParams",
    "ImageFolderDriver",
    "ImageFolderParams",
    "StreamDriver",
    "StreamParams",
    "VideoFileDriver",
    "VideoFileParams",
    "camera_for_size",
    "to_color_order",
]

SizeMismatch = Literal["error", "warn", "ignore"]


class _CommonParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    color_order: Literal["rgb", "bgr"] = Field(default="rgb", description="channel order of the image field")
    calibration: str | None = Field(
        default=None, description="calibration file (.toml Pose2Sim/anipose, .json/.yaml RigCalibration)"
    )
    calibration_name: str | None = Field(
        default=None, description="this camera's name in the file (default: the sensor id)"
    )
    size_mismatch: SizeMismatch = Field(
        default="error",
        description="the image size differs from the calibration's: error, warn (keep K, take the image size) or ignore",
    )
    ceiling: CeilingMount | None = Field(
        default=None,
        description="a ceiling camera looking down: its mounting (height_m, position_m, yaw_rad, tilt_rad...)",
    )


class CameraParams(_CommonParams):
    """``opencv.camera``: a UVC/V4L2 camera."""

    device: int | str = Field(default=0, description="camera index or device path (/dev/video0)")
    width: int | None = Field(default=None, gt=0, description="requested width (px); the camera must honour it")
    height: int | None = Field(default=None, gt=0, description="requested height (px)")
    fps: float | None = Field(default=None, gt=0, description="requested frame rate")
    fourcc: str | None = Field(default=None, description="requested pixel format, e.g. MJPG or YUYV")
    api: Literal["any", "v4l2", "ffmpeg", "gstreamer"] = "any"
    timestamps: Literal["auto", "device", "host"] = Field(
        default="auto",
        description="device: the driver's buffer timestamp (CAP_PROP_POS_MSEC); auto: device when given, else host",
    )
    buffer_size: int | None = Field(
        default=1, ge=1, description="frames the backend may queue (1: always the freshest)"
    )
    read_timeout_s: float = Field(default=5.0, gt=0)

    @field_validator("fourcc")
    @classmethod
    def _four(cls, v: str | None) -> str | None:
        if v is not None and len(v) != 4:
            raise ValueError(f"fourcc must be 4 characters (MJPG, YUYV, H264), got {v!r}")
        return v


class VideoFileParams(_CommonParams):
    """``opencv.video``: a video file."""

    path: str = Field(description="video file")
    timestamps: Literal["index", "container"] = Field(
        default="index", description="index: frame index / fps; container: the decoder's presentation time"
    )
    fps: float | None = Field(default=None, gt=0, description="override the file's frame rate (timestamps, pacing)")
    max_frames: int | None = Field(default=None, gt=0, description="stop after this many frames")


class ImageFolderParams(_CommonParams):
    """``opencv.images``: a folder of images in natural-sorted name order."""

    path: str = Field(description="folder of images")
    pattern: str | None = Field(default=None, description="glob, e.g. '*.png' (default: every common image extension)")
    fps: float = Field(default=30.0, gt=0, description="frame rate that the index maps to time with")
    max_frames: int | None = Field(default=None, gt=0)


class StreamParams(_CommonParams):
    """``opencv.stream``: an RTSP/HTTP/... network stream (FFmpeg)."""

    url: str = Field(description="rtsp://, http://, https://, udp://, tcp:// ... URL")
    timestamps: Literal["host", "stream"] = Field(
        default="host", description="host: arrival time; stream: the stream's presentation time"
    )
    open_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _has_scheme(cls, v: str) -> str:
        if "://" not in v:
            raise ValueError(f"url needs a scheme (rtsp://, http://...), got {v!r}")
        return v


def to_color_order(bgr: np.ndarray, order: str) -> np.ndarray:
    """Contiguous uint8 ``(H, W, 3)`` in ``order`` from an OpenCV BGR (or gray) image."""
    cv2 = require_cv2()
    if bgr.ndim == 2:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    elif bgr.shape[2] == 4:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_BGRA2BGR)
    out = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if order == "rgb" else bgr
    return np.ascontiguousarray(out, dtype=np.uint8)


def camera_for_size(
    cal: SensorCalibration, width: int, height: int, policy: str, *, field_path: str, log: Any = None
) -> SensorCalibration:
    """Check a calibrated camera's size against the image size.

    ``error`` raises :class:`ConfigError` naming ``field_path``; ``warn`` logs and returns the
    model with the image's size (the intrinsics unchanged: right for an encoder that cropped
    padding rows/columns at the right or bottom, e.g. 1088 -> 1080); ``ignore`` does the same
    silently.
    """
    cam = cal.camera
    assert cam is not None
    if (cam.width, cam.height) == (width, height):
        return cal
    msg = f"calibrated image size {cam.width}x{cam.height} differs from the source's {width}x{height}"
    if policy == "error":
        raise ConfigError(
            msg + " (set size_mismatch: warn to keep the intrinsics)",
            field_path=field_path,
            value=f"{cam.width}x{cam.height}",
        )
    if policy == "warn" and log is not None:
        log.warning("%s: %s; keeping the intrinsics", field_path, msg)
    return cal.model_copy(update={"camera": cam.model_copy(update={"width": width, "height": height})})


class _SingleSourceDriver(Driver):
    """Shared logic: probe the size, open/resume, convert, stamp, pace, count bad frames."""

    finite: ClassVar[bool] = False

    def __init__(self, params: BaseModel, context: DriverContext) -> None:
        super().__init__(params, context)
        self.source = self._make_source()
        self._info: SourceInfo | None = None
        self._next_index = 0  # next frame index of a finite source (resume point)
        self._seq = 0  # next seq of a live source
        self._anchor_ns: int | None = None
        self.bad_frames = 0
        self.frames_read = 0
        self._calibration: RigCalibration | None = None

    # -- to implement ------------------------------------------------------------------------
    def _make_source(self) -> Source:
        raise NotImplementedError

    def _t_sensor_ns(self, raw: RawFrame) -> int:
        raise NotImplementedError

    def _rate_hz(self) -> float:
        return self._probe().fps

    def _declared_size(self) -> tuple[int, int]:
        info = self._probe()
        return info.width, info.height

    # -- shared --------------------------------------------------------------------------------
    def _probe(self) -> SourceInfo:
        if self._info is None:
            info = self.source.open(0)
            self.source.close()
            self._info = info
        return self._info

    @property
    def stream_name(self) -> str:
        return f"{self.context.sensor_id}/image"

    def streams(self) -> list[StreamSpec]:
        self.calibration()  # a calibration that does not fit is a ConfigError before anything runs
        w, h = self._declared_size()
        p: Any = self.params
        return [
            StreamSpec(
                name=self.stream_name,
                kind=FrameKind.IMAGE,
                fields={"image": FieldSpec(dtype="uint8", shape=(h, w, 3))},
                rate_hz=float(self._rate_hz() or 0.0),
                queue_size=8,
                queue_policy="block" if self.finite else "drop_oldest",
                attrs={"color_order": p.color_order, "driver": self.name, "source": self._describe()},
            )
        ]

    def _describe(self) -> str:
        return str(getattr(self.source, "target", getattr(self.source, "folder", "")))

    def calibration(self) -> RigCalibration | None:
        p: Any = self.params
        if p.ceiling is not None:
            require_calibration(p.calibration, field_path=f"sensors[{self.context.sensor_id}].params.calibration")
        if p.calibration is None:
            return None
        if self._calibration is None:
            sid = self.context.sensor_id
            cal = load_calibration_file(p.calibration, field_path=f"sensors[{sid}].params.calibration")
            _, entry = find_camera(cal, p.calibration_name or sid, field_path=f"sensors[{sid}].params.calibration_name")
            w, h = self._declared_size()
            entry = camera_for_size(
                entry, w, h, p.size_mismatch, field_path=f"sensors[{sid}].params.calibration", log=self.context.log
            )
            if p.ceiling is not None:
                entry = mount_on_ceiling(entry, p.ceiling, field_path=f"sensors[{sid}].params.calibration")
            self._calibration = RigCalibration(sensors={sid: entry})
        return self._calibration

    def open(self) -> None:
        info = self.source.open(self._next_index if self.finite else 0)
        self._info = self._info or info
        w, h = self._declared_size()
        if (info.width, info.height) != (w, h):
            self.source.close()
            raise DriverError(f"{self._describe()}: delivers {info.width}x{info.height}, declared {w}x{h}")
        self._anchor_ns = time.monotonic_ns()
        self._anchor_index = self._next_index

    def read(self) -> Sequence[Frame]:
        p: Any = self.params
        max_frames = getattr(p, "max_frames", None)
        if self.finite and max_frames is not None and self._next_index >= max_frames:
            raise EndOfStream(f"{self._describe()}: max_frames={max_frames} reached")
        raw = self.source.read()
        if raw is None:
            raise EndOfStream(f"{self._describe()}: end after {self._next_index} frames")
        self._next_index = raw.index + 1
        seq = raw.index if self.finite else self._seq
        self._seq += 1
        w, h = self._declared_size()
        if raw.image is None or raw.image.shape[:2] != (h, w):
            self.bad_frames += 1
            got = "undecodable" if raw.image is None else f"{raw.image.shape[1]}x{raw.image.shape[0]}"
            self.context.log.warning(
                "%s: frame %d is %s (declared %dx%d); skipped", self._describe(), raw.index, got, w, h
            )
            return []
        t_sensor = self._t_sensor_ns(raw)
        if self.finite and self.context.realtime and self._anchor_ns is not None:
            rate = self._rate_hz() or 30.0
            due = self._anchor_ns + round((raw.index - self._anchor_index) * 1e9 / rate)
            wait_s = (due - time.monotonic_ns()) * 1e-9
            if wait_s > 0 and self.context.stop.wait(wait_s):
                return []
        self.frames_read += 1
        image = to_color_order(raw.image, p.color_order)
        return [Frame(self.stream_name, int(t_sensor), int(raw.t_host_ns), int(seq), {"image": image})]

    def close(self) -> None:
        self.source.close()


class CameraDriver(_SingleSourceDriver):
    """``opencv.camera``: a UVC/V4L2 camera by index or device path, at a requested size, rate and pixel format."""

    name = "opencv.camera"
    Params = CameraParams

    def _make_source(self) -> Source:
        p = self.params
        assert isinstance(p, CameraParams)
        return CaptureSource(
            "device", p.device, width=p.width, height=p.height, fps=p.fps, fourcc=p.fourcc, api=p.api,
            read_timeout_s=p.read_timeout_s, open_timeout_s=p.read_timeout_s, buffer_size=p.buffer_size,
        )  # fmt: skip

    def _declared_size(self) -> tuple[int, int]:
        p = self.params
        assert isinstance(p, CameraParams)
        if p.width and p.height:
            return p.width, p.height
        return super()._declared_size()

    def _rate_hz(self) -> float:
        p = self.params
        assert isinstance(p, CameraParams)
        return p.fps or (self._info.fps if self._info else 0.0)

    def _t_sensor_ns(self, raw: RawFrame) -> int:
        p = self.params
        assert isinstance(p, CameraParams)
        if p.timestamps == "host" or (p.timestamps == "auto" and not raw.t_backend_ns):
            return raw.t_host_ns
        if raw.t_backend_ns is None:
            raise DriverError(f"camera {p.device!r} gives no device timestamps; use timestamps: host")
        return raw.t_backend_ns


class VideoFileDriver(_SingleSourceDriver):
    """``opencv.video``: a video file, frame ``i`` at ``round(i * 1e9 / fps)`` ns (or the container's time)."""

    name = "opencv.video"
    Params = VideoFileParams
    finite = True

    def _make_source(self) -> Source:
        p = self.params
        assert isinstance(p, VideoFileParams)
        return CaptureSource("file", p.path)

    def _rate_hz(self) -> float:
        p = self.params
        assert isinstance(p, VideoFileParams)
        fps = p.fps or self._probe().fps
        if not fps:
            raise ConfigError(
                "the file does not say its frame rate; set fps",
                field_path=f"sensors[{self.context.sensor_id}].params.fps",
            )
        return fps

    def _t_sensor_ns(self, raw: RawFrame) -> int:
        p = self.params
        assert isinstance(p, VideoFileParams)
        if p.timestamps == "container" and raw.t_backend_ns is not None:
            return raw.t_backend_ns
        return round(raw.index * 1e9 / self._rate_hz())


class ImageFolderDriver(_SingleSourceDriver):
    """``opencv.images``: the images of a folder, image ``i`` at ``round(i * 1e9 / fps)`` ns."""

    name = "opencv.images"
    Params = ImageFolderParams
    finite = True

    def _make_source(self) -> Source:
        p = self.params
        assert isinstance(p, ImageFolderParams)
        return FolderSource(p.path, pattern=p.pattern, fps=p.fps)

    def _t_sensor_ns(self, raw: RawFrame) -> int:
        p = self.params
        assert isinstance(p, ImageFolderParams)
        return round(raw.index * 1e9 / p.fps)


class StreamDriver(_SingleSourceDriver):
    """``opencv.stream``: an RTSP/HTTP stream through FFmpeg, stamped with host arrival time."""

    name = "opencv.stream"
    Params = StreamParams

    def _make_source(self) -> Source:
        p = self.params
        assert isinstance(p, StreamParams)
        return CaptureSource(
            "url", p.url, api="ffmpeg", open_timeout_s=p.open_timeout_s, read_timeout_s=p.read_timeout_s
        )

    def _t_sensor_ns(self, raw: RawFrame) -> int:
        p = self.params
        assert isinstance(p, StreamParams)
        if p.timestamps == "stream" and raw.t_backend_ns is not None:
            return raw.t_backend_ns
        return raw.t_host_ns
