"""Pose topics (nav_msgs/Odometry, geometry_msgs/PoseStamped) as <device>/device_pose, sensors rigidly
below an odometry's body mounted on it, composed into the world frame through TF."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sensorfusion_rosbag import RosbagReplayDriver
from sensorfusion_rosbag._sample import T0_NS, _Msgs, _pose, _quat, _write

from sensorfusion import ConfigError, DriverContext
from sensorfusion.store import Session

Runner = Callable[..., tuple[int, dict[str, Any], str]]

MAP_FROM_ODOM = _pose((0.0, 0.0, 0.5), (2.0, -1.0, 0.0))
BASE_FROM_LIDAR = _pose((0.0, 0.1, 0.0), (0.3, 0.0, 1.2))


def _odom_poses() -> list[np.ndarray]:
    return [_pose((0.0, 0.0, 0.2 * i), (0.5 * i, 0.1 * i, 0.0)) for i in range(6)]


def _bag(tmp_path: Path) -> Path:
    mk = _Msgs(ros1=False)
    t = mk.t
    records: list[tuple[int, str, str, Any]] = []
    static = [
        mk.transform(T0_NS, "map", "odom", MAP_FROM_ODOM),
        mk.transform(T0_NS, "base_link", "lidar", BASE_FROM_LIDAR),
    ]
    records.append((T0_NS, "/tf_static", "tf2_msgs/msg/TFMessage", t["tf2_msgs/msg/TFMessage"](transforms=static)))
    pf = t["sensor_msgs/msg/PointField"]
    fields = [pf(name=n, offset=4 * k, datatype=7, count=1) for k, n in enumerate("xyz")]
    for i, m in enumerate(_odom_poses()):
        ts = T0_NS + i * 100_000_000
        q = _quat(m)
        pose = t["geometry_msgs/msg/Pose"](position=t["geometry_msgs/msg/Point"](x=m[0, 3], y=m[1, 3], z=m[2, 3]),
                                           orientation=t["geometry_msgs/msg/Quaternion"](x=q[0], y=q[1], z=q[2], w=q[3]))  # fmt: skip
        odom = t["nav_msgs/msg/Odometry"](
            header=mk.header(ts, "odom"), child_frame_id="base_link",
            pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.zeros(36)),
            twist=t["geometry_msgs/msg/TwistWithCovariance"](
                twist=t["geometry_msgs/msg/Twist"](linear=t["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0),
                                                   angular=t["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0)),
                covariance=np.zeros(36)))  # fmt: skip
        records.append((ts + 1, "/odom", "nav_msgs/msg/Odometry", odom))
        records.append((ts + 2, "/pose", "geometry_msgs/msg/PoseStamped",
                        t["geometry_msgs/msg/PoseStamped"](header=mk.header(ts, "map"), pose=pose)))  # fmt: skip
        pts = np.arange(12, dtype=np.float32).reshape(4, 3) + i
        records.append((ts + 3, "/lidar/points", "sensor_msgs/msg/PointCloud2", t["sensor_msgs/msg/PointCloud2"](
            header=mk.header(ts, "lidar"), height=1, width=4, fields=fields, is_bigendian=False, point_step=12,
            row_step=48, data=pts.view(np.uint8).reshape(-1), is_dense=True)))  # fmt: skip
    records.sort(key=lambda r: r[0])
    _write(tmp_path / "odom", "mcap", mk, records)
    return tmp_path / "odom"


def _rig(path: Path, topics: dict[str, Any], **params: Any) -> dict[str, Any]:
    return {"name": "odom", "sensors": [{"id": "bag", "driver": "rosbag.replay",
                                         "params": {"path": str(path), "topics": topics, **params}}]}  # fmt: skip


@pytest.mark.parametrize("world", [None, "odom"])
def test_odometry_places_the_robot_and_its_sensors(world: str | None, tmp_path: Path, run_rig: Runner) -> None:
    bag = _bag(tmp_path)
    params = {"world_frame": world} if world else {}
    rc, _, err = run_rig(_rig(bag, {"/odom": "robot", "/lidar/points": "lidar/points"}, **params))
    assert rc == 0, err
    s = Session.open(str(tmp_path / "out.zarr"))
    poses = list(s.read("robot/device_pose"))
    world_from_odom = np.eye(4) if world == "odom" else MAP_FROM_ODOM  # default: the root of odom's tree
    assert [f.t_sensor_ns for f in poses] == [T0_NS + i * 100_000_000 for i in range(6)]
    for f, m in zip(poses, _odom_poses(), strict=True):
        np.testing.assert_allclose(f.data["world_from_device"], world_from_odom @ m, atol=1e-9)
    mount = s.calibration.sensors["lidar"].mount
    assert mount is not None and mount.device == "robot"  # the lidar rides on base_link, the odometry's body
    np.testing.assert_allclose(mount.device_from_sensor.matrix, BASE_FROM_LIDAR, atol=1e-12)
    assert s.streams()["robot/device_pose"].spec.attrs["child_frame_id"] == "base_link"


def test_pose_stamped_and_bad_pose_mappings(tmp_path: Path) -> None:
    bag = _bag(tmp_path)
    ctx = DriverContext("bag", realtime=False, config_path="sensors[0]")
    p = RosbagReplayDriver.Params.model_validate({"path": str(bag), "topics": {"/pose": "cam_rig/device_pose"},
                                                  "world_frame": "odom"})  # fmt: skip
    drv = RosbagReplayDriver(p, ctx)
    drv.open()
    frames = drv.read()
    drv.close()
    # a PoseStamped in map, expressed in the world frame odom: odom_from_map @ map_from_body
    np.testing.assert_allclose(
        frames[0].data["world_from_device"], np.linalg.inv(MAP_FROM_ODOM) @ _odom_poses()[0], atol=1e-9
    )
    with pytest.raises(ConfigError, match="becomes <device>/device_pose") as info:
        RosbagReplayDriver(
            RosbagReplayDriver.Params.model_validate({"path": str(bag), "topics": {"/odom": "robot/odom"}}), ctx
        )
    assert info.value.field_path == "sensors[0].params.topics./odom"
    assert math.isclose(np.linalg.det(frames[0].data["world_from_device"][:3, :3]), 1.0)


def test_the_starter_rig_streams_odometry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sensorfusion.cli import main as cli_main
    from sensorfusion.run import main as run_main

    bag = _bag(tmp_path)
    assert cli_main(["rosbag", str(bag), "--rig", str(tmp_path / "rig.yaml")]) == 0
    assert "nav_msgs/msg/Odometry" in capsys.readouterr().out
    assert run_main([str(tmp_path / "rig.yaml"), "--fast", "--out", str(tmp_path / "o.zarr"), "--quiet"]) == 0
    s = Session.open(str(tmp_path / "o.zarr"))
    assert {n: i.count for n, i in s.streams().items()} == {
        "odom/device_pose": 6,
        "pose/device_pose": 6,
        "lidar/points": 6,
    }
    mount = s.calibration.sensors["lidar"].mount
    assert mount is not None and mount.device == "odom"
