"""Message conversions on their own (encodings, byte order, padding, camera models, TF composition)
and the driver contract every sensorfusion driver passes."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest
from sensorfusion_rosbag import (
    BadMessage,
    RosbagReplayDriver,
    TfTree,
    camera_from_info,
    decode_compressed,
    decode_image,
    imu_values,
)
from sensorfusion_rosbag._convert import cloud_layout, read_cloud
from sensorfusion_rosbag._sample import T0_NS, _Msgs, _pose, write_sample_bag

from sensorfusion import DriverContext
from sensorfusion.testing import DriverContract

MK = _Msgs(ros1=False)
T = MK.t


def image(enc: str, arr: np.ndarray, *, big: bool = False, pad: int = 0) -> Any:
    h, w = arr.shape[:2]
    raw = np.ascontiguousarray(arr).view(np.uint8).reshape(h, -1)
    rows = np.concatenate([raw, np.full((h, pad), 0x5A, np.uint8)], axis=1)
    return T["sensor_msgs/msg/Image"](header=MK.header(T0_NS, "c"), height=h, width=w, encoding=enc,
                                      is_bigendian=int(big), step=rows.shape[1], data=rows.reshape(-1))  # fmt: skip


def test_image_encodings() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_image(image("rgb8", rgb, pad=3), as_depth=False), rgb)
    np.testing.assert_array_equal(decode_image(image("bgr8", rgb[..., ::-1]), as_depth=False), rgb)
    rgba = np.concatenate([rgb, np.full((3, 5, 1), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(decode_image(image("bgra8", rgba[..., [2, 1, 0, 3]]), as_depth=False), rgb)
    gray = rgb[..., 0]
    out = decode_image(image("mono8", gray, pad=1), as_depth=False)
    assert out.shape == (3, 5) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, gray)
    g16 = rng.integers(0, 65535, (3, 5), dtype=np.uint16)
    out = decode_image(image("mono16", g16.astype(">u2"), big=True, pad=2), as_depth=False)
    assert out.dtype == np.uint16 and out.dtype.byteorder in "=|<"
    np.testing.assert_array_equal(out, g16)  # big-endian bytes read as such


def test_depth_encodings_in_metres() -> None:
    mm = np.array([[0, 1000, 2500], [65535, 1, 300]], dtype=np.uint16)
    d = decode_image(image("16UC1", mm.astype(">u2"), big=True), as_depth=True)
    assert d.dtype == np.float32
    np.testing.assert_allclose(d, mm.astype(np.float64) / 1000, rtol=1e-6)
    m = np.array([[0.5, np.nan, 3.25]], dtype=np.float32)
    np.testing.assert_array_equal(decode_image(image("32FC1", m, pad=4), as_depth=True), m)
    with pytest.raises(BadMessage, match="not a depth encoding"):
        decode_image(image("rgb8", np.zeros((2, 2, 3), np.uint8)), as_depth=True)
    with pytest.raises(BadMessage, match="'nv21' is not supported"):
        decode_image(dataclasses.replace(image("rgb8", np.zeros((2, 2, 3), np.uint8)), encoding="nv21"), as_depth=False)


def test_compressed_images_and_compressed_depth() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    _, png = cv2.imencode(".png", rgb[..., ::-1])
    msg = T["sensor_msgs/msg/CompressedImage"](header=MK.header(T0_NS, "c"), format="rgb8; png compressed bgr8",
                                               data=np.asarray(png, np.uint8).reshape(-1))  # fmt: skip
    np.testing.assert_array_equal(decode_compressed(msg, as_depth=False), rgb)
    _, jpg = cv2.imencode(".jpg", np.full((8, 8, 3), (10, 120, 240), np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 100])
    out = decode_compressed(
        dataclasses.replace(msg, format="jpeg", data=np.asarray(jpg, np.uint8).reshape(-1)), as_depth=False
    )
    assert np.abs(out.astype(int) - [240, 120, 10]).max() <= 2  # BGR written, RGB read
    # image_transport compressedDepth: 12-byte header then a 16-bit PNG in millimetres
    mm = rng.integers(1, 9000, (4, 5), dtype=np.uint16)
    _, dpng = cv2.imencode(".png", mm)
    header = np.zeros(12, np.uint8)
    depth_msg = dataclasses.replace(msg, format="16UC1; compressedDepth png",
                                    data=np.concatenate([header, np.asarray(dpng, np.uint8).reshape(-1)]))  # fmt: skip
    np.testing.assert_allclose(decode_compressed(depth_msg, as_depth=True), mm / 1000.0, rtol=1e-6)
    # 32FC1 compressedDepth: quantised inverse depth, depth = A / (q - B)
    a, b = 100.0, -10.0
    depth_m = np.array([[1.0, 2.0], [0.0, 4.0]], np.float32)
    q = np.where(depth_m > 0, a / np.where(depth_m > 0, depth_m, 1) + b, 0).round().astype(np.uint16)
    _, qpng = cv2.imencode(".png", q)
    hdr = np.concatenate([np.zeros(4, np.uint8), np.array([a, b], "<f4").view(np.uint8)])
    msg32 = dataclasses.replace(
        msg, format="32FC1; compressedDepth png", data=np.concatenate([hdr, np.asarray(qpng, np.uint8).reshape(-1)])
    )
    got = decode_compressed(msg32, as_depth=True)
    np.testing.assert_allclose(got[[0, 0, 1], [0, 1, 1]], [1.0, 2.0, 4.0], rtol=1e-5)
    assert np.isnan(got[1, 0])
    with pytest.raises(BadMessage, match="does not decode"):
        decode_compressed(dataclasses.replace(msg, data=np.arange(50, dtype=np.uint8)), as_depth=False)


def _cloud(
    points: np.ndarray, fields: list[tuple[str, int, int, int]], *, big: bool, step: int, row_pad: int, h: int
) -> Any:
    pf = T["sensor_msgs/msg/PointField"]
    w = len(points) // h
    rows = np.full((h, w * step + row_pad), 0xCD, np.uint8)
    rows[:, : w * step] = points.view(np.uint8).reshape(h, w * step)
    return T["sensor_msgs/msg/PointCloud2"](
        header=MK.header(T0_NS, "l"), height=h, width=w,
        fields=[pf(name=n, offset=o, datatype=d, count=c) for n, o, d, c in fields],
        is_bigendian=big, point_step=step, row_step=rows.shape[1], data=rows.reshape(-1), is_dense=False)  # fmt: skip


@pytest.mark.parametrize("big", [False, True])
def test_point_cloud_fields_offsets_padding_and_byte_order(big: bool) -> None:
    o = ">" if big else "<"
    # z before x, float64 y, a 3-vector normal (count 3), int8 tag, padding between fields
    rec = np.dtype({"names": ["z", "x", "y", "normal", "tag"],
                    "formats": [f"{o}f4", f"{o}f4", f"{o}f8", (f"{o}f4", (3,)), "i1"],
                    "offsets": [0, 8, 16, 24, 40], "itemsize": 44})  # fmt: skip
    rng = np.random.default_rng(2)
    pts = np.zeros(6, rec)
    for n in ("x", "y", "z"):
        pts[n] = rng.normal(size=6)
    pts["normal"] = rng.normal(size=(6, 3))
    pts["tag"] = np.arange(6) - 3
    pts["x"][4] = np.inf
    fields = [("z", 0, 7, 1), ("x", 8, 7, 1), ("y", 16, 8, 1), ("normal", 24, 7, 3), ("tag", 40, 1, 1)]
    msg = _cloud(pts, fields, big=big, step=44, row_pad=5, h=2)
    layout = cloud_layout(msg)
    assert set(layout.extra) == {"normal", "tag"} and layout.extra["normal"][2] == (3,)
    out = read_cloud(msg, layout, drop_nan=True)
    keep = np.arange(6) != 4
    want = np.stack([pts["x"], pts["y"], pts["z"]], axis=1).astype(np.float32)[keep]
    np.testing.assert_array_equal(out["xyz"], want)
    np.testing.assert_array_equal(out["normal"], pts["normal"][keep].astype(np.float32))
    np.testing.assert_array_equal(out["tag"], (np.arange(6) - 3)[keep].astype(np.int8))
    assert len(read_cloud(msg, layout, drop_nan=False)["xyz"]) == 6
    with pytest.raises(BadMessage, match="changed"):
        read_cloud(
            _cloud(pts, [*fields[:3], ("tag", 40, 1, 1)], big=big, step=44, row_pad=0, h=1), layout, drop_nan=True
        )
    with pytest.raises(BadMessage, match="overruns point_step"):
        cloud_layout(_cloud(pts, [*fields[:4], ("tag", 44, 1, 1)], big=big, step=44, row_pad=0, h=1))
    with pytest.raises(BadMessage, match="no field"):
        cloud_layout(_cloud(pts, [*fields[:1], *fields[3:]], big=big, step=44, row_pad=0, h=1))
    short = dataclasses.replace(msg, data=msg.data[:100])
    with pytest.raises(BadMessage, match="bytes"):
        read_cloud(short, layout, drop_nan=True)


def test_imu_without_orientation() -> None:
    v3, q = T["geometry_msgs/msg/Vector3"], T["geometry_msgs/msg/Quaternion"]
    cov = np.zeros(9)
    cov[0] = -1.0  # REP 145: no orientation estimate
    msg = T["sensor_msgs/msg/Imu"](header=MK.header(T0_NS, "i"), orientation=q(x=0.0, y=0.0, z=0.0, w=1.0),
                                   orientation_covariance=cov, angular_velocity=v3(x=0.1, y=0.2, z=0.3),
                                   angular_velocity_covariance=np.zeros(9), linear_acceleration=v3(x=0.0, y=0.0, z=9.8),
                                   linear_acceleration_covariance=np.zeros(9))  # fmt: skip
    out = imu_values(msg)
    assert np.isnan(out["orientation_xyzw"]).all()
    np.testing.assert_array_equal(out["gyro_rad_s"], [0.1, 0.2, 0.3])


def test_camera_models_from_camera_info() -> None:
    info = MK.camera_info(T0_NS, "c", 64, 48, "rational_polynomial", [40.0, 41.0, 31.5, 23.5],
                          [0.1, -0.2, 0.01, 0.02, 0.03, 0.4, 0.5, 0.6])  # fmt: skip
    cam = camera_from_info(info)
    assert cam.model == "pinhole" and (cam.fx, cam.fy, cam.cx, cam.cy) == (40.0, 41.0, 31.5, 23.5)
    np.testing.assert_array_equal(cam.dist_coeffs, [0.1, -0.2, 0.01, 0.02, 0.03, 0.4, 0.5, 0.6])  # type: ignore[union-attr]
    # rectified images: P (here with another focal length), no distortion
    p = np.array([30.0, 0, 30.0, 0, 0, 30.5, 22.0, 0, 0, 0, 1, 0])
    rect = camera_from_info(dataclasses.replace(info, p=p), rectified=True)
    assert rect.model == "pinhole" and (rect.fx, rect.fy, rect.cx, rect.cy) == (30.0, 30.5, 30.0, 22.0)
    assert not np.any(rect.dist_coeffs)  # type: ignore[union-attr]
    # 2x binning and a region of interest
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=8, y_offset=4, height=40, width=48, do_rectify=False)
    binned = camera_from_info(dataclasses.replace(info, binning_x=2, binning_y=2, roi=roi))
    assert (binned.width, binned.height, binned.fx, binned.cx, binned.cy) == (
        24,
        20,
        20.0,
        (31.5 - 8) / 2,
        (23.5 - 4) / 2,
    )
    # no calibration at all (K zero) is refused
    with pytest.raises(BadMessage, match="uncalibrated"):
        camera_from_info(dataclasses.replace(info, k=np.zeros(9)))
    with pytest.raises(BadMessage, match="plumb_bob takes 5"):
        camera_from_info(dataclasses.replace(info, distortion_model="plumb_bob"))


def test_tf_tree_composes_through_a_common_root() -> None:
    tree = TfTree()
    map_from_odom = _pose((0.0, 0.0, 0.4), (1.0, 0.0, 0.0))
    map_from_marker = _pose((0.2, 0.0, 0.0), (0.0, 3.0, 0.0))
    tf = T["tf2_msgs/msg/TFMessage"]
    tree.add(
        tf(
            transforms=[
                MK.transform(0, "/map", "odom", map_from_odom),
                MK.transform(0, "map", "marker", map_from_marker),
            ]
        ),
        static=True,
    )
    for i in range(3):
        tree.add(
            tf(transforms=[MK.transform(T0_NS + i * 10, "odom", "base", _pose((0, 0, 0.1 * i), (i, 0, 0)))]),
            static=False,
        )
    # the world frame is a sibling, not an ancestor: marker_from_base = inv(map_from_marker) map_from_odom odom_from_base
    want = np.linalg.inv(map_from_marker) @ map_from_odom @ _pose((0, 0, 0.1), (1, 0, 0))
    np.testing.assert_allclose(tree.world_from("base", "marker", T0_NS + 15), want, atol=1e-12)
    np.testing.assert_allclose(tree.world_from("base", "map"), map_from_odom @ _pose((0, 0, 0), (0, 0, 0)), atol=1e-12)
    assert tree.change_edges("base", "marker") == ["base"] and tree.is_static_path("odom", "marker")
    assert tree.root("/base") == "map" and math.isclose(np.linalg.det(tree.world_from("base", "map")), 1.0)
    with pytest.raises(KeyError):
        tree.world_from("nowhere", "map")


@pytest.fixture(scope="module")
def sample_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_bag(tmp_path_factory.mktemp("contract") / "sample.bag", storage="ros1").path


class TestRosbagReplayContract(DriverContract):
    driver_class = RosbagReplayDriver
    params: ClassVar[dict[str, Any]] = {}
    sensor_id = "bag"
    frames_to_read = 20
    plugin_name = "rosbag"
    finite = True
    deterministic_timestamps = True

    @pytest.fixture(autouse=True)
    def _bag(self, sample_bag: Path) -> None:
        self.params = {"path": str(sample_bag), "topics": {"/camera/color/image_raw": "cam0/image",
                       "/lidar/points": "lidar/points", "/imu/data": "imu/imu"}, "timing": "recorded"}  # fmt: skip

    def make_driver(self, *, realtime: bool = False) -> RosbagReplayDriver:
        params = RosbagReplayDriver.Params.model_validate(self.params)
        return RosbagReplayDriver(params, DriverContext(sensor_id=self.sensor_id, realtime=realtime))

    def make_failing_driver(self) -> RosbagReplayDriver:
        """A driver whose bag went away after it was planned: open() fails."""
        import shutil
        import tempfile

        copy = Path(tempfile.mkdtemp()) / "gone.bag"
        shutil.copy(self.params["path"], copy)
        drv = RosbagReplayDriver(RosbagReplayDriver.Params.model_validate({**self.params, "path": str(copy)}),
                                 DriverContext(sensor_id=self.sensor_id, realtime=False))  # fmt: skip
        shutil.rmtree(copy.parent)
        return drv

    def test_recorded_pacing_follows_the_receive_times(self) -> None:
        import time

        drv = self.make_driver(realtime=True)
        drv.open()
        t0, first = time.monotonic(), None
        got: list[Any] = []
        while len(got) < 12:
            frames = drv.read()
            got += frames
            if frames and first is None:
                first = frames[0].t_host_ns
        elapsed = time.monotonic() - t0
        drv.close()
        span_s = (got[11].t_host_ns - got[0].t_host_ns) * 1e-9
        assert span_s > 0.1 and span_s - 0.02 <= elapsed <= span_s + 2.0, (span_s, elapsed)  # loose above: a loaded CI


@pytest.mark.parametrize(
    ("enc", "layout"),
    [("bayer_rggb8", "RGGB"), ("bayer_bggr8", "BGGR"), ("bayer_gbrg8", "GBRG"), ("bayer_grbg8", "GRBG")],
)
def test_bayer_mosaics_demosaic_to_their_colour(enc: str, layout: str) -> None:
    colour = {"R": 200, "G": 100, "B": 30}
    mosaic = np.zeros((8, 10), np.uint8)
    for k, (dy, dx) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        mosaic[dy::2, dx::2] = colour[layout[k]]
    out = decode_image(image(enc, mosaic[..., None], pad=2), as_depth=False)
    assert out.shape == (8, 10, 3)
    np.testing.assert_allclose(out[2:-2, 2:-2].reshape(-1, 3).mean(0), [200, 100, 30], atol=1)


def test_packed_yuv422() -> None:
    # a bluish flat colour: Y 100, U (Cb) 200, V (Cr) 128, as UYVY (ROS yuv422) and YUYV (yuv422_yuy2)
    uyvy = np.tile(np.array([200, 100, 128, 100], np.uint8), (4, 3)).reshape(4, 6, 2)
    yuyv = np.tile(np.array([100, 200, 100, 128], np.uint8), (4, 3)).reshape(4, 6, 2)
    a = decode_image(image("yuv422", uyvy), as_depth=False)
    b = decode_image(image("yuv422_yuy2", yuyv), as_depth=False)
    np.testing.assert_array_equal(a, b)
    r, g, bl = (int(v) for v in a[1, 2])
    assert bl > g and bl > r + 100  # U drives blue
    with pytest.raises(BadMessage, match="not a depth encoding"):
        decode_image(image("yuv422", uyvy), as_depth=True)


@pytest.mark.parametrize("big", [False, True])
def test_packed_rgb_point_colours(big: bool) -> None:
    o = ">" if big else "<"
    rec = np.dtype({"names": ["x", "y", "z", "rgb"], "formats": [f"{o}f4"] * 3 + [f"{o}u4"],
                    "offsets": [0, 4, 8, 16], "itemsize": 20})  # fmt: skip
    colours = np.array([[255, 0, 10], [1, 2, 3], [200, 100, 50]], np.uint8)
    pts = np.zeros(3, rec)
    pts["x"] = [1.0, 2.0, 3.0]
    pts["rgb"] = (colours[:, 0].astype(np.uint32) << 16) | (colours[:, 1].astype(np.uint32) << 8) | colours[:, 2]
    # PCL declares the packed colour as a FLOAT32 field: its bits are the 0x00RRGGBB integer
    msg = _cloud(
        pts, [("x", 0, 7, 1), ("y", 4, 7, 1), ("z", 8, 7, 1), ("rgb", 16, 7, 1)], big=big, step=20, row_pad=0, h=1
    )
    layout = cloud_layout(msg)
    assert layout.extra["rgb"] == ("rgb", "uint8", (3,))
    out = read_cloud(msg, layout, drop_nan=True)
    np.testing.assert_array_equal(out["rgb"], colours)
    np.testing.assert_array_equal(out["xyz"][:, 0], [1.0, 2.0, 3.0])
