"""ROS messages (as ``rosbags`` deserialises them) to numpy arrays and calibration models.

Each converter takes one message object and returns arrays in the SDK's conventions (RGB channel
order, depth in metres as float32, points as float32 ``xyz`` plus their other fields) or raises
:class:`BadMessage` with the reason; the driver counts such messages and skips them. Field names
differ between ROS 1 and ROS 2 (``K`` / ``k``); the helpers accept both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from sensorfusion.schema import KannalaBrandtCamera, PinholeCamera

from ._tf import quat_xyzw_to_matrix

__all__ = [
    "DEPTH_ENCODINGS",
    "DISTORTION_MODELS",
    "IMAGE_ENCODINGS",
    "BadMessage",
    "CloudLayout",
    "UnknownDistortion",
    "camera_from_info",
    "cloud_layout",
    "decode_compressed",
    "decode_image",
    "frame_from_body",
    "header_stamp_ns",
    "image_kind",
    "imu_values",
    "read_cloud",
]


class BadMessage(ValueError):
    """A message that cannot be converted (its reason); counted and skipped by the driver."""


# encoding -> (numpy dtype of one channel, channels, what it becomes)
_ENCODINGS: dict[str, tuple[str, int, str]] = {
    "rgb8": ("u1", 3, "rgb"),
    "bgr8": ("u1", 3, "bgr"),
    "rgba8": ("u1", 4, "rgba"),
    "bgra8": ("u1", 4, "bgra"),
    "mono8": ("u1", 1, "gray"),
    "8UC1": ("u1", 1, "gray"),
    "8UC3": ("u1", 3, "bgr"),  # OpenCV's channel order, as cv_bridge reads it
    "mono16": ("u2", 1, "gray"),
    "16UC1": ("u2", 1, "depth_mm"),
    "32FC1": ("f4", 1, "depth_m"),
}
# encodings OpenCV converts to RGB: encoding -> (cv2 conversion, bytes per pixel). OpenCV names a
# Bayer pattern by its second row's first two pixels, so ROS's rggb is OpenCV's BG (as cv_bridge).
_CV_ENCODINGS: dict[str, tuple[str, int]] = {
    "bayer_rggb8": ("COLOR_BayerBG2RGB", 1),
    "bayer_bggr8": ("COLOR_BayerRG2RGB", 1),
    "bayer_gbrg8": ("COLOR_BayerGR2RGB", 1),
    "bayer_grbg8": ("COLOR_BayerGB2RGB", 1),
    "yuv422": ("COLOR_YUV2RGB_UYVY", 2),  # ROS's yuv422 is UYVY
    "uyvy": ("COLOR_YUV2RGB_UYVY", 2),
    "yuv422_yuy2": ("COLOR_YUV2RGB_YUY2", 2),
    "yuyv": ("COLOR_YUV2RGB_YUY2", 2),
}
IMAGE_ENCODINGS: tuple[str, ...] = (*_ENCODINGS, *_CV_ENCODINGS)
"""``sensor_msgs/Image`` encodings the driver converts."""
DEPTH_ENCODINGS: tuple[str, ...] = ("16UC1", "32FC1")
"""Encodings that are depth by REP 118 (16UC1 millimetres, 32FC1 metres); they become ``depth`` streams
unless the topic's ``kind`` says ``image``."""
DISTORTION_MODELS: tuple[str, ...] = ("plumb_bob", "rational_polynomial", "equidistant", "none", "")
#: librealsense's own names in the bags it records (rs2_distortion names) for the models above:
#: its Brown-Conrady is OpenCV's k1 k2 p1 p2 k3 (plumb_bob), Kannala-Brandt4 is equidistant.
#: Its inverse / modified Brown-Conrady have no camera model here (an UnknownDistortion).
LIBREALSENSE_MODELS: dict[str, str] = {"Brown Conrady": "plumb_bob", "Kannala Brandt4": "equidistant", "None": "none"}
"""``CameraInfo.distortion_model`` values the driver turns into camera models."""


def _get(msg: Any, *names: str) -> Any:
    for n in names:
        if hasattr(msg, n):
            return getattr(msg, n)
    raise BadMessage(f"{type(msg).__name__} has none of the fields {names}")


def header_stamp_ns(msg: Any) -> int:
    """``header.stamp`` in int64 nanoseconds (ROS 1 and ROS 2 both deserialise it as sec + nanosec)."""
    stamp = msg.header.stamp
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _rows(data: np.ndarray, height: int, step: int, row_bytes: int) -> np.ndarray:
    """``(height, row_bytes)`` uint8 from a buffer of ``height`` rows of ``step`` bytes (padding cut)."""
    raw = np.asarray(data, dtype=np.uint8).reshape(-1)
    if step < row_bytes:
        raise BadMessage(f"step {step} is shorter than a row ({row_bytes} bytes)")
    if raw.size < height * step - (step - row_bytes):
        raise BadMessage(f"data has {raw.size} bytes, {height} rows of step {step} need {height * step}")
    if raw.size < height * step:  # the last row's padding may be missing
        raw = np.concatenate([raw, np.zeros(height * step - raw.size, np.uint8)])
    return raw[: height * step].reshape(height, step)[:, :row_bytes]


def image_kind(encoding: str) -> str:
    """What an encoding becomes by default: ``image`` or ``depth``."""
    return "depth" if encoding in DEPTH_ENCODINGS else "image"


def decode_image(msg: Any, *, as_depth: bool) -> np.ndarray:
    """A ``sensor_msgs/Image``: ``(H, W, 3)`` uint8 RGB, ``(H, W)`` grey (uint8 / uint16 / float32),
    or, with ``as_depth``, ``(H, W)`` float32 metres (16UC1 millimetres scaled, 32FC1 as is)."""
    enc = str(msg.encoding)
    if enc in _CV_ENCODINGS:
        return _decode_with_opencv(msg, enc, as_depth=as_depth)
    if enc not in _ENCODINGS:
        raise BadMessage(f"image encoding {enc!r} is not supported (supported: {', '.join(IMAGE_ENCODINGS)})")
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    dt, ch, what = _ENCODINGS[enc]
    dtype = np.dtype(dt).newbyteorder(">" if msg.is_bigendian else "<")
    rows = _rows(msg.data, h, step, w * ch * dtype.itemsize)
    arr = np.ascontiguousarray(rows).view(dtype).reshape(h, w, ch) if h and w else np.zeros((h, w, ch), dtype)
    arr = arr.astype(dtype.newbyteorder("="), copy=False)
    if as_depth:
        if what == "depth_mm" or (what == "gray" and dt == "u2"):
            metres: np.ndarray = np.multiply(arr[..., 0], np.float32(0.001), dtype=np.float32)
            return metres
        if what == "depth_m":
            return np.ascontiguousarray(arr[..., 0], dtype=np.float32)
        raise BadMessage(f"encoding {enc!r} is not a depth encoding (depth: {', '.join(DEPTH_ENCODINGS)}, mono16)")
    if what in ("rgb", "rgba"):
        return np.ascontiguousarray(arr[..., :3])
    if what in ("bgr", "bgra"):
        return np.ascontiguousarray(arr[..., 2::-1])
    return np.ascontiguousarray(arr[..., 0])


def _decode_with_opencv(msg: Any, enc: str, *, as_depth: bool) -> np.ndarray:
    import cv2

    if as_depth:
        raise BadMessage(f"encoding {enc!r} is not a depth encoding (depth: {', '.join(DEPTH_ENCODINGS)}, mono16)")
    code, bpp = _CV_ENCODINGS[enc]
    h, w = int(msg.height), int(msg.width)
    if bpp == 2 and w % 2:
        raise BadMessage(f"{enc} needs an even width, got {w}")
    rows = np.ascontiguousarray(_rows(msg.data, h, int(msg.step), w * bpp))
    src = rows.reshape(h, w) if bpp == 1 else rows.reshape(h, w, 2)
    out: np.ndarray = cv2.cvtColor(src, getattr(cv2, code))
    return out


def decode_compressed(msg: Any, *, as_depth: bool) -> np.ndarray:
    """A ``sensor_msgs/CompressedImage`` (jpeg / png, and ``compressedDepth`` png) decoded with
    OpenCV: ``(H, W, 3)`` uint8 RGB or ``(H, W)`` grey; with ``as_depth`` float32 metres."""
    import cv2

    fmt = str(msg.format).lower()
    buf = np.asarray(msg.data, dtype=np.uint8).reshape(-1)
    depth_quant: tuple[float, float] | None = None
    if "compresseddepth" in fmt:
        # image_transport's compressedDepth: a 12-byte header (format enum, depthQuantA, depthQuantB)
        # before the PNG; 32FC1 depth is stored as quantised inverse depth
        if buf.size < 12:
            raise BadMessage("compressedDepth message shorter than its 12-byte header")
        quant = buf[4:12].view("<f4")
        depth_quant = (float(quant[0]), float(quant[1])) if fmt.startswith("32fc1") else None
        buf = buf[12:]
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if img is None:
        raise BadMessage(f"{msg.format!r} data ({buf.size} bytes) does not decode")
    if as_depth:
        if img.ndim != 2:
            raise BadMessage(f"a depth image must have one channel, this one has {img.shape[2]}")
        if depth_quant is not None:
            a, b = depth_quant
            with np.errstate(divide="ignore"):
                out = np.where(img > 0, a / (img.astype(np.float32) - b), np.nan).astype(np.float32)
            return out
        if img.dtype == np.uint16:
            metres_c: np.ndarray = np.multiply(img, np.float32(0.001), dtype=np.float32)
            return metres_c
        if img.dtype == np.float32:
            return img
        raise BadMessage(f"compressed depth of dtype {img.dtype} (expected 16-bit millimetres)")
    if img.ndim == 3:
        img = img[..., 2::-1] if img.shape[2] >= 3 else img[..., 0]  # OpenCV decodes BGR(A)
    return np.ascontiguousarray(img)


# -- point clouds ------------------------------------------------------------------------------

# PointField.datatype -> numpy type (sensor_msgs/PointField constants INT8=1 ... FLOAT64=8)
_POINT_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}


def _field_name(name: str) -> str:
    out = re.sub(r"[^a-z0-9_]", "_", name.lower())
    return out if re.match(r"^[a-z]", out) else f"f_{out}"


@dataclass(frozen=True)
class CloudLayout:
    """How a ``PointCloud2``'s points are laid out: the numpy record dtype (offsets, byte order,
    padding to ``point_step``) and the SDK field each ROS field becomes."""

    dtype: np.dtype[Any]
    extra: dict[str, tuple[str, str, tuple[int, ...]]]  # sdk name -> (ros name, numpy dtype, item shape)
    signature: tuple[Any, ...]
    packed_rgb: tuple[str, ...] = ()  # sdk fields unpacked from a packed 0x00RRGGBB rgb / rgba field


def cloud_layout(msg: Any) -> CloudLayout:
    """The layout of a ``PointCloud2`` (it must have float ``x``, ``y``, ``z``)."""
    order: Literal["<", ">"] = ">" if msg.is_bigendian else "<"
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    extra: dict[str, tuple[str, str, tuple[int, ...]]] = {}
    packed_rgb: list[str] = []
    point_step = int(msg.point_step)
    for f in msg.fields:
        code = _POINT_TYPES.get(int(f.datatype))
        if code is None:
            raise BadMessage(f"point field {f.name!r} has unknown datatype {f.datatype}")
        count = max(int(f.count), 1)
        packed = str(f.name) in ("rgb", "rgba") and int(f.datatype) in (6, 7) and count == 1
        if packed:  # PCL's packed colour: the float's bits are 0x(AA)RRGGBB
            code = "u4"
        base = np.dtype(code).newbyteorder(order)
        if int(f.offset) + base.itemsize * count > point_step:
            raise BadMessage(f"point field {f.name!r} at offset {f.offset} overruns point_step {point_step}")
        names.append(str(f.name))
        formats.append((base, (count,)) if count > 1 else base)
        offsets.append(int(f.offset))
        if f.name not in ("x", "y", "z"):
            sdk = _field_name(str(f.name))
            if sdk in ("xyz", "offsets", "seq") or sdk in extra:
                sdk = f"{sdk}_{len(extra)}"
            if packed:
                packed_rgb.append(sdk)
                extra[sdk] = (str(f.name), "uint8", (3,))
            else:
                extra[sdk] = (str(f.name), np.dtype(code).name, (count,) if count > 1 else ())
    missing = [c for c in "xyz" if c not in names]
    if missing:
        raise BadMessage(f"point cloud has no field(s) {missing} (fields: {names})")
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step})
    sig = (point_step, bool(msg.is_bigendian), tuple(zip(names, offsets, [str(f) for f in formats], strict=True)))
    return CloudLayout(dtype=dtype, extra=extra, signature=sig, packed_rgb=tuple(packed_rgb))


def read_cloud(msg: Any, layout: CloudLayout, *, drop_nan: bool) -> dict[str, np.ndarray]:
    """The points of a ``PointCloud2``: ``xyz`` ``(N, 3)`` float32 and each other field as declared
    by ``layout`` (rows padded to ``row_step`` and ``is_bigendian`` honoured); points with a
    non-finite coordinate are dropped when ``drop_nan``."""
    if cloud_layout(msg).signature != layout.signature:
        raise BadMessage("point cloud fields changed since the first message")
    h, w, step = int(msg.height), int(msg.width), int(msg.row_step)
    rows = _rows(msg.data, h, step, w * int(msg.point_step))
    pts = np.ascontiguousarray(rows).view(layout.dtype).reshape(-1) if h * w else np.zeros(0, layout.dtype)
    xyz = np.stack([pts["x"], pts["y"], pts["z"]], axis=-1).astype(np.float32)
    out = {"xyz": xyz}
    for sdk, (ros, dt, _) in layout.extra.items():
        if sdk in layout.packed_rgb:
            v = np.asarray(pts[ros]).astype(np.uint32)
            out[sdk] = np.stack([(v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF], axis=-1).astype(np.uint8)
        else:
            out[sdk] = np.asarray(pts[ros]).astype(dt)
    if drop_nan and len(xyz):
        keep = np.isfinite(xyz).all(axis=1)
        if not keep.all():
            out = {k: v[keep] for k, v in out.items()}
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


# -- imu ---------------------------------------------------------------------------------------


def imu_values(msg: Any) -> dict[str, np.ndarray]:
    """A ``sensor_msgs/Imu``: orientation quaternion ``(x, y, z, w)`` (NaN when the message says it
    has none: covariance[0] == -1), angular velocity (rad/s) and linear acceleration (m/s²)."""
    q = msg.orientation
    quat = np.array([q.x, q.y, q.z, q.w], dtype=np.float64)
    if float(msg.orientation_covariance[0]) == -1.0:
        quat[:] = np.nan
    g, a = msg.angular_velocity, msg.linear_acceleration
    return {
        "orientation_xyzw": quat,
        "gyro_rad_s": np.array([g.x, g.y, g.z], dtype=np.float64),
        "accel_m_s2": np.array([a.x, a.y, a.z], dtype=np.float64),
    }


# -- poses -----------------------------------------------------------------------------------


def frame_from_body(msg: Any) -> np.ndarray:
    """The ``(4, 4)`` pose of a ``nav_msgs/Odometry``, ``geometry_msgs/PoseStamped`` or
    ``PoseWithCovarianceStamped``: ``<header.frame_id>_from_<body>`` (the body is an Odometry's
    ``child_frame_id``)."""
    pose = msg.pose
    if hasattr(pose, "pose"):  # PoseWithCovariance
        pose = pose.pose
    p, q = pose.position, pose.orientation
    m = np.eye(4)
    try:
        m[:3, :3] = quat_xyzw_to_matrix(float(q.x), float(q.y), float(q.z), float(q.w))
    except ValueError as exc:
        raise BadMessage(str(exc)) from exc
    m[:3, 3] = [float(p.x), float(p.y), float(p.z)]
    if not np.isfinite(m).all():
        raise BadMessage("pose is not finite")
    return m


# -- camera info -------------------------------------------------------------------------------


class UnknownDistortion(BadMessage):
    """A ``CameraInfo`` whose distortion model has no camera model here."""


def camera_from_info(msg: Any, *, rectified: bool = False) -> PinholeCamera | KannalaBrandtCamera:
    """The camera model of a ``sensor_msgs/CameraInfo``.

    ``plumb_bob`` (k1 k2 p1 p2 k3) and ``rational_polynomial`` (k1 k2 p1 p2 k3 k4 k5 k6) become a
    pinhole with Brown–Conrady distortion, ``equidistant`` (k1..k4) Kannala–Brandt. With
    ``rectified`` the projection matrix ``P`` gives a distortion-free pinhole (for ``image_rect``
    topics). Binning and a region of interest are applied to the intrinsics.
    """
    w, h = int(msg.width), int(msg.height)
    k = np.asarray(_get(msg, "k", "K"), dtype=np.float64).reshape(-1)
    p = np.asarray(_get(msg, "p", "P"), dtype=np.float64).reshape(-1)
    d = [float(x) for x in np.asarray(_get(msg, "d", "D"), dtype=np.float64).reshape(-1)]
    model = str(msg.distortion_model)
    bx, by = max(int(msg.binning_x), 1), max(int(msg.binning_y), 1)
    roi = msg.roi
    ox, oy = int(roi.x_offset), int(roi.y_offset)
    if rectified:
        fx, fy, cx, cy = p[0], p[5], p[2], p[6]
    else:
        fx, fy, cx, cy = k[0], k[4], k[2], k[5]
    if not (fx > 0 and fy > 0):
        raise BadMessage(f"camera info has no focal length (fx={fx}, fy={fy}): an uncalibrated camera")
    if int(roi.width) and int(roi.height) and (int(roi.width), int(roi.height)) != (w, h):
        w, h = int(roi.width), int(roi.height)
    cx, cy = cx - ox, cy - oy
    if bx > 1 or by > 1:
        fx, cx, w = fx / bx, cx / bx, w // bx
        fy, cy, h = fy / by, cy / by, h // by
    base = {"width": w, "height": h, "fx": float(fx), "fy": float(fy), "cx": float(cx), "cy": float(cy)}
    model = LIBREALSENSE_MODELS.get(model, model)
    if rectified or (model in ("none", "") and not any(d)):
        return PinholeCamera(**base)
    if model == "plumb_bob" or model == "rational_polynomial":
        names = ["k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"]
        limit = 5 if model == "plumb_bob" else 8
        if len(d) > limit and any(d[limit:]):
            raise BadMessage(f"{model} takes {limit} coefficients, the message has {len(d)}")
        return PinholeCamera(**base, **dict(zip(names[:limit], d[:limit], strict=False)))
    if model == "equidistant":
        if len(d) > 4 and any(d[4:]):
            raise BadMessage(f"equidistant takes 4 coefficients (k1..k4), the message has {len(d)}")
        return KannalaBrandtCamera(**base, **dict(zip(["k1", "k2", "k3", "k4"], d[:4], strict=False)))
    raise UnknownDistortion(
        f"distortion model {model!r} has no camera model here (supported: plumb_bob, rational_polynomial, "
        "equidistant; none / empty without coefficients; librealsense's Brown Conrady and Kannala Brandt4)"
    )
