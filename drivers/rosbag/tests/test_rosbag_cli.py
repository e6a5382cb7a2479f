"""``sensorfusion rosbag BAG [--json] [--rig OUT.yaml]``: the listing, a starter rig that plays, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sensorfusion_rosbag._sample import T0_NS, _Msgs, _write, write_sample_bag

from sensorfusion.cli import main as cli_main
from sensorfusion.run import main as run_main
from sensorfusion.store import Session


def test_listing_and_a_starter_rig_that_plays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bag = write_sample_bag(tmp_path / "robot.bag", storage="ros1")
    assert cli_main(["rosbag", str(bag.path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    rows = {r["topic"]: r for r in info["topics"]}
    assert info["ros_version"] == 1 and info["messages"] == sum(r["count"] for r in info["topics"])
    assert (
        rows["/camera/depth/image_raw"]["becomes"] == "depth" and rows["/camera/depth/image_raw"]["encoding"] == "16UC1"
    )
    assert (
        rows["/fisheye/image/compressed"]["becomes"] == "image" and rows["/fisheye/image/compressed"]["format"] == "png"
    )
    assert rows["/fisheye/camera_info"]["distortion_model"] == "equidistant"
    assert rows["/lidar/points"]["frame_id"] == "lidar" and rows["/tf"]["becomes"] == "tf"
    assert info["tf_roots"] == ["map"] and "cam_optical" in info["tf_frames"]
    assert rows["/imu/data"]["rate_hz"] == pytest.approx(19 / info["duration_s"], rel=0.01)  # 20 samples

    rig = tmp_path / "rig.yaml"
    assert cli_main(["rosbag", str(bag.path), "--rig", str(rig)]) == 0
    assert "/camera/color/image_raw" in capsys.readouterr().out  # the table
    out = tmp_path / "out.zarr"
    assert run_main([str(rig), "--fast", "--out", str(out), "--quiet"]) == 0
    s = Session.open(str(out))
    counts = {n: i.count for n, i in s.streams().items()}
    assert counts == {"camera_color/image": 5, "camera_depth/depth": 5, "fisheye/image": 5, "lidar/points": 5,
                      "imu/imu": 20}  # fmt: skip
    cal = s.calibration.sensors
    assert cal["camera_color"].camera.model == "pinhole" and cal["fisheye"].camera.model == "kannala_brandt"


def test_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["rosbag", str(tmp_path / "missing.mcap")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no bag at this path" in err[0]
    mk = _Msgs(ros1=False)
    _write(
        tmp_path / "chat",
        "mcap",
        mk,
        [(T0_NS, "/chatter", "std_msgs/msg/String", mk.t["std_msgs/msg/String"](data="hi"))],
    )
    assert cli_main(["rosbag", str(tmp_path / "chat")]) == 0  # listing works: the topic is shown as not converted
    assert "(not converted)" in capsys.readouterr().out
    assert cli_main(["rosbag", str(tmp_path / "chat"), "--rig", str(tmp_path / "r.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no topic rosbag.replay converts" in err[0] and "sensor_msgs/msg/Image" in err[0]
    assert not (tmp_path / "r.yaml").exists()
