"""rosbag.replay throughput: messages/s and MB/s read and converted from a bag, against rosbags alone.

A bag (mcap, written with rosbags' own writer in a temporary folder) holds ``--frames`` 640x480
``rgb8`` images, as many 16-bit depth images, ``PointCloud2`` clouds of ``--points`` points
(x y z intensity ring t, 32-byte points) and 10 IMU samples per frame. Measured, each the median
of ``--repeats`` runs, in this process, on that bag:

* peer: rosbags' ``AnyReader`` reading and deserialising every message (what any reader built on
  rosbags pays; no conversion);
* ``rosbag.replay``: the driver's ``read()`` loop with ``--fast`` timing (deserialise, convert to
  arrays, check each frame against its stream contract);
* the whole pipeline: ``python -m sensorfusion.run --fast`` recording the bag to a Zarr session.

Prints a table and one JSON line; ``ratio_driver_vs_deserialize`` is the driver's messages/s over
the peer's (1.0 would mean the conversion costs nothing).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _write(path: Path, frames: int, points: int) -> dict[str, Any]:
    from sensorfusion_rosbag._sample import T0_NS, _Msgs, _write

    mk = _Msgs(ros1=False)
    t = mk.t
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    depth = rng.integers(0, 8000, (480, 640), dtype=np.uint16)
    rec = np.dtype({"names": ["x", "y", "z", "intensity", "ring", "t"],
                    "formats": ["<f4", "<f4", "<f4", "<f4", "<u2", "<u4"], "offsets": [0, 4, 8, 16, 20, 24],
                    "itemsize": 32})  # fmt: skip
    pts = np.zeros(points, rec)
    for n in ("x", "y", "z", "intensity"):
        pts[n] = rng.normal(size=points)
    pf = t["sensor_msgs/msg/PointField"]
    fields = [pf(name=n, offset=o, datatype=d, count=1) for n, o, d in
              [("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("intensity", 16, 7), ("ring", 20, 4), ("t", 24, 6)]]  # fmt: skip
    v3, q4 = t["geometry_msgs/msg/Vector3"], t["geometry_msgs/msg/Quaternion"]
    records: list[tuple[int, str, str, Any]] = []
    for i in range(frames):
        ts = T0_NS + i * 33_333_333
        records.append((ts, "/cam/image", "sensor_msgs/msg/Image", t["sensor_msgs/msg/Image"](
            header=mk.header(ts, "cam"), height=480, width=640, encoding="rgb8", is_bigendian=0, step=1920,
            data=img.reshape(-1))))  # fmt: skip
        records.append((ts + 1, "/cam/depth", "sensor_msgs/msg/Image", t["sensor_msgs/msg/Image"](
            header=mk.header(ts, "cam"), height=480, width=640, encoding="16UC1", is_bigendian=0, step=1280,
            data=depth.view(np.uint8).reshape(-1))))  # fmt: skip
        records.append((ts + 2, "/lidar", "sensor_msgs/msg/PointCloud2", t["sensor_msgs/msg/PointCloud2"](
            header=mk.header(ts, "lidar"), height=1, width=points, fields=fields, is_bigendian=False, point_step=32,
            row_step=32 * points, data=pts.view(np.uint8), is_dense=True)))  # fmt: skip
        for k in range(10):
            tk = ts + k * 3_333_333 + 3
            records.append((tk, "/imu", "sensor_msgs/msg/Imu", t["sensor_msgs/msg/Imu"](
                header=mk.header(tk, "imu"), orientation=q4(x=0.0, y=0.0, z=0.0, w=1.0), orientation_covariance=np.zeros(9),
                angular_velocity=v3(x=0.1, y=0.0, z=0.0), angular_velocity_covariance=np.zeros(9),
                linear_acceleration=v3(x=0.0, y=0.0, z=9.8), linear_acceleration_covariance=np.zeros(9))))  # fmt: skip
    records.sort(key=lambda r: r[0])
    _write(path, "mcap", mk, records)
    size = sum(f.stat().st_size for f in path.iterdir())
    return {"messages": len(records), "bag_mb": size / 1e6}


TOPICS = {"/cam/image": "cam/image", "/cam/depth": "cam/depth", "/lidar": "lidar/points", "/imu": "imu/imu"}


def _peer(path: Path) -> int:
    from rosbags.highlevel import AnyReader

    n = 0
    with AnyReader([path]) as reader:
        conns = [c for c in reader.connections if c.topic in TOPICS]
        for conn, _, raw in reader.messages(connections=conns):
            reader.deserialize(raw, conn.msgtype)
            n += 1
    return n


def _driver(path: Path) -> int:
    from sensorfusion_rosbag import RosbagReplayDriver

    from sensorfusion import DriverContext, EndOfStream

    drv = RosbagReplayDriver(
        RosbagReplayDriver.Params.model_validate({"path": str(path), "topics": TOPICS, "timing": "fast"}),
        DriverContext("bag", realtime=False),
    )
    drv.open()
    n = 0
    try:
        while True:
            n += len(drv.read())
    except EndOfStream:
        pass
    drv.close()
    return n


def _pipeline(path: Path, out: Path) -> float:
    import yaml

    rig = out.parent / "rig.yaml"
    rig.write_text(yaml.safe_dump({"name": "bench-rosbag", "sensors": [{"id": "bag", "driver": "rosbag.replay",
                                   "params": {"path": str(path), "topics": TOPICS}}],
                                   "sync": {"reference": "cam/image", "tolerance_ms": 20}}))  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sensorfusion.run", str(rig), "--fast", "--out", str(out), "--overwrite",
                    "--quiet", "--json"], check=True, capture_output=True)  # fmt: skip
    return time.perf_counter() - t0


def _median_time(fn: Any, repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--points", type=int, default=32768)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rosbag-") as tmp:
        bag = Path(tmp) / "bag"
        info = _write(bag, args.frames, args.points)
        _peer(bag)  # warm the page cache and imports
        _driver(bag)
        peer_s, n_peer = _median_time(lambda: _peer(bag), args.repeats)
        drv_s, n_frames = _median_time(lambda: _driver(bag), args.repeats)
        run_s = _pipeline(bag, Path(tmp) / "out.zarr")
    n = info["messages"]
    assert n_peer == n and n_frames == n, (n, n_peer, n_frames)
    rows = [
        ("rosbags AnyReader, deserialise only (peer)", peer_s, n / peer_s, info["bag_mb"] / peer_s),
        ("rosbag.replay read() loop (--fast)", drv_s, n / drv_s, info["bag_mb"] / drv_s),
        ("sensorfusion.run --fast, recorded to Zarr", run_s, n / run_s, info["bag_mb"] / run_s),
    ]
    print(f"bag: {n} messages, {info['bag_mb']:.1f} MB ({args.frames} x [640x480 rgb8 + 16UC1 depth + "
          f"{args.points}-point cloud + 10 IMU]); median of {args.repeats}")  # fmt: skip
    print(f"{'what':<46} {'s':>7} {'msg/s':>9} {'MB/s':>8}")
    for name, s, mps, mbs in rows:
        print(f"{name:<46} {s:7.3f} {mps:9.1f} {mbs:8.1f}")
    result = {
        "bench": "rosbag",
        "messages": n,
        "bag_mb": round(info["bag_mb"], 2),
        "peer_deserialize_s": round(peer_s, 4),
        "driver_s": round(drv_s, 4),
        "pipeline_s": round(run_s, 4),
        "driver_mb_s": round(info["bag_mb"] / drv_s, 1),
        "ratio_driver_vs_deserialize": round(peer_s / drv_s, 3),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
