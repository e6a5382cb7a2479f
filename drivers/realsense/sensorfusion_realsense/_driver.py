"""``realsense.camera`` (live, by serial number) and ``realsense.playback`` (``.bag``/``.db3`` recordings).

Both stream at the *sensor* level (``rs.sensor.open`` + ``start(callback)``), not through
``rs.pipeline``: a pipeline groups frames into framesets and, in playback, drops the first
partial frameset (the real bag in ``shared/data`` holds depth frames 169, 170 and colour
162; a pipeline yields one set — depth 170 + colour 162 — and never depth 169), while
sensor-level playback with ``set_real_time(False)`` hands over every recorded frame, in
order, deterministically. Pairing frames is the synchronizer's job anyway. Depth is
aligned to colour per depth frame with :func:`align_depth_to_color` (the same splatting
rule as ``rs.align``; the tests check it against ``rs.align``).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

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
    Transform,
)
from sensorfusion.schema import KannalaBrandtCamera, PinholeCamera

from ._geometry import align_depth_to_color, camera_from_intrinsics, transform_from_extrinsics
from ._rs import require_rs

__all__ = ["PlaybackParams", "RealSenseDriver", "RealSenseParams", "RealSensePlaybackDriver", "StreamRequest"]

COLOR_FORMATS = ("rgb8", "bgr8", "rgba8", "bgra8")


class StreamRequest(BaseModel):
    """A video stream asked of a live device."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(default=640, gt=0)
    height: int = Field(default=480, gt=0)
    fps: int = Field(default=30, gt=0)


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    align_depth_to_color: bool = Field(default=True, description="depth re-rendered in the colour camera's geometry")
    queue_size: int = Field(default=16, ge=1, description="frames buffered between librealsense and read()")


class RealSenseParams(_Common):
    """``realsense.camera``: a live device."""

    serial: str | None = Field(default=None, description="serial number (default: the only connected device)")
    color: StreamRequest | None = Field(default_factory=StreamRequest, description="colour stream (rgb8); null: none")
    depth: StreamRequest | None = Field(default_factory=StreamRequest, description="depth stream (z16); null: none")
    infrared: list[int] = Field(
        default_factory=list, description="infrared imagers to stream (1, 2), y8 at the depth size/rate"
    )
    imu: bool = Field(default=False, description="stream the accelerometer and gyroscope (D435i, D455...)")
    timeout_s: float = Field(
        default=5.0, gt=0, description="no frame for this long: DriverError (the scheduler reopens)"
    )


class PlaybackParams(_Common):
    """``realsense.playback``: a recording."""

    path: str = Field(description=".bag (librealsense < 2.58) or .db3 (>= 2.58) recording")
    streams: list[Literal["color", "depth", "infrared1", "infrared2", "accel", "gyro"]] | None = Field(
        default=None, description="recorded streams to play (default: all of them)"
    )
    real_time: bool = Field(default=False, description="play at recorded speed (false: every frame, as fast as read)")


@dataclass
class _Plan:
    """One stream to play: librealsense's profile and what it becomes."""

    key: str  # color, depth, infrared1, infrared2, accel, gyro
    profile: Any
    sensor_index: int
    spec: StreamSpec
    fmt: str = ""
    camera: PinholeCamera | KannalaBrandtCamera | None = None
    fit_residual_px: float = 0.0
    signature: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        self.signature = _signature(self.profile)


@dataclass
class _Device:
    device: Any
    plans: list[_Plan]
    depth_scale_m: float
    calibration: RigCalibration
    align: tuple[PinholeCamera, PinholeCamera, Transform] | None = None
    info: dict[str, str] = field(default_factory=dict)


class _RealSenseBase(Driver):
    live: bool = True

    def __init__(self, params: BaseModel, context: DriverContext) -> None:
        super().__init__(params, context)
        require_rs()
        self._dev: _Device | None = None
        self._sensors: list[Any] = []
        self._queue: queue.Queue[tuple[str, int, float, Any]] = queue.Queue(maxsize=self._p.queue_size)
        self._last_fn: dict[str, int] = {}
        self._seq_offset: dict[str, int] = {}
        self._last_seq: dict[str, int] = {}
        self._playing = threading.Event()
        self._last_frame_t = 0.0
        self.dropped = 0
        self.frames_read = 0

    @property
    def _p(self) -> Any:
        return self.params

    # -- device and plan -----------------------------------------------------------------------
    def _load_device(self) -> Any:
        raise NotImplementedError

    def _select(self, key: str, profile: Any) -> bool:
        raise NotImplementedError

    def _describe(self) -> _Device:
        if self._dev is None:
            self._dev = self._build(self._load_device())
        return self._dev

    def _build(self, device: Any) -> _Device:
        rs = require_rs()
        sid = self.context.sensor_id
        chosen: list[tuple[str, Any, int]] = []
        depth_scale = 0.001
        for i, sensor in enumerate(device.query_sensors()):
            if sensor.is_depth_sensor():
                depth_scale = float(sensor.as_depth_sensor().get_depth_scale())
            taken: set[str] = set()
            for prof in sensor.get_stream_profiles():
                key = _key(rs, prof)
                if key is None or key in taken or not self._select(key, prof):
                    continue
                taken.add(key)
                chosen.append((key, prof, i))
        keys = [k for k, _, _ in chosen]
        if not chosen:
            raise ConfigError(
                "no stream of the device matches the request",
                field_path=f"sensors[{sid}].params",
                value=self._offered(device),
            )
        # the world frame of the calibration: colour, else depth, else the first infrared imager
        primary = next((k for k in ("color", "depth", "infrared1", "infrared2") if k in keys), None)
        aligned = self._p.align_depth_to_color and "color" in keys and "depth" in keys
        profiles = {k: p for k, p, _ in chosen}
        sensors: dict[str, SensorCalibration] = {}
        plans: list[_Plan] = []
        origin = profiles[primary] if primary else None
        for key, prof, idx in chosen:
            fmt = str(prof.format()).split(".")[-1]
            pose = self._pose(key, prof, origin)
            if key in ("accel", "gyro"):
                name = f"{sid}_imu/{key}"
                unit = "accel_m_s2" if key == "accel" else "gyro_rad_s"
                spec = StreamSpec(name=name, kind=FrameKind.DEVICE_POSE, fields={unit: FieldSpec(dtype="float32", shape=(3,))},
                                  rate_hz=float(prof.fps()), attrs={"driver": self.name, "frame": f"{sid}_imu"})  # fmt: skip
                sensors.setdefault(f"{sid}_imu", SensorCalibration(world_from_sensor=pose))
                plans.append(_Plan(key, prof, idx, spec, fmt))
                continue
            vp = prof.as_video_stream_profile()
            cam, resid = camera_from_intrinsics(vp.get_intrinsics())
            if resid > 0.5:
                self.context.log.warning("%s %s: distortion model fitted with %.2f px max residual", sid, key, resid)
            w, h = vp.width(), vp.height()
            if key == "color":
                if fmt not in COLOR_FORMATS:
                    raise ConfigError(
                        f"colour format {fmt} is not supported",
                        field_path=f"sensors[{sid}].params",
                        value=fmt,
                        choices=list(COLOR_FORMATS),
                    )
                sensor_name, fields = sid, {"image": FieldSpec(dtype="uint8", shape=(h, w, 3))}
                spec_kind = FrameKind.IMAGE
                attrs: dict[str, Any] = {"color_order": "rgb"}
            elif key == "depth":
                if aligned:
                    ccam = profiles["color"].as_video_stream_profile()
                    w, h = ccam.width(), ccam.height()
                sensor_name = sid if (aligned or primary == "depth") else f"{sid}_depth"
                fields = {"depth": FieldSpec(dtype="uint16", shape=(h, w))}
                spec_kind = FrameKind.DEPTH
                attrs = {"depth_scale_m": depth_scale, "units": "z16", "aligned_to": "color" if aligned else None}
            else:
                sensor_name = f"{sid}_ir{key[-1]}"
                fields = {"image": FieldSpec(dtype="uint8", shape=(h, w))}
                spec_kind, attrs = FrameKind.IMAGE, {"color_order": "gray"}
            spec = StreamSpec(name=f"{sensor_name}/{key if key in ('depth',) else 'image'}", kind=spec_kind, fields=fields,
                              rate_hz=float(prof.fps()), queue_size=8, attrs={**attrs, "driver": self.name, "format": fmt})  # fmt: skip
            cal_name = f"{sid}_depth" if key == "depth" and aligned else sensor_name
            sensors[cal_name] = SensorCalibration(camera=cam, world_from_sensor=pose)
            plans.append(_Plan(key, prof, idx, spec, fmt, cam, resid))
        align = None
        if aligned:
            dcam = next(p.camera for p in plans if p.key == "depth")
            ccam = next(p.camera for p in plans if p.key == "color")
            if not (isinstance(dcam, PinholeCamera) and isinstance(ccam, PinholeCamera)):
                raise ConfigError(
                    "depth alignment needs pinhole depth and colour models",
                    field_path=f"sensors[{sid}].params.align_depth_to_color",
                )
            align = (dcam, ccam, transform_from_extrinsics(profiles["depth"].get_extrinsics_to(profiles["color"])))
        info = {k: device.get_info(getattr(rs.camera_info, k)) for k in ("name", "serial_number", "firmware_version")
                if device.supports(getattr(rs.camera_info, k))}  # fmt: skip
        return _Device(device, plans, depth_scale, RigCalibration(sensors=sensors), align, info)

    def _pose(self, key: str, prof: Any, origin: Any) -> Transform:
        """``origin_from_prof`` from the device's extrinsics (identity for the origin itself, or,
        with a warning, when the device has none for this stream)."""
        if origin is None or _signature(prof) == _signature(origin):
            return Transform()
        try:
            return transform_from_extrinsics(prof.get_extrinsics_to(origin))
        except RuntimeError as exc:
            self.context.log.warning(
                "%s %s: no extrinsics to the primary camera (%s); identity used", self.context.sensor_id, key, exc
            )
            return Transform()

    def _offered(self, device: Any) -> list[str]:
        rs = require_rs()
        out = []
        for s in device.query_sensors():
            for p in s.get_stream_profiles():
                k = _key(rs, p)
                if k and p.is_video_stream_profile():
                    vp = p.as_video_stream_profile()
                    out.append(f"{k} {vp.width()}x{vp.height()}@{p.fps()} {str(p.format()).split('.')[-1]}")
        return sorted(set(out))

    # -- Driver ----------------------------------------------------------------------------------
    def streams(self) -> list[StreamSpec]:
        return [p.spec for p in self._describe().plans]

    def calibration(self) -> RigCalibration:
        return self._describe().calibration

    @property
    def device_info(self) -> dict[str, str]:
        """Name, serial number and firmware of the device (as it reports them)."""
        return dict(self._describe().info)

    @property
    def depth_scale_m(self) -> float:
        return self._describe().depth_scale_m

    def open(self) -> None:
        desc = self._describe()
        device = self._load_device() if self._sensors or self._dev_used else desc.device
        self._dev_used = True
        if device is not desc.device:
            desc.device = device
        self._playing.clear()
        self._queue = queue.Queue(maxsize=self._p.queue_size)
        by_sensor: dict[int, list[Any]] = {}
        for plan in desc.plans:
            by_sensor.setdefault(plan.sensor_index, []).append(plan)
        all_sensors = device.query_sensors()
        profiles = {}
        for idx, plans in by_sensor.items():
            for plan in plans:  # re-find the profile on this device instance (reopened playback)
                found = [p for p in all_sensors[idx].get_stream_profiles() if _signature(p) == plan.signature]
                if not found:
                    raise DriverError(
                        f"RealSense: stream {plan.key} {plan.signature} is no longer offered by the device"
                    )
                profiles[plan.key] = found[0]
        try:
            for idx, plans in by_sensor.items():
                sensor = all_sensors[idx]
                sensor.open([profiles[p.key] for p in plans])
                self._sensors.append(sensor)
            self._last_frame_t = time.monotonic()
            self._before_start()
            for sensor in self._sensors:
                sensor.start(self._on_frame)
            self._after_start()
        except Exception as exc:
            self.close()
            raise DriverError(f"RealSense: cannot start streaming: {exc}") from exc
        self._started_at = time.monotonic()

    _dev_used = False
    _started_at = 0.0

    def _on_frame(self, frame: Any) -> None:
        """librealsense's callback thread: copy out and queue (blocking in non-real-time playback)."""
        rs = require_rs()
        key = _key(rs, frame.get_profile())
        if key is None:
            return
        if frame.is_motion_frame():
            m = frame.as_motion_frame().get_motion_data()
            data: Any = np.array([m.x, m.y, m.z], dtype=np.float32)
        else:
            data = np.asanyarray(frame.get_data()).copy()
        item = (key, int(frame.get_frame_number()), float(frame.get_timestamp()), data)
        self._playing.set()
        if self.live or self._p.real_time:
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self.dropped += 1
        else:
            self._queue.put(item)

    def _finished(self) -> bool:
        return False

    def _before_start(self) -> None:
        pass

    def _after_start(self) -> None:
        pass

    def read(self) -> Sequence[Frame]:
        if not self._sensors:
            raise DriverError("RealSense read before open()")
        try:
            key, fn, ts_ms, data = self._queue.get(timeout=0.1)
        except queue.Empty:
            if self._finished():
                raise EndOfStream(f"{self.name}: end of recording") from None
            if self.live and time.monotonic() - self._last_frame_t > self._p.timeout_s:
                raise DriverError(f"RealSense: no frame for {self._p.timeout_s} s") from None
            return []
        self._last_frame_t = time.monotonic()
        if fn <= self._last_fn.get(key, -1) and not self.live:
            return []  # already delivered before a reopen
        self._last_fn[key] = fn
        plan = next(p for p in self._describe().plans if p.key == key)
        seq = fn + self._seq_offset.get(key, 0)
        if seq <= self._last_seq.get(key, -1):  # the device restarted its counter
            self._seq_offset[key] = self._last_seq[key] + 1 - fn
            seq = self._last_seq[key] + 1
        self._last_seq[key] = seq
        body = self._convert(plan, data)
        self.frames_read += 1
        return [Frame(plan.spec.name, round(ts_ms * 1e6), self.context.now_ns(), seq, body)]

    def _convert(self, plan: _Plan, data: np.ndarray) -> dict[str, np.ndarray]:
        if plan.key == "color":
            img = data[..., :3]
            if plan.fmt.startswith("bgr"):
                img = img[..., ::-1]
            return {"image": np.ascontiguousarray(img, dtype=np.uint8)}
        if plan.key == "depth":
            depth = np.ascontiguousarray(data, dtype=np.uint16)
            align = self._describe().align
            if align is not None:
                depth = align_depth_to_color(depth, align[0], align[1], align[2], self._describe().depth_scale_m)
            return {"depth": depth}
        if plan.key in ("accel", "gyro"):
            return {("accel_m_s2" if plan.key == "accel" else "gyro_rad_s"): data}
        return {"image": np.ascontiguousarray(data, dtype=np.uint8)}

    def close(self) -> None:
        for sensor in self._sensors:
            for op in (sensor.stop, sensor.close):
                try:
                    op()
                except RuntimeError:
                    pass
        self._sensors = []


def _signature(prof: Any) -> tuple[Any, ...]:
    """What identifies a stream profile across device instances (unique ids change on reload)."""
    size: tuple[int, int] = (0, 0)
    if prof.is_video_stream_profile():
        vp = prof.as_video_stream_profile()
        size = (vp.width(), vp.height())
    return (str(prof.stream_type()), prof.stream_index(), str(prof.format()), prof.fps(), size)


def _key(rs: Any, prof: Any) -> str | None:
    st = prof.stream_type()
    if st == rs.stream.color:
        return "color"
    if st == rs.stream.depth:
        return "depth"
    if st == rs.stream.infrared:
        return f"infrared{max(prof.stream_index(), 1)}"
    if st == rs.stream.accel:
        return "accel"
    if st == rs.stream.gyro:
        return "gyro"
    return None


class RealSenseDriver(_RealSenseBase):
    """A live RealSense device by serial number: colour, depth (aligned to colour), infrared, IMU."""

    name = "realsense.camera"
    Params = RealSenseParams
    live = True

    def _load_device(self) -> Any:
        rs = require_rs()
        devices = list(rs.context().query_devices())
        serials = [d.get_info(rs.camera_info.serial_number) for d in devices]
        p = self._p
        if p.serial is None:
            if len(devices) != 1:
                raise DriverError(
                    f"RealSense: give a serial number; {len(devices)} devices connected (serials: {serials})"
                )
            return devices[0]
        if p.serial not in serials:
            raise DriverError(f"RealSense device {p.serial!r} not found; connected: {serials or 'none'}")
        return devices[serials.index(p.serial)]

    def _select(self, key: str, prof: Any) -> bool:
        p = self._p
        fmt = str(prof.format()).split(".")[-1]
        if key in ("accel", "gyro"):
            return bool(p.imu)
        req = p.color if key == "color" else p.depth
        if key.startswith("infrared"):
            if int(key[-1]) not in p.infrared or fmt != "y8":
                return False
            req = p.depth or StreamRequest()
        if req is None or fmt != {"color": "rgb8", "depth": "z16"}.get(key, "y8"):
            return False
        vp = prof.as_video_stream_profile()
        return bool((vp.width(), vp.height(), prof.fps()) == (req.width, req.height, req.fps))


class RealSensePlaybackDriver(_RealSenseBase):
    """A RealSense recording (``.bag``, ``.db3``), every frame in order (sensor-level playback)."""

    name = "realsense.playback"
    Params = PlaybackParams
    live = False

    def _load_device(self) -> Any:
        rs = require_rs()
        path = Path(self._p.path).expanduser()
        if not path.is_file():
            raise DriverError(f"RealSense recording not found: {path}")
        try:
            device = rs.context().load_device(str(path))
        except RuntimeError as exc:
            raise DriverError(f"cannot open RealSense recording {path}: {exc}") from exc
        playback = device.as_playback()
        playback.set_real_time(bool(self._p.real_time))
        self._playback = playback
        return device

    def _select(self, key: str, prof: Any) -> bool:
        return self._p.streams is None or key in self._p.streams

    def _before_start(self) -> None:
        # Playback starts with the first sensor started: a sensor started later misses the
        # frames already played (and the status flips to "stopped" in between). Pausing
        # first and resuming once every sensor runs plays all streams from the start.
        rs = require_rs()
        self._stopped = threading.Event()

        def on_status(status: Any) -> None:
            if status == rs.playback_status.stopped and self._resumed:
                self._stopped.set()

        self._resumed = False
        self._playback.set_status_changed_callback(on_status)
        self._playback.pause()

    def _after_start(self) -> None:
        self._resumed = True
        self._playback.resume()

    def _finished(self) -> bool:
        return self._queue.empty() and self._stopped.is_set()
