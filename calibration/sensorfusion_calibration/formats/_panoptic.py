"""CMU Panoptic Studio calibration JSON (``calibration_<sequence>.json``).

``{"calibDataSource": ..., "cameras": [{"name": "00_03", "type": "hd"|"vga"|"kinect-color"|...,
"resolution": [width, height], "panel", "node", "K": 3x3, "distCoef": [k1, k2, p1, p2, k3],
"R": 3x3, "t": [[x], [y], [z]]}]}``.

``R`` and ``t`` are OpenCV's **camera_from_world** (rotation matrix, not a vector), ``t`` in
**centimetres** (the Panoptic world is in cm, y pointing down towards the floor); the reader
converts to metres and the writer back to centimetres. ``distCoef`` holds 5 OpenCV terms.
Sensor ids are the camera names; ``types`` selects which kinds of camera to read (all by default).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion import ConfigError
from sensorfusion.schema import PinholeCamera, RigCalibration, SensorCalibration

from ._common import camera_from_world_rt, cameras_of, opencv_dist, opencv_k, pinhole_from_opencv, world_from_camera_rt

__all__ = ["load_panoptic", "save_panoptic"]


def load_panoptic(path: Path, *, types: Sequence[str] | None = None) -> RigCalibration:
    """Read a Panoptic calibration JSON (optionally only cameras whose ``type`` is in ``types``)."""
    data: Any = json.loads(Path(path).read_text())
    sensors: dict[str, SensorCalibration] = {}
    for c in data.get("cameras", []):
        if types is not None and c.get("type") not in types:
            continue
        w, h = c["resolution"]
        cam = pinhole_from_opencv(np.asarray(c["K"]), c.get("distCoef", []), int(w), int(h))
        t_m = np.asarray(c["t"], dtype=np.float64).reshape(3) / 100.0
        sensors[str(c["name"])] = SensorCalibration(
            camera=cam, world_from_sensor=world_from_camera_rt(np.asarray(c["R"]), t_m)
        )
    if not sensors:
        raise ConfigError(
            "no camera (of the requested types) in the file", value=list(types) if types else None, source=str(path)
        )
    return RigCalibration(sensors=sensors)


def save_panoptic(cal: RigCalibration, path: Path) -> None:
    """Write a Panoptic calibration JSON (pinhole cameras, 5 distortion terms, cm)."""
    cameras = []
    for sid, cam, wfc in cameras_of(cal, "panoptic", (PinholeCamera,)):
        assert isinstance(cam, PinholeCamera)
        d = opencv_dist(cam)
        if d.size > 5:
            raise ConfigError(
                "Panoptic stores 5 distortion terms; this camera uses k4..k6", field_path=f"sensors.{sid}"
            )
        r, t = camera_from_world_rt(wfc)
        cameras.append({
            "name": sid, "type": "hd", "resolution": [cam.width, cam.height],
            "K": opencv_k(cam).tolist(), "distCoef": d.tolist(), "R": r.tolist(),
            "t": [[float(x) * 100.0] for x in t],
        })  # fmt: skip
    Path(path).write_text(json.dumps({"calibDataSource": "sensorfusion", "cameras": cameras}, indent=1))
