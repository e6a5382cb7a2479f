"""``rosbag.replay``: a ROS bag played through the pipeline.

Topics map to streams in the rig file (``topics: {/camera/image_raw: cam0/image}``); what a topic
becomes follows its message type:

* ``sensor_msgs/Image`` -> ``image`` (``(H, W, 3)`` uint8 RGB, or ``(H, W)`` grey) or, for the
  depth encodings ``16UC1`` (mm) / ``32FC1`` (m), ``depth`` (``depth_m`` ``(H, W)`` float32 metres);
* ``sensor_msgs/CompressedImage`` (jpeg / png / compressedDepth) -> the same, decoded with OpenCV;
* ``sensor_msgs/PointCloud2`` -> ``point_cloud`` (ragged ``xyz`` float32 metres in the sensor's
  frame, plus every other point field);
* ``sensor_msgs/Imu`` -> ``device_pose``-kind IMU samples (``orientation_xyzw``, ``gyro_rad_s``,
  ``accel_m_s2``), as the RealSense driver's IMU streams;
* ``sensor_msgs/CameraInfo`` (mapped to a sensor id) -> that sensor's camera model;
* ``nav_msgs/Odometry``, ``geometry_msgs/PoseStamped`` / ``PoseWithCovarianceStamped`` (mapped to a
  device id) -> ``<device>/device_pose``; sensors rigidly below an odometry's body ride on it.

TF (``/tf_static``, ``/tf``) places every sensor: ``world_from_sensor`` of the frame its messages
name (``header.frame_id``), composed through the tree into ``world_frame``. ``poses`` turns moving
frames into ``<device>/device_pose`` streams; sensors rigidly below such a frame are mounted on it.

Frames come out in the bag's order, paced by the recorded gaps in a live run, as fast as the
pipeline takes them with ``--fast`` (or ``timing: fast``). A message that cannot be converted
(it does not deserialise, its data is short, its image does not decode, its time goes backwards)
is counted, recorded as an event and skipped.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

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
    Transform,
)
from sensorfusion.schema import (
    DEVICE_POSE_CHANNEL,
    DeviceMount,
    KannalaBrandtCamera,
    PinholeCamera,
    device_pose_spec,
)

from ._bag import open_bag
from ._convert import (
    BadMessage,
    CloudLayout,
    UnknownDistortion,
    camera_from_info,
    cloud_layout,
    decode_compressed,
    decode_image,
    frame_from_body,
    header_stamp_ns,
    image_kind,
    imu_values,
    read_cloud,
)
from ._tf import TF_TYPES, TfTree, strip_frame

__all__ = ["SUPPORTED_TYPES", "RosbagReplayDriver", "RosbagReplayParams", "TopicParams"]

Kind = Literal["image", "depth", "point_cloud", "imu", "camera_info", "pose"]

SUPPORTED_TYPES: dict[str, tuple[str, ...]] = {
    "sensor_msgs/msg/Image": ("image", "depth"),
    "sensor_msgs/msg/CompressedImage": ("image", "depth"),
    "sensor_msgs/msg/PointCloud2": ("point_cloud",),
    "sensor_msgs/msg/Imu": ("imu",),
    "sensor_msgs/msg/CameraInfo": ("camera_info",),
    "nav_msgs/msg/Odometry": ("pose",),
    "geometry_msgs/msg/PoseStamped": ("pose",),
    "geometry_msgs/msg/PoseWithCovarianceStamped": ("pose",),
}
"""Message types a topic may carry, and the kinds each may become (the first is the default,
except for images, whose encoding decides)."""

_FAST_BATCH = 32  # messages converted per read() when not pacing
_MAX_SLEEP_S = 0.1  # pacing sleeps in slices, so a stop is seen soon
_PEEK = 20  # messages tried per topic to find a convertible first one
_MAX_EVENTS_PER_TOPIC = 10


class TopicParams(BaseModel):
    """One topic's mapping (the long form of ``topic: stream``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stream: str = Field(
        description="sensor/channel (a CameraInfo topic: the sensor id it calibrates; a pose topic: the device id)"
    )
    kind: Kind | None = Field(
        default=None, description="what the topic becomes (default: from its message type and encoding)"
    )
    rectified: bool = Field(
        default=False,
        description="CameraInfo only: the images are rectified; the camera is P's distortion-free pinhole",
    )


class RosbagReplayParams(BaseModel):
    """Parameters of ``rosbag.replay`` (paths are relative to the rig file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str | list[str] = Field(
        description="the bag: a ROS 1 .bag, a rosbag2 .db3 / .mcap file or a rosbag2 folder; "
        "a list: the .bag files of one split ROS 1 recording"
    )
    topics: dict[str, str | TopicParams] = Field(
        description="topic -> stream name (sensor/channel; a CameraInfo topic -> sensor id), or {stream, kind, rectified}",
        min_length=1,
    )
    world_frame: str | None = Field(
        default=None, description="TF frame that is the rig's world (default: the root of the sensors' TF tree)"
    )
    frames: dict[str, str] = Field(
        default_factory=dict, description="sensor id -> TF frame, overriding the frame_id its messages name"
    )
    tf_topics: list[str] = Field(default_factory=lambda: ["/tf", "/tf_static"], description="topics read as TF")
    poses: dict[str, str] = Field(
        default_factory=dict,
        description="device sensor id -> moving TF frame, streamed as <device>/device_pose (world_from_device)",
    )
    time: Literal["header", "receive"] = Field(
        default="header", description="t_sensor_ns from header.stamp, or the bag's receive time"
    )
    start_s: float = Field(default=0.0, ge=0, description="skip this much of the bag (seconds after its start)")
    end_s: float | None = Field(default=None, gt=0, description="stop this many seconds after the bag's start")
    timing: Literal["recorded", "fast"] = Field(
        default="recorded", description="recorded: paced by the recorded gaps in a live run; fast: as fast as taken"
    )
    drop_nan_points: bool = Field(default=True, description="drop points with a NaN/inf coordinate")

    @field_validator("topics")
    @classmethod
    def _long_form(cls, v: dict[str, str | TopicParams]) -> dict[str, str | TopicParams]:
        return {topic: (TopicParams(stream=t) if isinstance(t, str) else t) for topic, t in v.items()}


@dataclass
class _Plan:
    """One data topic to play."""

    topic: str
    msgtype: str
    kind: str
    spec: StreamSpec
    frame_id: str
    layout: CloudLayout | None = None
    child_frame: str = ""  # an Odometry's child_frame_id: the moving body its pose places
    count: int = 0
    zero_stamps: int = 0  # messages of this topic seen (sequence numbers)
    last_t: int = -(2**63)
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    events: int = 0


class RosbagReplayDriver(Driver):
    """Plays the mapped topics of a ROS bag in the bag's order."""

    name = "rosbag.replay"
    Params = RosbagReplayParams

    def __init__(self, params: BaseModel, context: DriverContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, RosbagReplayParams)
        self.p = params
        self.path: str | list[str] = (
            context.resolve(params.path) if isinstance(params.path, str) else [context.resolve(p) for p in params.path]
        )
        if params.end_s is not None and params.end_s <= params.start_s:
            raise ConfigError("end_s must be after start_s", field_path=context.param_path("end_s"), value=params.end_s)
        self._plans: dict[str, _Plan] = {}
        self._cameras: dict[str, tuple[PinholeCamera | KannalaBrandtCamera, str]] = {}  # sensor -> (model, frame)
        self.tf = TfTree()
        reader = open_bag(self.path, field_path=context.param_path("path"))
        try:
            self._bag_start_ns = int(reader.start_time)
            self._bag_end_ns = int(reader.end_time)
            self._window = (
                self._bag_start_ns + round(params.start_s * 1e9),
                None if params.end_s is None else self._bag_start_ns + round(params.end_s * 1e9),
            )
            self._plan_topics(reader)
            self._read_tf(reader)
        finally:
            reader.close()
        self._calibration = self._build_calibration()
        self._pose_specs = self._plan_poses()
        self._reader: Any = None
        self._iter: Iterator[tuple[Any, int, bytes]] | None = None
        self._pending: tuple[Any, int, bytes] | None = None
        self._consumed = 0
        self._emitted = 0
        self._anchor: tuple[float, int] | None = None
        self._pose_last: dict[str, int] = {}
        self._pose_counts: dict[str, int] = {}
        self._bad_tf = 0

    # -- planning --------------------------------------------------------------------------------

    def _topic_path(self, topic: str) -> str:
        return self.context.param_path(f"topics.{topic}")

    def _plan_topics(self, reader: Any) -> None:
        topics = reader.topics
        listing = [f"{t} ({info.msgtype})" for t, info in sorted(topics.items())]
        streams: dict[str, str] = {}
        for topic, tp in self.p.topics.items():
            assert isinstance(tp, TopicParams)
            fp = self._topic_path(topic)
            info = topics.get(topic)
            if info is None:
                raise ConfigError("this topic is not in the bag", field_path=fp, value=topic, choices=listing)
            msgtype = str(info.msgtype)
            kinds = SUPPORTED_TYPES.get(msgtype)
            if kinds is None:
                raise ConfigError(
                    f"topic {topic} carries {msgtype}, which rosbag.replay cannot convert",
                    field_path=fp,
                    value=msgtype,
                    choices=list(SUPPORTED_TYPES),
                )
            if msgtype not in reader.typestore.types:
                raise ConfigError(f"the bag has no definition of {msgtype}", field_path=fp, value=msgtype)
            if tp.kind is not None and tp.kind not in kinds:
                raise ConfigError(
                    f"a {msgtype} topic cannot become {tp.kind}", field_path=f"{fp}.kind", value=tp.kind, choices=kinds
                )
            conns = [c for c in reader.connections if c.topic == topic]
            if msgtype == "sensor_msgs/msg/CameraInfo":
                self._plan_camera_info(reader, topic, tp, conns)
                continue
            if kinds == ("pose",):
                device, _, channel = tp.stream.partition("/")
                if channel not in ("", DEVICE_POSE_CHANNEL):
                    raise ConfigError(
                        f"a pose topic becomes <device>/{DEVICE_POSE_CHANNEL}: map it to {device!r}",
                        field_path=fp,
                        value=tp.stream,
                    )
                tp = tp.model_copy(update={"stream": f"{device}/{DEVICE_POSE_CHANNEL}"})
            if "/" not in tp.stream:
                raise ConfigError("a data topic maps to a stream named sensor/channel", field_path=fp, value=tp.stream)
            if tp.stream in streams:
                raise ConfigError(
                    f"two topics map to the stream {tp.stream} ({streams[tp.stream]} and {topic})",
                    field_path=fp,
                    value=tp.stream,
                )
            streams[tp.stream] = topic
            self._plans[topic] = self._plan_data(reader, topic, tp, msgtype, conns, int(info.msgcount))

    def _first(self, reader: Any, conns: list[Any], topic: str, convert: Any) -> tuple[Any, Any]:
        """The first message of ``conns`` in the window that ``convert`` accepts, and its result."""
        start, stop = self._window
        reasons: list[str] = []
        for n, (conn, _, raw) in enumerate(reader.messages(connections=conns, start=start, stop=stop)):
            if n >= _PEEK:
                break
            try:
                msg = reader.deserialize(raw, conn.msgtype)
                return msg, convert(msg)
            except UnknownDistortion:
                raise
            except Exception as exc:  # a corrupt first message: try the next one
                reasons.append(str(exc))
        fp = self._topic_path(topic)
        if not reasons:
            raise ConfigError("the topic has no message in the played time window", field_path=fp, value=topic)
        raise ConfigError(
            f"none of the first {len(reasons)} message(s) of the topic converts: {reasons[0]}", field_path=fp
        )

    def _plan_camera_info(self, reader: Any, topic: str, tp: TopicParams, conns: list[Any]) -> None:
        sensor = tp.stream.split("/")[0]
        try:
            msg, cam = self._first(reader, conns, topic, lambda m: camera_from_info(m, rectified=tp.rectified))
        except UnknownDistortion as exc:
            raise ConfigError(str(exc), field_path=self._topic_path(topic)) from exc
        if sensor in self._cameras:
            raise ConfigError(f"two CameraInfo topics calibrate sensor {sensor}", field_path=self._topic_path(topic))
        self._cameras[sensor] = (cam, strip_frame(str(msg.header.frame_id)))

    def _plan_data(self, reader: Any, topic: str, tp: TopicParams, msgtype: str, conns: list[Any], count: int) -> _Plan:
        span_s = max((self._bag_end_ns - self._bag_start_ns) * 1e-9, 1e-9)
        rate = round(count / span_s, 3) if count > 1 else 0.0
        attrs: dict[str, Any] = {"driver": self.name, "topic": topic, "msgtype": msgtype}
        if msgtype in ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"):
            compressed = msgtype.endswith("CompressedImage")

            def default_kind(m: Any) -> str:
                if compressed:
                    fmt = str(m.format)
                    return (
                        "depth" if "compresseddepth" in fmt.lower() or fmt.startswith(("16UC1", "32FC1")) else "image"
                    )
                return image_kind(str(m.encoding))

            decode = decode_compressed if compressed else decode_image
            msg, kind = self._first(reader, conns, topic, lambda m: tp.kind or default_kind(m))
            msg, img = self._first(reader, conns, topic, lambda m: decode(m, as_depth=kind == "depth"))
            attrs["encoding" if not compressed else "format"] = str(msg.format if compressed else msg.encoding)
            if kind == "depth":
                fields = {"depth_m": FieldSpec(dtype="float32", shape=img.shape)}
                attrs.update(units="m", depth_scale_m=1.0)
                fk = FrameKind.DEPTH
            else:
                fields = {"image": FieldSpec(dtype=str(img.dtype), shape=img.shape)}
                attrs["color_order"] = "rgb" if img.ndim == 3 else "gray"
                fk = FrameKind.IMAGE
            spec = StreamSpec(name=tp.stream, kind=fk, fields=fields, rate_hz=rate, queue_size=8, attrs=attrs)
            return _Plan(topic, msgtype, kind, spec, strip_frame(str(msg.header.frame_id)))
        if msgtype == "sensor_msgs/msg/PointCloud2":
            msg, layout = self._first(reader, conns, topic, cloud_layout)
            fields = {"xyz": FieldSpec(dtype="float32", shape=(3,))}
            for sdk, (_, dt, shape) in layout.extra.items():
                fields[sdk] = FieldSpec(dtype=dt, shape=shape)
            frame = strip_frame(str(msg.header.frame_id))
            attrs.update(frame=tp.stream.split("/")[0], frame_id=frame, units="m",
                         point_fields={sdk: ros for sdk, (ros, _, _) in layout.extra.items()})  # fmt: skip
            spec = StreamSpec(name=tp.stream, kind=FrameKind.POINT_CLOUD, fields=fields, ragged=True,
                              rate_hz=rate, queue_size=8, attrs=attrs)  # fmt: skip
            return _Plan(topic, msgtype, "point_cloud", spec, frame, layout=layout)
        if SUPPORTED_TYPES[msgtype] == ("pose",):
            msg, _ = self._first(reader, conns, topic, frame_from_body)
            frame = strip_frame(str(msg.header.frame_id))
            child = strip_frame(str(getattr(msg, "child_frame_id", "")))
            spec = device_pose_spec(tp.stream.split("/")[0], rate_hz=rate,
                                    attrs={**attrs, "frame_id": frame, "child_frame_id": child})  # fmt: skip
            return _Plan(topic, msgtype, "pose", spec, frame, child_frame=child)
        assert msgtype == "sensor_msgs/msg/Imu"
        msg, _ = self._first(reader, conns, topic, imu_values)
        fields = {
            "orientation_xyzw": FieldSpec(dtype="float64", shape=(4,)),
            "gyro_rad_s": FieldSpec(dtype="float64", shape=(3,)),
            "accel_m_s2": FieldSpec(dtype="float64", shape=(3,)),
        }
        frame = strip_frame(str(msg.header.frame_id))
        attrs.update(frame=tp.stream.split("/")[0], frame_id=frame)
        spec = StreamSpec(name=tp.stream, kind=FrameKind.DEVICE_POSE, fields=fields, rate_hz=rate,
                          queue_size=256, attrs=attrs)  # fmt: skip
        return _Plan(topic, msgtype, "imu", spec, frame)

    def _read_tf(self, reader: Any) -> None:
        """Every ``/tf_static`` transform (latched: the whole bag) and the ``/tf`` ones in the window."""
        start, stop = self._window
        for topic in self.p.tf_topics:
            conns = [c for c in reader.connections if c.topic == topic and c.msgtype in TF_TYPES]
            if not conns:
                continue
            static = topic.endswith("tf_static")
            window = (None, None) if static else (start, stop)
            for conn, _, raw in reader.messages(connections=conns, start=window[0], stop=window[1]):
                try:
                    self.tf.add(reader.deserialize(raw, conn.msgtype), static=static)
                except Exception:  # a corrupt TF message: counted, the others still place the sensors
                    self.tf.bad_transforms += 1

    # -- calibration ----------------------------------------------------------------------------

    def _sensor_frames(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for sensor, (_, frame) in self._cameras.items():
            out[sensor] = frame
        for plan in self._plans.values():
            if plan.kind != "pose":
                out.setdefault(plan.spec.sensor, plan.frame_id)
        for sensor, frame in self.p.frames.items():
            if sensor not in out:
                raise ConfigError(
                    "frames names a sensor no topic maps to",
                    field_path=self.context.param_path(f"frames.{sensor}"),
                    value=sensor,
                    choices=sorted(out),
                )
            out[sensor] = strip_frame(frame)
        return out

    def _world(self, frames: dict[str, str]) -> str | None:
        tf_frames = self.tf.frames
        if not self.tf:
            if self.p.world_frame or self.p.poses:
                what = "world_frame" if self.p.world_frame else "poses"
                raise ConfigError(
                    "the bag has no TF transforms (on tf_topics) to place sensors with",
                    field_path=self.context.param_path(what),
                    choices=self.p.tf_topics,
                )
            return None
        pose_frames = sorted({p.frame_id for p in self._plans.values() if p.kind == "pose"})
        if self.p.world_frame:
            world = strip_frame(self.p.world_frame)
            if world not in tf_frames and world not in pose_frames:
                raise ConfigError(
                    "world_frame is not a TF frame of the bag",
                    field_path=self.context.param_path("world_frame"),
                    value=self.p.world_frame,
                    choices=sorted({*tf_frames, *pose_frames}),
                )
            return world
        if pose_frames:  # the root of the frames the pose topics (odometry) are given in
            pose_roots = sorted({self.tf.root(f) if f in tf_frames else f for f in pose_frames})
            if len(pose_roots) > 1:
                raise ConfigError(
                    "the pose topics' frames are in separate TF trees: set world_frame",
                    field_path=self.context.param_path("world_frame"),
                    choices=pose_roots,
                )
            return pose_roots[0]
        roots = sorted({self.tf.root(f) for f in frames.values() if f in tf_frames})
        if not roots:  # no sensor frame in the tree: the tree's root, so each sensor's error names its frame
            roots = sorted({self.tf.root(f) for f in tf_frames})
        if len(roots) > 1:
            raise ConfigError(
                "the sensors' frames are in separate TF trees: set world_frame",
                field_path=self.context.param_path("world_frame"),
                choices=roots,
            )
        return roots[0] if roots else None

    def _build_calibration(self) -> RigCalibration:
        frames = self._sensor_frames()
        world = self._world(frames)
        self.world_frame = world
        sensors: dict[str, SensorCalibration] = {}
        for sensor, frame in frames.items():
            cam = self._cameras.get(sensor, (None, ""))[0]
            if cam is not None:
                for plan in self._plans.values():
                    if plan.spec.sensor == sensor and plan.kind in ("image", "depth"):
                        (fname,) = plan.spec.fields
                        h, w = plan.spec.fields[fname].shape[:2]
                        if (cam.width, cam.height) != (w, h):
                            raise ConfigError(
                                f"sensor {sensor}: the camera info is for {cam.width}x{cam.height} images, "
                                f"{plan.topic} has {w}x{h}",
                                field_path=self._topic_path(plan.topic),
                            )
            pose = Transform()
            mount: DeviceMount | None = None
            if world is not None:
                mount = self._mount(frame, world)
                placed = bool(frame) and (frame == world or self.tf.connected(frame, world))
                if not placed and mount is None:
                    raise ConfigError(
                        f"sensor {sensor}: its frame {frame!r} is not connected to {world!r} by TF "
                        "(set frames.<sensor> to a frame of the tree)",
                        field_path=self.context.param_path(f"frames.{sensor}"),
                        value=frame,
                        choices=self.tf.frames,
                    )
                if placed:
                    pose = Transform.from_matrix(self.tf.world_from(frame, world))
            sensors[sensor] = SensorCalibration(camera=cam, world_from_sensor=pose, mount=mount)
        for plan in self._plans.values():
            if plan.kind == "pose" and world is not None and plan.frame_id != world:
                if not self.tf.connected(plan.frame_id, world):
                    raise ConfigError(
                        f"{plan.topic} gives poses in frame {plan.frame_id!r}, which TF does not connect to {world!r}",
                        field_path=self._topic_path(plan.topic),
                        value=plan.frame_id,
                        choices=self.tf.frames,
                    )
        return RigCalibration(sensors=sensors)

    def _mount(self, frame: str, world: str) -> DeviceMount | None:
        """A mount on the moving device (a ``poses`` frame or an Odometry's body) that ``frame`` is
        rigidly attached to, or ``None``."""
        devices = {device: strip_frame(f) for device, f in self.p.poses.items()}
        for plan in self._plans.values():
            if plan.kind == "pose" and plan.child_frame:
                devices.setdefault(plan.spec.sensor, plan.child_frame)
        for device, dframe in devices.items():
            if not frame or not self.tf.connected(frame, dframe) or not self.tf.is_static_path(frame, dframe):
                continue
            if self.tf.connected(dframe, world) and self.tf.is_static_path(dframe, world):
                return None  # the device does not move in the world: a fixed sensor
            return DeviceMount(
                device=device, device_from_sensor=Transform.from_matrix(self.tf.world_from(frame, dframe))
            )
        return None

    def _plan_poses(self) -> dict[str, tuple[StreamSpec, str]]:
        out: dict[str, tuple[StreamSpec, str]] = {}
        names = {p.spec.name for p in self._plans.values()}
        for device, frame in self.p.poses.items():
            fp = self.context.param_path(f"poses.{device}")
            frame = strip_frame(frame)
            assert self.world_frame is not None  # _world() refused poses without TF
            if not self.tf.connected(frame, self.world_frame):
                raise ConfigError(
                    f"frame {frame!r} is not connected to {self.world_frame!r} by TF",
                    field_path=fp,
                    value=frame,
                    choices=self.tf.frames,
                )
            spec = device_pose_spec(device, attrs={"source": "tf", "frame_id": frame, "world_frame": self.world_frame,
                                                   "driver": self.name})  # fmt: skip
            if spec.name in names:
                raise ConfigError(f"{spec.name} is also a topic's stream", field_path=fp, value=device)
            out[device] = (spec, frame)
        return out

    def calibration(self) -> RigCalibration:
        return self._calibration

    def streams(self) -> list[StreamSpec]:
        return [p.spec for p in self._plans.values()] + [spec for spec, _ in self._pose_specs.values()]

    # -- reading --------------------------------------------------------------------------------

    def open(self) -> None:
        if self._reader is not None:
            return
        reader = open_bag(self.path, field_path=self.context.param_path("path"))
        wanted = set(self._plans)
        if self._pose_specs:
            wanted |= {t for t in self.p.tf_topics if not t.endswith("tf_static")}
        conns = [c for c in reader.connections if c.topic in wanted]
        start, stop = self._window
        it = reader.messages(connections=conns, start=start, stop=stop)
        for _ in range(self._consumed):  # resume after a restart: skip what was played
            next(it, None)
        self._reader, self._iter = reader, it
        self._anchor = None

    def close(self) -> None:
        reader, self._reader, self._iter, self._pending = self._reader, None, None, None
        if reader is not None:
            try:
                reader.close()
            except Exception:  # closing a reader whose file went away: nothing left to release
                pass

    def _fast(self) -> bool:
        return self.p.timing == "fast" or not self.context.realtime

    def read(self) -> Sequence[Frame]:
        if self._iter is None:
            raise DriverError("rosbag.replay read before open()")
        fast = self._fast()
        out: list[Frame] = []
        for _ in range(_FAST_BATCH):
            item = self._pending if self._pending is not None else next(self._iter, None)
            self._pending = None
            if item is None:
                if out:
                    return out
                raise EndOfStream(f"rosbag.replay: {self.path} played to its end")
            if not fast:
                if self._anchor is None:
                    self._anchor = (time.monotonic(), item[1])
                wait_s = self._anchor[0] + (item[1] - self._anchor[1]) * 1e-9 - time.monotonic()
                if wait_s > 0:
                    self._pending = item
                    if not out:
                        self.context.stop.wait(min(wait_s, _MAX_SLEEP_S))
                    return out
            self._consumed += 1
            out.extend(self._convert(*item))
        return out

    def _convert(self, conn: Any, t_recv: int, raw: bytes) -> list[Frame]:
        plan = self._plans.get(conn.topic)
        if plan is None:
            return self._poses(conn, t_recv, raw)
        seq = plan.count
        plan.count += 1
        try:
            msg = self._reader.deserialize(raw, conn.msgtype)
        except Exception as exc:  # rosbags' deserialiser on a truncated / damaged message
            self._skip(plan, seq, "undecodable", f"does not deserialise: {exc}")
            return []
        try:
            data = self._data(plan, msg)
            t = header_stamp_ns(msg) if self.p.time == "header" else t_recv
            if t == 0:  # an unset header stamp: the receive time stands in, counted
                t = t_recv
                plan.zero_stamps += 1
        except BadMessage as exc:
            self._skip(plan, seq, "bad_data", str(exc))
            return []
        try:
            plan.spec.validate_frame(Frame(plan.spec.name, t, t_recv, seq, data))
        except Exception as exc:
            self._skip(plan, seq, "shape_changed", str(exc))
            return []
        if t < plan.last_t:
            self._skip(plan, seq, "backwards", f"time {t} ns is before the previous message's {plan.last_t} ns")
            return []
        plan.last_t = t
        self._emitted += 1
        return [Frame(plan.spec.name, t, t_recv, seq, data)]

    def _data(self, plan: _Plan, msg: Any) -> dict[str, np.ndarray]:
        if plan.kind in ("image", "depth"):
            decode = decode_compressed if plan.msgtype.endswith("CompressedImage") else decode_image
            arr = decode(msg, as_depth=plan.kind == "depth")
            return {"depth_m": arr} if plan.kind == "depth" else {"image": arr}
        if plan.kind == "pose":
            m = frame_from_body(msg)
            world = self.world_frame
            if world is not None and plan.frame_id != world:
                m = self.tf.world_from(plan.frame_id, world, header_stamp_ns(msg)) @ m
            return {"world_from_device": np.ascontiguousarray(m)}
        if plan.kind == "point_cloud":
            assert plan.layout is not None
            return read_cloud(msg, plan.layout, drop_nan=self.p.drop_nan_points)
        return imu_values(msg)

    def _skip(self, plan: _Plan, seq: int, reason: str, message: str) -> None:
        plan.skipped[reason] += 1
        if plan.events < _MAX_EVENTS_PER_TOPIC:
            plan.events += 1
            self.context.event("corrupt_message", f"{plan.topic} message {seq} skipped: {message}",
                               topic=plan.topic, seq=seq, reason=reason)  # fmt: skip

    def _poses(self, conn: Any, t_recv: int, raw: bytes) -> list[Frame]:
        """``device_pose`` frames for the moving frames a ``/tf`` message moves."""
        try:
            msg = self._reader.deserialize(raw, conn.msgtype)
        except Exception:
            self._bad_tf += 1
            return []
        assert self.world_frame is not None
        out: list[Frame] = []
        children = {strip_frame(str(ts.child_frame_id)): ts for ts in msg.transforms}
        for device, (spec, frame) in self._pose_specs.items():
            moved = [c for c in self.tf.change_edges(frame, self.world_frame) if c in children]
            if not moved:
                continue
            stamp = children[moved[0]].header.stamp
            t_stamp = int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
            t = t_stamp if self.p.time == "header" else t_recv
            if t <= self._pose_last.get(device, -(2**63)):
                continue
            seq = self._pose_seq(device)
            self._pose_last[device] = t
            m = self.tf.world_from(frame, self.world_frame, t_stamp)  # the tree is on the stamps' clock
            out.append(Frame(spec.name, t, t_recv, seq, {"world_from_device": np.ascontiguousarray(m)}))
            self._emitted += 1
        return out

    def _pose_seq(self, device: str) -> int:
        n = self._pose_counts[device] = self._pose_counts.get(device, -1) + 1
        return n

    def summary(self) -> dict[str, Any]:
        skipped = {p.topic: dict(p.skipped) for p in self._plans.values() if p.skipped}
        out: dict[str, Any] = {
            "messages": self._consumed,
            "frames": self._emitted,
            "skipped": sum(sum(v.values()) for v in skipped.values()),
        }
        if skipped:
            out["skipped_by_topic"] = skipped
        zero = {p.topic: p.zero_stamps for p in self._plans.values() if p.zero_stamps}
        if zero:
            out["zero_stamps_by_topic"] = zero  # header stamps of 0, replaced by the receive time
        if self.tf:
            out["tf"] = {"messages": self.tf.messages, "frames": len(self.tf.frames),
                         "bad_transforms": self.tf.bad_transforms + self._bad_tf, "world_frame": self.world_frame}  # fmt: skip
        return out
