"""``sensorfusion rosbag BAG [--json] [--rig OUT.yaml]``: what a bag holds and what
``rosbag.replay`` makes of it, and a starter rig that plays every topic it can convert."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from sensorfusion import ConfigError, SensorfusionError

from ._bag import open_bag
from ._driver import SUPPORTED_TYPES
from ._tf import TF_TYPES, TfTree, strip_frame

__all__ = ["bag_info", "configure_rosbag", "run_rosbag", "starter_rig"]

_TF_PEEK = 500  # /tf messages read to find the tree's frames


def configure_rosbag(p: argparse.ArgumentParser) -> None:
    p.add_argument("bag", help="a rosbag2 folder, .db3 or .mcap file, or a ROS 1 .bag")
    p.add_argument("--json", action="store_true", help="print the listing as one JSON object")
    p.add_argument("--rig", metavar="OUT.yaml", help="write a rig playing every convertible topic")


def _channel(kind: str) -> str:
    return {"image": "image", "depth": "depth", "point_cloud": "points", "imu": "imu"}[kind]


def _sensor_name(topic: str) -> str:
    parts = [p for p in topic.strip("/").split("/") if p]
    drop = {"image_raw", "image_rect", "image_rect_color", "image", "compressed", "compresseddepth", "points",
            "data", "data_raw", "camera_info", "raw"}  # fmt: skip
    keep = [p for p in parts if p.lower() not in drop] or parts[:1] or ["sensor"]
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", "_".join(keep))


def bag_info(path: str) -> dict[str, Any]:
    """Topics (type, count, the kind ``rosbag.replay`` makes of them, frame id), the time span and the
    TF frames of the bag at ``path``."""
    reader = open_bag(path, field_path="BAG")
    try:
        topics: list[dict[str, Any]] = []
        tree = TfTree()
        span_s = (int(reader.end_time) - int(reader.start_time)) * 1e-9
        for topic, info in sorted(reader.topics.items()):
            msgtype = str(info.msgtype)
            count = int(info.msgcount)
            rate = round((count - 1) / span_s, 2) if count > 1 and span_s > 0 else 0.0
            row: dict[str, Any] = {"topic": topic, "msgtype": msgtype, "count": count, "rate_hz": rate}
            conns = [c for c in reader.connections if c.topic == topic]
            if msgtype in TF_TYPES:
                row["becomes"] = "tf"
                static = topic.endswith("tf_static")
                for n, (conn, _, raw) in enumerate(reader.messages(connections=conns)):
                    if n >= _TF_PEEK and not static:
                        break
                    try:
                        tree.add(reader.deserialize(raw, conn.msgtype), static=static)
                    except Exception:  # a damaged TF message: the listing goes on without it
                        continue
            elif msgtype in SUPPORTED_TYPES and msgtype in reader.typestore.types:
                kinds = SUPPORTED_TYPES[msgtype]
                row["becomes"] = kinds[0]
                for conn, _, raw in reader.messages(connections=conns):
                    try:
                        msg = reader.deserialize(raw, conn.msgtype)
                    except Exception:
                        break
                    row["frame_id"] = strip_frame(str(msg.header.frame_id))
                    if msgtype == "sensor_msgs/msg/Image":
                        row["encoding"] = str(msg.encoding)
                        row["becomes"] = "depth" if row["encoding"] in ("16UC1", "32FC1") else "image"
                        row["size"] = [int(msg.width), int(msg.height)]
                    elif msgtype == "sensor_msgs/msg/CompressedImage":
                        row["format"] = str(msg.format)
                        fmt = row["format"]
                        row["becomes"] = "depth" if "compresseddepth" in fmt.lower() else "image"
                    elif msgtype == "sensor_msgs/msg/CameraInfo":
                        row["distortion_model"] = str(msg.distortion_model)
                        row["size"] = [int(msg.width), int(msg.height)]
                    break
            else:
                row["becomes"] = None
            topics.append(row)
        frames = tree.frames
        return {
            "path": path,
            "ros_version": 2 if reader.is2 else 1,
            "messages": int(reader.message_count),
            "start_ns": int(reader.start_time),
            "end_ns": int(reader.end_time),
            "duration_s": round((int(reader.end_time) - int(reader.start_time)) * 1e-9, 3),
            "topics": topics,
            "tf_frames": frames,
            "tf_roots": sorted({tree.root(f) for f in frames}),
        }
    finally:
        reader.close()


def starter_rig(info: dict[str, Any], *, bag_path: str) -> dict[str, Any]:
    """A rig playing every topic of ``info`` that ``rosbag.replay`` converts; a CameraInfo
    calibrates the image topic of the same namespace."""
    mapping: dict[str, Any] = {}
    used: set[str] = set()
    namespaces: dict[str, str] = {}  # topic namespace -> sensor of its image
    for row in info["topics"]:
        kind = row.get("becomes")
        if kind in (None, "tf", "camera_info"):
            continue
        sensor = _sensor_name(row["topic"])
        if kind == "pose":  # an odometry / pose topic: the device id, streamed as <device>/device_pose
            device, k = sensor, 1
            while f"{device}/device_pose" in used:
                k += 1
                device = f"{sensor}{k}"
            used.add(f"{device}/device_pose")
            mapping[row["topic"]] = device
            continue
        stream = f"{sensor}/{_channel(kind)}"
        k = 1
        while stream in used:
            k += 1
            stream = f"{sensor}{k}/{_channel(kind)}"
        used.add(stream)
        mapping[row["topic"]] = stream
        if kind in ("image", "depth"):
            ns = row["topic"].rsplit("/", 2 if row["topic"].endswith("/compressed") else 1)[0]
            namespaces.setdefault(ns, stream.split("/")[0])
    for row in info["topics"]:
        if row.get("becomes") == "camera_info":
            ns = row["topic"].rsplit("/", 1)[0]
            calibrated = namespaces.get(ns)
            if calibrated is not None:
                mapping[row["topic"]] = calibrated
    if not mapping:
        raise ConfigError(
            "the bag has no topic rosbag.replay converts",
            field_path="BAG",
            value=bag_path,
            choices=list(SUPPORTED_TYPES),
        )
    params: dict[str, Any] = {"path": bag_path, "topics": mapping}
    if len(info["tf_roots"]) == 1:
        params["world_frame"] = info["tf_roots"][0]
    images = [s for s in mapping.values() if s.endswith("/image")]
    rig: dict[str, Any] = {"name": Path(bag_path).stem or "rosbag",
                           "sensors": [{"id": "bag", "driver": "rosbag.replay", "params": params}]}  # fmt: skip
    if images:
        rig["sync"] = {"reference": images[0], "tolerance_ms": 50}
    return rig


def run_rosbag(args: argparse.Namespace) -> int:
    try:
        info = bag_info(args.bag)
        if args.rig:
            import yaml

            out = Path(args.rig)
            rig = starter_rig(info, bag_path=str(Path(args.bag).resolve()))
            out.write_text(
                "# written by `sensorfusion rosbag --rig`: every topic rosbag.replay converts\n"
                + yaml.safe_dump(rig, sort_keys=False)
            )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SensorfusionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(info))
    else:
        print(f"{info['path']}: ROS {info['ros_version']}, {info['messages']} messages, {info['duration_s']} s")
        print(f"{'topic':<40} {'type':<34} {'count':>7} {'Hz':>7}  becomes")
        for row in info["topics"]:
            extra = row.get("encoding") or row.get("format") or row.get("distortion_model") or ""
            becomes = row["becomes"] or "(not converted)"
            frame = f" frame {row['frame_id']}" if row.get("frame_id") else ""
            line = f"{row['topic']:<40} {row['msgtype']:<34} {row['count']:>7} {row['rate_hz']:>7.1f}  {becomes}"
            print(f"{line} {extra}{frame}".rstrip())
        if info["tf_frames"]:
            print(f"TF: {len(info['tf_frames'])} frames, root(s) {', '.join(info['tf_roots'])}")
    if args.rig:
        print(f"wrote {args.rig}", file=sys.stderr if args.json else sys.stdout)
    return 0
