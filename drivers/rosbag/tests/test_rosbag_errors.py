"""Bad input: a missing bag, a topic not in the bag, a message type the driver cannot convert, an
unknown distortion model, an unknown world frame (each exit 2, one line naming the field), and
corrupt messages (counted, recorded as events and skipped; the others still played)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from sensorfusion_rosbag import RosbagReplayDriver
from sensorfusion_rosbag._sample import T0_NS, _Msgs, _write, write_sample_bag

from sensorfusion import ConfigError, DriverContext
from sensorfusion.store import Session

Runner = Callable[..., tuple[int, dict[str, Any], str]]
Rig = Callable[..., dict[str, Any]]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _image(mk: _Msgs, t_ns: int, img: np.ndarray) -> Any:
    h, w, _ = img.shape
    return mk.t["sensor_msgs/msg/Image"](header=mk.header(t_ns, "cam"), height=h, width=w, encoding="rgb8",
                                         is_bigendian=0, step=w * 3, data=img.reshape(-1))  # fmt: skip


def _driver(path: Path | list[str], topics: dict[str, Any], **params: Any) -> RosbagReplayDriver:
    where = [str(p) for p in path] if isinstance(path, list) else str(path)
    p = RosbagReplayDriver.Params.model_validate({"path": where, "topics": topics, **params})
    return RosbagReplayDriver(p, DriverContext("bag", realtime=False, config_path="sensors[0]"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_bag(tmp_path_factory.mktemp("bag") / "sample", storage="mcap").path


def test_a_bag_that_does_not_exist(tmp_path: Path, run_rig: Runner, rig: Rig) -> None:
    rc, _, err = run_rig(rig(tmp_path / "nowhere.mcap"))
    assert rc == 2
    line = _one_line(err)
    assert "sensors[0].params.path" in line and "no bag at this path" in line


def test_files_that_are_not_bags(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match="not a bag file") as info:
        _driver(tmp_path / "notes.txt", {"/a": "a/b"})
    assert info.value.field_path == "sensors[0].params.path"
    (tmp_path / "broken.mcap").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ConfigError, match="cannot read the bag") as info:
        _driver(tmp_path / "broken.mcap", {"/a": "a/b"})
    assert info.value.field_path == "sensors[0].params.path"


def test_a_topic_missing_from_the_bag_lists_its_topics(sample: Path, run_rig: Runner, rig: Rig) -> None:
    rc, _, err = run_rig(rig(sample, topics={"/camera/color/image_raw": "cam0/image", "/front/image": "cam1/image"}))
    assert rc == 2
    line = _one_line(err)
    assert "sensors[0].params.topics./front/image" in line and "not in the bag" in line
    assert "/camera/color/image_raw (sensor_msgs/msg/Image)" in line and "/lidar/points" in line


def test_a_message_type_the_driver_cannot_convert(tmp_path: Path, run_rig: Runner, rig: Rig) -> None:
    mk = _Msgs(ros1=False)
    img = np.zeros((4, 6, 3), np.uint8)
    records = [(T0_NS, "/cam/image", "sensor_msgs/msg/Image", _image(mk, T0_NS, img)),
               (T0_NS + 1, "/chatter", "std_msgs/msg/String", mk.t["std_msgs/msg/String"](data="hi"))]  # fmt: skip
    _write(tmp_path / "bag", "sqlite3", mk, records)
    rc, _, err = run_rig(rig(tmp_path / "bag", topics={"/cam/image": "cam0/image", "/chatter": "chat/text"}))
    assert rc == 2
    line = _one_line(err)
    assert "std_msgs/msg/String" in line and "cannot convert" in line
    assert "sensor_msgs/msg/PointCloud2" in line and "sensor_msgs/msg/CameraInfo" in line  # the supported ones
    # a supported type asked to become a kind it cannot
    with pytest.raises(ConfigError, match="cannot become point_cloud") as info:
        _driver(tmp_path / "bag", {"/cam/image": {"stream": "cam0/image", "kind": "point_cloud"}})
    assert info.value.field_path == "sensors[0].params.topics./cam/image.kind"


def test_camera_info_with_an_unknown_distortion_model(tmp_path: Path, run_rig: Runner, rig: Rig) -> None:
    mk = _Msgs(ros1=True)
    img = np.zeros((4, 6, 3), np.uint8)
    info = mk.camera_info(T0_NS, "cam", 6, 4, "double_sphere_v2", [5.0, 5.0, 3.0, 2.0], [0.1, 0.2])
    records = [(T0_NS, "/cam/image", "sensor_msgs/msg/Image", _image(mk, T0_NS, img)),
               (T0_NS, "/cam/camera_info", "sensor_msgs/msg/CameraInfo", info)]  # fmt: skip
    _write(tmp_path / "cam.bag", "ros1", mk, records)
    rc, _, err = run_rig(rig(tmp_path / "cam.bag", topics={"/cam/image": "cam0/image", "/cam/camera_info": "cam0"}))
    assert rc == 2
    line = _one_line(err)
    assert "topics./cam/camera_info" in line and "'double_sphere_v2'" in line and "plumb_bob" in line


def test_unknown_world_frame_and_unplaced_sensor(sample: Path) -> None:
    with pytest.raises(ConfigError, match="not a TF frame of the bag") as info:
        _driver(sample, {"/lidar/points": "lidar/points"}, world_frame="earth")
    assert info.value.field_path == "sensors[0].params.world_frame"
    assert "base_link" in (info.value.choices or [])
    with pytest.raises(ConfigError, match="not connected to 'map' by TF") as info:
        _driver(sample, {"/lidar/points": "lidar/points"}, frames={"lidar": "velodyne"})
    assert info.value.field_path == "sensors[0].params.frames.lidar"


def test_corrupt_messages_are_counted_and_skipped(tmp_path: Path, run_rig: Runner, rig: Rig) -> None:
    mk = _Msgs(ros1=False)
    rng = np.random.default_rng(3)
    imgs = [rng.integers(0, 256, (4, 6, 3), dtype=np.uint8) for _ in range(5)]
    records: list[tuple[int, str, str, Any]] = []
    for i, img in enumerate(imgs):
        records.append((T0_NS + i * 10**8, "/cam/image", "sensor_msgs/msg/Image", _image(mk, T0_NS + i * 10**8, img)))
    # message 2 deserialises but its data is shorter than height x step
    records[2] = (*records[2][:3], dataclasses.replace(records[2][3], data=imgs[2].reshape(-1)[:30]))
    bad_jpeg = mk.t["sensor_msgs/msg/CompressedImage"](header=mk.header(T0_NS, "cam"), format="jpeg",
                                                       data=np.frombuffer(b"\xff\xd8not a jpeg", np.uint8))  # fmt: skip
    _, png = cv2.imencode(".png", imgs[0])
    good = mk.t["sensor_msgs/msg/CompressedImage"](header=mk.header(T0_NS, "cam"), format="png",
                                                   data=np.asarray(png, np.uint8).reshape(-1))  # fmt: skip
    records += [(T0_NS + 5, "/cam/compressed", "sensor_msgs/msg/CompressedImage", good),
                (T0_NS + 10**8, "/cam/compressed", "sensor_msgs/msg/CompressedImage", bad_jpeg)]  # fmt: skip
    # one message damaged on disk: its serialised bytes cut short
    records[4] = (*records[4][:3], mk.serialize(records[4][3], "sensor_msgs/msg/Image")[:20])
    records.sort(key=lambda r: r[0])
    _write(tmp_path / "bag2", "mcap", mk, records)
    rc, summary, err = run_rig(rig(tmp_path / "bag2", topics={"/cam/image": "cam0/image", "/cam/compressed": "cam1/image"}) | {"sync": {"reference": "cam0/image"}})  # fmt: skip
    assert rc == 0, err
    drv = summary["drivers"]["bag"]
    assert drv["skipped"] == 3
    assert drv["skipped_by_topic"] == {
        "/cam/image": {"bad_data": 1, "undecodable": 1},
        "/cam/compressed": {"bad_data": 1},
    }
    s = Session.open(str(tmp_path / "out.zarr"))
    frames = list(s.read("cam0/image"))
    assert [f.seq for f in frames] == [0, 1, 3]  # the gaps in seq show the skipped messages
    for f in frames:
        np.testing.assert_array_equal(f.data["image"], imgs[f.seq])
    events = [e for e in s.events if e.get("kind") == "corrupt_message"]
    assert len(events) == 3, s.events
    assert any("/cam/compressed message 1" in str(e.get("message")) for e in events)


def test_a_split_ros1_recording_reads_as_one(tmp_path: Path) -> None:
    mk = _Msgs(ros1=True)
    rng = np.random.default_rng(5)
    imgs = [rng.integers(0, 256, (4, 6, 3), dtype=np.uint8) for _ in range(5)]
    records = [(T0_NS + i * 10**8, "/cam/image", "sensor_msgs/msg/Image", _image(mk, T0_NS + i * 10**8, img))
               for i, img in enumerate(imgs)]  # fmt: skip
    _write(tmp_path / "part_1.bag", "ros1", mk, records[3:])
    _write(tmp_path / "part_0.bag", "ros1", mk, records[:3])
    drv = _driver([str(tmp_path / "part_1.bag"), str(tmp_path / "part_0.bag")], {"/cam/image": "cam0/image"})
    drv.open()
    frames = drv.read()
    drv.close()
    assert [f.t_sensor_ns for f in frames] == [T0_NS + i * 10**8 for i in range(5)]
    for f, img in zip(frames, imgs, strict=True):
        np.testing.assert_array_equal(f.data["image"], img)
    with pytest.raises(ConfigError, match=r"each must be a \.bag file"):
        _driver([str(tmp_path / "part_0.bag"), str(tmp_path / "x.mcap")], {"/cam/image": "cam0/image"})


def test_an_unset_header_stamp_takes_the_receive_time(tmp_path: Path) -> None:
    mk = _Msgs(ros1=False)
    img = np.zeros((4, 6, 3), np.uint8)
    records = [(T0_NS + 10**8 * i, "/cam/image", "sensor_msgs/msg/Image", _image(mk, 0 if i == 1 else T0_NS + 10**8 * i, img))
               for i in range(3)]  # fmt: skip
    _write(tmp_path / "bag", "mcap", mk, records)
    drv = _driver(tmp_path / "bag", {"/cam/image": "cam0/image"})
    drv.open()
    frames = drv.read()
    drv.close()
    assert [f.t_sensor_ns for f in frames] == [T0_NS, T0_NS + 10**8, T0_NS + 2 * 10**8]
    assert drv.summary()["zero_stamps_by_topic"] == {"/cam/image": 1}
