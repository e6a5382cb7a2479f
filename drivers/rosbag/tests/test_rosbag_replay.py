"""Bags written with rosbags' own writers (rosbag2 mcap and sqlite3, ROS 1) read back through a rig
with ``sensorfusion.run --fast``: frames, timestamps, calibration and poses against what was written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sensorfusion_rosbag._sample import RECEIVE_DELAY_NS, SampleBag, write_sample_bag

from sensorfusion.store import Session

Runner = Callable[..., tuple[int, dict[str, Any], str]]
Rig = Callable[..., dict[str, Any]]


def _bag(tmp_path: Path, storage: str, **kw: Any) -> tuple[SampleBag, Path]:
    """The sample bag and the path the rig names: the rosbag2 storage file itself for sqlite3 (the
    folder for mcap), the .bag for ROS 1 (with a big-endian point cloud)."""
    if storage == "ros1":
        bag = write_sample_bag(tmp_path / "sample.bag", storage="ros1", bigendian_cloud=True, **kw)
        return bag, bag.path
    bag = write_sample_bag(tmp_path / "sample", storage=storage, **kw)  # type: ignore[arg-type]
    return bag, (bag.path / "sample.db3" if storage == "sqlite3" else bag.path)


def _frames(s: Session, name: str) -> list[Any]:
    return list(s.read(name))


@pytest.mark.parametrize("storage", ["mcap", "sqlite3", "ros1"])
def test_every_kind_of_message_through_a_rig(storage: str, tmp_path: Path, run_rig: Runner, rig: Rig) -> None:
    bag, path = _bag(tmp_path, storage)
    rc, summary, err = run_rig(rig(path))
    assert rc == 0, err
    drv = summary["drivers"]["bag"]
    assert drv["skipped"] == 0 and drv["frames"] == 40, drv
    s = Session.open(str(tmp_path / "out.zarr"))
    counts = {n: i.count for n, i in s.streams().items()}
    assert counts == {"cam0/image": 5, "cam0/depth": 5, "fisheye/image": 5, "lidar/points": 5, "imu/imu": 20}

    img = _frames(s, "cam0/image")
    assert [f.t_sensor_ns for f in img] == bag.image_t_ns  # header stamps
    assert [f.t_host_ns for f in img] == [t + RECEIVE_DELAY_NS for t in bag.image_t_ns]  # the bag's receive time
    assert [f.seq for f in img] == list(range(5))
    for f, want in zip(img, bag.images_rgb, strict=True):
        np.testing.assert_array_equal(f.data["image"], want)  # row padding cut, RGB order

    depth = _frames(s, "cam0/depth")
    assert s.streams()["cam0/depth"].spec.attrs["units"] == "m"
    for f, want in zip(depth, bag.depth_m, strict=True):
        assert f.data["depth_m"].dtype == np.float32
        np.testing.assert_array_equal(f.data["depth_m"], want)
    assert depth[0].data["depth_m"][0, 0] == 0.0  # a hole stays a hole

    fish = _frames(s, "fisheye/image")
    assert [f.t_sensor_ns for f in fish] == bag.fisheye_t_ns
    for f, want in zip(fish, bag.fisheye_rgb, strict=True):
        np.testing.assert_array_equal(f.data["image"], want)  # PNG is lossless; BGR decoded back to RGB

    clouds = _frames(s, "lidar/points")
    assert [f.t_sensor_ns for f in clouds] == bag.cloud_t_ns
    for f, xyz, inten, ring in zip(clouds, bag.clouds_xyz, bag.clouds_intensity, bag.clouds_ring, strict=True):
        keep = np.isfinite(xyz).all(axis=1)
        assert len(f.data["xyz"]) == keep.sum() == 15  # the NaN point dropped
        np.testing.assert_array_equal(f.data["xyz"], xyz[keep])
        np.testing.assert_array_equal(f.data["intensity"], inten[keep])
        np.testing.assert_array_equal(f.data["ring"], ring[keep])
        assert f.data["ring"].dtype == np.uint16

    imu = _frames(s, "imu/imu")
    assert [f.t_sensor_ns for f in imu] == bag.imu_t_ns
    np.testing.assert_allclose(np.stack([f.data["gyro_rad_s"] for f in imu]), np.stack(bag.imu_gyro), rtol=0, atol=0)
    np.testing.assert_allclose(np.stack([f.data["accel_m_s2"] for f in imu]), np.stack(bag.imu_accel), atol=0)
    np.testing.assert_allclose(np.stack([f.data["orientation_xyzw"] for f in imu]), np.stack(bag.imu_quat_xyzw))

    cal = s.calibration.sensors
    cam = cal["cam0"].camera
    assert cam is not None and cam.model == "pinhole" and (cam.width, cam.height) == (40, 30)
    for k, v in bag.pinhole.items():
        assert getattr(cam, k) == pytest.approx(v), k
    fe = cal["fisheye"].camera
    assert fe is not None and fe.model == "kannala_brandt"
    for k, v in bag.equidistant.items():
        assert getattr(fe, k) == pytest.approx(v), k
    # TF: map -> odom -> base_link (its first sample) -> sensor mount, composed by the driver
    for sensor, frame in [
        ("cam0", "cam_optical"),
        ("fisheye", "fisheye_optical"),
        ("lidar", "lidar"),
        ("imu", "imu_link"),
    ]:
        np.testing.assert_allclose(cal[sensor].world_from_sensor.matrix, bag.map_from(frame), atol=1e-9)
        assert cal[sensor].mount is None


def test_moving_base_link_as_device_pose_and_mounted_sensors(tmp_path: Path, run_rig: Runner, rig: Rig) -> None:
    bag, path = _bag(tmp_path, "mcap")
    rc, _, err = run_rig(rig(path, world_frame="map", poses={"robot": "base_link"}))
    assert rc == 0, err
    s = Session.open(str(tmp_path / "out.zarr"))
    poses = _frames(s, "robot/device_pose")
    assert [f.t_sensor_ns for f in poses] == bag.tf_t_ns
    for f, t in zip(poses, bag.tf_t_ns, strict=True):
        np.testing.assert_allclose(f.data["world_from_device"], bag.map_from("base_link", t), atol=1e-9)
    cal = s.calibration.sensors
    for sensor, frame in [("cam0", "cam_optical"), ("lidar", "lidar"), ("imu", "imu_link")]:
        mount = cal[sensor].mount
        assert mount is not None and mount.device == "robot"
        np.testing.assert_allclose(mount.device_from_sensor.matrix, bag.base_from[frame], atol=1e-9)


def test_world_frame_below_the_root_and_receive_time(tmp_path: Path, run_rig: Runner, rig: Rig) -> None:
    """world_frame odom (not the root map): sensors in odom; time: receive stamps frames when recorded."""
    bag, path = _bag(tmp_path, "sqlite3")
    topics = {"/camera/color/image_raw": "cam0/image", "/lidar/points": "lidar/points"}
    rc, _, err = run_rig(rig(path, topics=topics, world_frame="/odom", time="receive"))
    assert rc == 0, err
    s = Session.open(str(tmp_path / "out.zarr"))
    img = _frames(s, "cam0/image")
    assert [f.t_sensor_ns for f in img] == [t + RECEIVE_DELAY_NS for t in bag.image_t_ns]
    odom_from_lidar = np.linalg.inv(bag.map_from_odom) @ bag.map_from("lidar")
    np.testing.assert_allclose(s.calibration.sensors["lidar"].world_from_sensor.matrix, odom_from_lidar, atol=1e-9)
    assert s.calibration.sensors["cam0"].camera is None  # no CameraInfo topic mapped


def test_a_time_window_of_the_bag(tmp_path: Path, run_rig: Runner, rig: Rig) -> None:
    bag, path = _bag(tmp_path, "mcap")
    # the bag starts with the first /tf (received at T0 - 17 ms); images arrive at T0 + 3 ms + 0.1 s i,
    # so 0.15 s .. 0.35 s after the start holds images 2 and 3
    rc, _, err = run_rig(rig(path, topics={"/camera/color/image_raw": "cam0/image"}, start_s=0.15, end_s=0.35))
    assert rc == 0, err
    img = _frames(Session.open(str(tmp_path / "out.zarr")), "cam0/image")
    assert [f.t_sensor_ns for f in img] == bag.image_t_ns[2:4]
    np.testing.assert_array_equal(img[0].data["image"], bag.images_rgb[2])


def test_the_example_rig_runs_on_the_sample_bag(tmp_path: Path, run_rig: Runner, rig: Rig) -> None:
    import yaml

    example = Path(__file__).resolve().parents[3] / "examples" / "rosbag_replay.yaml"
    bag = write_sample_bag(tmp_path / "sample", storage="mcap")
    doc = yaml.safe_load(example.read_text())
    doc["sensors"][0]["params"]["path"] = str(bag.path)
    rc, summary, err = run_rig(doc)
    assert rc == 0, err
    assert summary["drivers"]["bag"]["frames"] == 40 + len(bag.tf_t_ns)


def _images(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    return [rng.integers(0, 256, (6, 8, 3), dtype=np.uint8) for _ in range(n)]


def test_compressed_bags(tmp_path: Path) -> None:
    """A zstd-chunked .mcap written by the mcap library (as rosbag2's mcap plugin writes them) and a
    rosbag2 sqlite3 bag with zstd message compression (rosbags' writer) read back bit-exact."""
    from mcap.writer import CompressionType, Writer
    from rosbags.rosbag2 import Writer as Rosbag2Writer
    from sensorfusion_rosbag import RosbagReplayDriver
    from sensorfusion_rosbag._sample import T0_NS, _Msgs

    from sensorfusion import DriverContext

    mk = _Msgs(ros1=False)
    imgs = _images(4)
    msgs = [mk.t["sensor_msgs/msg/Image"](header=mk.header(T0_NS + i * 10**7, "cam"), height=6, width=8, encoding="bgr8",
                                          is_bigendian=0, step=24, data=img[..., ::-1].copy().reshape(-1))
            for i, img in enumerate(imgs)]  # fmt: skip
    mcap_path = tmp_path / "chunked.mcap"
    with mcap_path.open("wb") as f:
        w = Writer(f, compression=CompressionType.ZSTD, chunk_size=64)
        w.start(profile="ros2", library="test")
        msgdef, _ = mk.store.generate_msgdef("sensor_msgs/msg/Image", ros_version=2)
        schema = w.register_schema("sensor_msgs/msg/Image", "ros2msg", msgdef.encode())
        channel = w.register_channel("/cam/image", "cdr", schema, {"offered_qos_profiles": ""})
        for i, m in enumerate(msgs):
            t = T0_NS + i * 10**7 + 5
            w.add_message(channel, log_time=t, data=mk.serialize(m, "sensor_msgs/msg/Image"), publish_time=t)
        w.finish()
    rb = tmp_path / "zstd_bag"
    writer = Rosbag2Writer(rb, version=9)
    from rosbags.rosbag2 import CompressionFormat, CompressionMode

    writer.set_compression(CompressionMode.MESSAGE, CompressionFormat.ZSTD)
    with writer:
        conn = writer.add_connection("/cam/image", "sensor_msgs/msg/Image", typestore=mk.store)
        for i, m in enumerate(msgs):
            writer.write(conn, T0_NS + i * 10**7 + 5, mk.serialize(m, "sensor_msgs/msg/Image"))
    for path in (mcap_path, rb):
        drv = RosbagReplayDriver(
            RosbagReplayDriver.Params.model_validate({"path": str(path), "topics": {"/cam/image": "cam0/image"}}),
            DriverContext("bag", realtime=False),
        )
        drv.open()
        frames = drv.read()
        drv.close()
        assert [f.t_sensor_ns for f in frames] == [T0_NS + i * 10**7 for i in range(4)], path
        for f, img in zip(frames, imgs, strict=True):
            np.testing.assert_array_equal(f.data["image"], img)
