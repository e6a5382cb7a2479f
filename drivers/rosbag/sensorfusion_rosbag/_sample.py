"""A small synthetic bag written with ``rosbags``' own writers, and what it holds.

``write_sample_bag`` records a robot with a pinhole RGB camera (padded ``rgb8`` rows, plumb_bob
camera info), its aligned ``16UC1`` depth, a fisheye camera sending PNG ``CompressedImage``s
(equidistant camera info), a lidar ``PointCloud2`` (padded points and rows, a NaN point per
cloud, optionally big-endian), an IMU, and TF: static mounts under ``base_link`` and a moving
``odom -> base_link``, under ``map``. It returns a :class:`SampleBag` with every value written,
so tests (and ``examples/rosbag_replay.yaml``) check the driver against the recording.

Run ``python -m sensorfusion_rosbag.sample OUT [--storage mcap|sqlite3|ros1]`` to write one.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._bag import rosbags_module
from ._tf import quat_xyzw_to_matrix

__all__ = ["SampleBag", "main", "write_sample_bag"]

Storage = Literal["mcap", "sqlite3", "ros1"]

T0_NS = 1_700_000_000 * 1_000_000_000
RECEIVE_DELAY_NS = 3_000_000  # each message reaches the recorder 3 ms after its stamp
W, H = 40, 30
FW, FH = 32, 32


@dataclass
class SampleBag:
    """What :func:`write_sample_bag` wrote (stamps in int64 ns, the bag's receive time is stamp + 3 ms)."""

    path: Path
    storage: str
    image_t_ns: list[int] = field(default_factory=list)
    images_rgb: list[np.ndarray] = field(default_factory=list)
    depth_m: list[np.ndarray] = field(default_factory=list)
    fisheye_t_ns: list[int] = field(default_factory=list)
    fisheye_rgb: list[np.ndarray] = field(default_factory=list)
    cloud_t_ns: list[int] = field(default_factory=list)
    clouds_xyz: list[np.ndarray] = field(default_factory=list)  # NaN point included
    clouds_intensity: list[np.ndarray] = field(default_factory=list)
    clouds_ring: list[np.ndarray] = field(default_factory=list)
    imu_t_ns: list[int] = field(default_factory=list)
    imu_gyro: list[np.ndarray] = field(default_factory=list)
    imu_accel: list[np.ndarray] = field(default_factory=list)
    imu_quat_xyzw: list[np.ndarray] = field(default_factory=list)
    tf_t_ns: list[int] = field(default_factory=list)
    odom_from_base: list[np.ndarray] = field(default_factory=list)
    map_from_odom: np.ndarray = field(default_factory=lambda: np.eye(4))
    base_from: dict[str, np.ndarray] = field(default_factory=dict)  # frame -> base_link_from_frame
    pinhole: dict[str, float] = field(default_factory=dict)
    equidistant: dict[str, float] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)

    def odom_from_base_at(self, t_ns: int) -> np.ndarray:
        """The last ``odom -> base_link`` sample at or before ``t_ns`` (the first one before them)."""
        i = max(int(np.searchsorted(self.tf_t_ns, t_ns, side="right")) - 1, 0)
        return self.odom_from_base[i]

    def map_from(self, frame: str, t_ns: int | None = None) -> np.ndarray:
        """``map_from_<frame>`` (a sensor frame, or ``base_link``) at ``t_ns`` (None: the first TF sample)."""
        odom = self.odom_from_base[0] if t_ns is None else self.odom_from_base_at(t_ns)
        base = np.eye(4) if frame == "base_link" else self.base_from[frame]
        out: np.ndarray = self.map_from_odom @ odom @ base
        return out


def _pose(rotvec: tuple[float, float, float], t: tuple[float, float, float]) -> np.ndarray:
    angle = float(np.linalg.norm(rotvec))
    axis = np.asarray(rotvec) / angle if angle > 0 else np.array([1.0, 0.0, 0.0])
    s = math.sin(angle / 2)
    m = np.eye(4)
    m[:3, :3] = quat_xyzw_to_matrix(axis[0] * s, axis[1] * s, axis[2] * s, math.cos(angle / 2))
    m[:3, 3] = t
    return m


def _quat(m: np.ndarray) -> tuple[float, float, float, float]:
    """xyzw of a rotation matrix (w >= 0)."""
    r = m[:3, :3]
    w = math.sqrt(max(0.0, 1.0 + r[0, 0] + r[1, 1] + r[2, 2])) / 2
    if w > 1e-6:
        return ((r[2, 1] - r[1, 2]) / (4 * w), (r[0, 2] - r[2, 0]) / (4 * w), (r[1, 0] - r[0, 1]) / (4 * w), w)
    i = int(np.argmax(np.diag(r)))
    j, k = (i + 1) % 3, (i + 2) % 3
    q = np.zeros(4)
    q[i] = math.sqrt(max(0.0, 1.0 + r[i, i] - r[j, j] - r[k, k])) / 2
    q[j] = (r[j, i] + r[i, j]) / (4 * q[i])
    q[k] = (r[k, i] + r[i, k]) / (4 * q[i])
    q[3] = (r[k, j] - r[j, k]) / (4 * q[i])
    return (float(q[0]), float(q[1]), float(q[2]), float(q[3]))


class _Msgs:
    """Builds messages of one typestore (ROS 1 Noetic or ROS 2 Humble field names)."""

    def __init__(self, ros1: bool) -> None:
        typesys = rosbags_module("typesys")
        self.ros1 = ros1
        self.store = typesys.get_typestore(typesys.Stores.ROS1_NOETIC if ros1 else typesys.Stores.ROS2_HUMBLE)
        if "tf2_msgs/msg/TFMessage" not in self.store.types:
            self.store.register(
                typesys.get_types_from_msg("geometry_msgs/TransformStamped[] transforms", "tf2_msgs/msg/TFMessage")
            )
        self.t = self.store.types

    def header(self, t_ns: int, frame_id: str) -> Any:
        stamp = self.t["builtin_interfaces/msg/Time"](sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000)
        extra = {"seq": 0} if self.ros1 else {}
        return self.t["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id, **extra)

    def serialize(self, msg: Any, msgtype: str) -> bytes:
        data = self.store.serialize_ros1(msg, msgtype) if self.ros1 else self.store.serialize_cdr(msg, msgtype)
        return bytes(data)

    def transform(self, t_ns: int, parent: str, child: str, m: np.ndarray) -> Any:
        t = self.t
        qx, qy, qz, qw = _quat(m)
        tf = t["geometry_msgs/msg/Transform"](
            translation=t["geometry_msgs/msg/Vector3"](x=float(m[0, 3]), y=float(m[1, 3]), z=float(m[2, 3])),
            rotation=t["geometry_msgs/msg/Quaternion"](x=qx, y=qy, z=qz, w=qw),
        )
        return t["geometry_msgs/msg/TransformStamped"](header=self.header(t_ns, parent), child_frame_id=child,
                                                       transform=tf)  # fmt: skip

    def camera_info(self, t_ns: int, frame: str, w: int, h: int, model: str, k: list[float], d: list[float]) -> Any:
        fx, fy, cx, cy = k
        kk = np.array([fx, 0, cx, 0, fy, cy, 0, 0, 1], dtype=np.float64)
        pp = np.array([fx, 0, cx, 0, 0, fy, cy, 0, 0, 0, 1, 0], dtype=np.float64)
        rr = np.eye(3).reshape(-1)
        names = ("D", "K", "R", "P") if self.ros1 else ("d", "k", "r", "p")
        roi = self.t["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        return self.t["sensor_msgs/msg/CameraInfo"](
            header=self.header(t_ns, frame), height=h, width=w, distortion_model=model,
            binning_x=0, binning_y=0, roi=roi,
            **dict(zip(names, (np.array(d, dtype=np.float64), kk, rr, pp), strict=True)),
        )  # fmt: skip


def write_sample_bag(path: str | Path, *, storage: Storage = "mcap", frames: int = 5, bigendian_cloud: bool = False,
                     seed: int = 0) -> SampleBag:  # fmt: skip
    """Write the sample bag at ``path`` (a rosbag2 folder for ``mcap`` / ``sqlite3``, a ``.bag`` file
    for ``ros1``; it must not exist) and return what it holds."""
    import cv2

    rng = np.random.default_rng(seed)
    path = Path(path)
    out = SampleBag(path=path, storage=storage)
    mk = _Msgs(ros1=storage == "ros1")
    t = mk.t
    records: list[tuple[int, str, str, Any]] = []  # (receive t, topic, msgtype, msg)

    def add(stamp: int, topic: str, msgtype: str, msg: Any, delay: int = RECEIVE_DELAY_NS) -> None:
        records.append((stamp + delay, topic, msgtype, msg))
        out.topics[topic] = msgtype

    # TF: map -> odom (static), odom -> base_link (moving, 20 Hz), base_link -> sensors (static)
    out.map_from_odom = _pose((0.0, 0.0, 0.3), (1.0, 2.0, 0.0))
    optical = _pose((-math.pi / 2, 0.0, 0.0), (0.0, 0.0, 0.0)) @ _pose((0.0, math.pi / 2, 0.0), (0.0, 0.0, 0.0))
    out.base_from = {
        "cam_optical": _pose((0.0, 0.0, 0.0), (0.20, 0.0, 1.10)) @ optical,
        "fisheye_optical": _pose((0.0, 0.0, math.pi), (-0.15, 0.0, 1.20)) @ optical,
        "lidar": _pose((0.0, 0.0, 0.1), (0.0, 0.0, 1.50)),
        "imu_link": _pose((0.0, 0.0, 0.0), (0.0, 0.05, 0.30)),
    }
    static = [mk.transform(T0_NS, "map", "odom", out.map_from_odom)]
    static += [mk.transform(T0_NS, "base_link", f, m) for f, m in out.base_from.items()]
    add(T0_NS - 10_000_000, "/tf_static", "tf2_msgs/msg/TFMessage", t["tf2_msgs/msg/TFMessage"](transforms=static))
    n_tf = frames * 2 + 2
    for i in range(n_tf):
        ts = T0_NS - 20_000_000 + i * 50_000_000
        m = _pose((0.0, 0.0, 0.05 * i), (0.05 * i, 0.01 * i * i, 0.0))
        out.tf_t_ns.append(ts)
        out.odom_from_base.append(m)
        add(
            ts,
            "/tf",
            "tf2_msgs/msg/TFMessage",
            t["tf2_msgs/msg/TFMessage"](transforms=[mk.transform(ts, "odom", "base_link", m)]),
        )

    # pinhole RGB camera with padded rows, its camera info and aligned depth
    out.pinhole = {
        "fx": 50.0,
        "fy": 52.0,
        "cx": 19.5,
        "cy": 14.5,
        "k1": 0.1,
        "k2": -0.05,
        "p1": 0.001,
        "p2": 0.002,
        "k3": 0.01,
    }
    step = W * 3 + 8
    for i in range(frames):
        ts = T0_NS + i * 100_000_000
        img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        buf = np.zeros((H, step), np.uint8)
        buf[:, : W * 3] = img.reshape(H, -1)
        buf[:, W * 3 :] = 0xEE  # padding the driver must cut
        add(ts, "/camera/color/image_raw", "sensor_msgs/msg/Image", t["sensor_msgs/msg/Image"](
            header=mk.header(ts, "cam_optical"), height=H, width=W, encoding="rgb8", is_bigendian=0, step=step,
            data=buf.reshape(-1)))  # fmt: skip
        out.image_t_ns.append(ts)
        out.images_rgb.append(img)
        pc = out.pinhole
        add(ts, "/camera/color/camera_info", "sensor_msgs/msg/CameraInfo", mk.camera_info(
            ts, "cam_optical", W, H, "plumb_bob", [pc["fx"], pc["fy"], pc["cx"], pc["cy"]],
            [pc["k1"], pc["k2"], pc["p1"], pc["p2"], pc["k3"]]))  # fmt: skip
        mm = rng.integers(300, 5000, (H, W), dtype=np.uint16)
        mm[0, 0] = 0  # a hole
        add(ts + 1_000_000, "/camera/depth/image_raw", "sensor_msgs/msg/Image", t["sensor_msgs/msg/Image"](
            header=mk.header(ts, "cam_optical"), height=H, width=W, encoding="16UC1", is_bigendian=0, step=W * 2,
            data=mm.astype("<u2").view(np.uint8).reshape(-1)))  # fmt: skip
        out.depth_m.append(mm.astype(np.float32) * np.float32(0.001))

    # fisheye camera: PNG CompressedImage (lossless), equidistant camera info
    out.equidistant = {
        "fx": 12.0,
        "fy": 12.5,
        "cx": 15.5,
        "cy": 15.8,
        "k1": 0.02,
        "k2": -0.01,
        "k3": 0.003,
        "k4": -0.001,
    }
    for i in range(frames):
        ts = T0_NS + 33_000_000 + i * 100_000_000
        rgb = rng.integers(0, 256, (FH, FW, 3), dtype=np.uint8)
        ok, png = cv2.imencode(".png", rgb[..., ::-1])
        assert ok
        add(ts, "/fisheye/image/compressed", "sensor_msgs/msg/CompressedImage", t["sensor_msgs/msg/CompressedImage"](
            header=mk.header(ts, "fisheye_optical"), format="png", data=np.asarray(png, np.uint8).reshape(-1)))  # fmt: skip
        out.fisheye_t_ns.append(ts)
        out.fisheye_rgb.append(rgb)
        e = out.equidistant
        add(ts, "/fisheye/camera_info", "sensor_msgs/msg/CameraInfo", mk.camera_info(
            ts, "fisheye_optical", FW, FH, "equidistant", [e["fx"], e["fy"], e["cx"], e["cy"]],
            [e["k1"], e["k2"], e["k3"], e["k4"]]))  # fmt: skip

    # lidar: 2 rows x 8 points; x y z float32 at 0/4/8, 4 bytes of padding, intensity float32 at 16,
    # ring uint16 at 20, point_step 24, rows padded to 8 * 24 + 16 bytes
    order = ">" if bigendian_cloud else "<"
    rec = np.dtype({"names": ["x", "y", "z", "intensity", "ring"],
                    "formats": [f"{order}f4"] * 4 + [f"{order}u2"], "offsets": [0, 4, 8, 16, 20], "itemsize": 24})  # fmt: skip
    pf = t["sensor_msgs/msg/PointField"]
    fields = [pf(name="x", offset=0, datatype=7, count=1), pf(name="y", offset=4, datatype=7, count=1),
              pf(name="z", offset=8, datatype=7, count=1), pf(name="intensity", offset=16, datatype=7, count=1),
              pf(name="ring", offset=20, datatype=4, count=1)]  # fmt: skip
    row_step = 8 * 24 + 16
    for i in range(frames):
        ts = T0_NS + 50_000_000 + i * 100_000_000
        xyz = rng.normal(0, 3, (16, 3)).astype(np.float32)
        xyz[5] = np.nan  # a point without a return
        inten = rng.uniform(0, 100, 16).astype(np.float32)
        ring = np.repeat(np.arange(2, dtype=np.uint16), 8)
        pts = np.zeros(16, rec)
        pts["x"], pts["y"], pts["z"], pts["intensity"], pts["ring"] = xyz[:, 0], xyz[:, 1], xyz[:, 2], inten, ring
        rows = np.full((2, row_step), 0xAB, np.uint8)
        rows[:, : 8 * 24] = pts.view(np.uint8).reshape(2, 8 * 24)
        add(ts, "/lidar/points", "sensor_msgs/msg/PointCloud2", t["sensor_msgs/msg/PointCloud2"](
            header=mk.header(ts, "lidar"), height=2, width=8, fields=fields, is_bigendian=bigendian_cloud,
            point_step=24, row_step=row_step, data=rows.reshape(-1), is_dense=False))  # fmt: skip
        out.cloud_t_ns.append(ts)
        out.clouds_xyz.append(xyz)
        out.clouds_intensity.append(inten)
        out.clouds_ring.append(ring)

    # IMU at 25 Hz
    v3, q4 = t["geometry_msgs/msg/Vector3"], t["geometry_msgs/msg/Quaternion"]
    for i in range(frames * 4):
        ts = T0_NS + i * 25_000_000
        gyro = rng.normal(0, 0.1, 3)
        accel = rng.normal(0, 0.1, 3) + np.array([0.0, 0.0, 9.81])
        q = _quat(_pose((0.0, 0.0, 0.01 * i), (0.0, 0.0, 0.0)))
        add(ts, "/imu/data", "sensor_msgs/msg/Imu", t["sensor_msgs/msg/Imu"](
            header=mk.header(ts, "imu_link"), orientation=q4(x=q[0], y=q[1], z=q[2], w=q[3]),
            orientation_covariance=np.zeros(9), angular_velocity=v3(x=gyro[0], y=gyro[1], z=gyro[2]),
            angular_velocity_covariance=np.zeros(9), linear_acceleration=v3(x=accel[0], y=accel[1], z=accel[2]),
            linear_acceleration_covariance=np.zeros(9)), delay=1_000_000)  # fmt: skip
        out.imu_t_ns.append(ts)
        out.imu_gyro.append(gyro)
        out.imu_accel.append(accel)
        out.imu_quat_xyzw.append(np.array(q))

    records.sort(key=lambda r: r[0])
    _write(path, storage, mk, records)
    return out


def _write(path: Path, storage: str, mk: _Msgs, records: list[tuple[int, str, str, Any]]) -> None:
    conns: dict[str, Any] = {}
    if storage == "ros1":
        writer: Any = rosbags_module("rosbag1").Writer(path)
    else:
        rb2 = rosbags_module("rosbag2")
        plugin = rb2.StoragePlugin.MCAP if storage == "mcap" else rb2.StoragePlugin.SQLITE3
        writer = rb2.Writer(path, version=9, storage_plugin=plugin)
    with writer:
        for t_recv, topic, msgtype, msg in records:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=mk.store)
            # raw bytes go in as they are (tests write damaged messages that way)
            writer.write(conns[topic], t_recv, msg if isinstance(msg, bytes) else mk.serialize(msg, msgtype))


def main(argv: list[str] | None = None) -> int:
    """``python -m sensorfusion_rosbag.sample OUT [--storage ...]``: write the sample bag."""
    ap = argparse.ArgumentParser(prog="python -m sensorfusion_rosbag.sample", description=__doc__.splitlines()[0])
    ap.add_argument("out", help="where to write it (rosbag2: a folder; ros1: a .bag file); must not exist")
    ap.add_argument("--storage", choices=["mcap", "sqlite3", "ros1"], default="mcap")
    ap.add_argument("--frames", type=int, default=5)
    args = ap.parse_args(argv)
    if Path(args.out).exists():
        print(f"error: {args.out} exists already", file=sys.stderr)
        return 2
    bag = write_sample_bag(args.out, storage=args.storage, frames=args.frames)
    print(f"wrote {bag.path} ({bag.storage}): topics {', '.join(sorted(bag.topics))}")
    return 0
