"""caliscope's project calibration: ``config.toml`` and its successor ``camera_array.toml``.

``config.toml`` (caliscope up to 0.5, also known as pyxy3d) holds project settings at the top
(``fps_recording``, ``[charuco]``, ``[capture_volume]``...) and one table per camera::

    [cam_0]
    cam_id = 0            # "port" in older versions
    size = [1280, 720]
    matrix = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    distortions = [k1, k2, p1, p2, k3]      # 4 cv2.fisheye terms when fisheye = true
    rotation = [rx, ry, rz]                 # or a 3x3 matrix in older files
    translation = [tx, ty, tz]
    error = 0.19                            # intrinsic RMS (px)
    ignore = false

``camera_array.toml`` (caliscope 0.6+) has the same keys under ``[cameras.<cam_id>]``.
``rotation``/``translation`` are OpenCV's **camera_from_world** (caliscope projects with
``[R | t]``), in **metres**. Sensor ids are ``cam_<cam_id>``. A camera without ``matrix`` is not
calibrated yet and is left out; one marked ``ignore = true`` too unless ``include_ignored``;
one without ``rotation``/``translation`` (not posed yet) is kept at the world origin only when
no camera is posed (an intrinsics-only project), else left out. Every camera left out is logged.

The writer picks the layout from the file name (``camera_array.toml``: the new one, anything
else: ``config.toml``'s) or ``layout=``. It writes rotation vectors (what caliscope itself
writes since 2024; its readers take both), ``port`` beside ``cam_id`` so both generations read
the file, and ``error = 0.0``/``grid_count = 0`` where the SDK has no intrinsic RMS to give
(caliscope reads a camera's intrinsics only when ``error`` is present).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import toml

from sensorfusion import ConfigError
from sensorfusion.schema import KannalaBrandtCamera, PinholeCamera, RigCalibration, SensorCalibration

from ._common import (
    camera_from_world_rt,
    cameras_of,
    fisheye_from_opencv,
    opencv_dist,
    opencv_k,
    pinhole_from_opencv,
    rotvec_from_matrix,
    world_from_camera_rt,
)

__all__ = ["load_caliscope", "save_caliscope"]

log = logging.getLogger("sensorfusion.calibration")


def _camera_tables(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    cams = data.get("cameras")
    if isinstance(cams, dict):
        return [(f"cameras.{k}", v) for k, v in cams.items() if isinstance(v, dict)]
    return [(k, v) for k, v in data.items() if k.startswith("cam_") and isinstance(v, dict)]


def load_caliscope(path: Path, *, include_ignored: bool = False) -> RigCalibration:
    """Read caliscope's ``config.toml`` or ``camera_array.toml``."""
    data: dict[str, Any] = toml.loads(Path(path).read_text(encoding="utf-8"))
    posed: dict[str, SensorCalibration] = {}
    unposed: dict[str, SensorCalibration] = {}
    left_out: list[str] = []
    for key, t in _camera_tables(data):
        cam_id = t.get("cam_id", t.get("port", key.rsplit("_", 1)[-1].rsplit(".", 1)[-1]))
        sid = f"cam_{cam_id}"
        if t.get("ignore", False) and not include_ignored:
            left_out.append(f"{sid} (ignore = true)")
            continue
        if t.get("matrix") is None:
            left_out.append(f"{sid} (no intrinsics)")
            continue
        try:
            width, height = (round(float(v)) for v in t["size"])
        except KeyError:
            raise ConfigError("camera table lacks key 'size'", field_path=key, source=str(path)) from None
        k = np.asarray(t["matrix"], dtype=np.float64)
        dist = np.asarray(t.get("distortions") or [], dtype=np.float64)
        fisheye = bool(t.get("fisheye", False))
        cam = fisheye_from_opencv(k, dist, width, height) if fisheye else pinhole_from_opencv(k, dist, width, height)
        rot, trans = t.get("rotation"), t.get("translation")
        if rot is None or trans is None:
            unposed[sid] = SensorCalibration(camera=cam)
            continue
        r = np.asarray(rot, dtype=np.float64)
        if r.shape not in ((3,), (3, 1), (1, 3), (3, 3)):
            raise ConfigError("rotation must be a rotation vector or a 3x3 matrix", field_path=f"{key}.rotation",
                              value=list(r.shape), source=str(path))  # fmt: skip
        posed[sid] = SensorCalibration(
            camera=cam, world_from_sensor=world_from_camera_rt(r, np.asarray(trans, dtype=np.float64))
        )
    if posed and unposed:
        left_out += [f"{sid} (not posed)" for sid in unposed]
        unposed = {}
    if left_out:
        log.warning("%s: cameras left out: %s", path, ", ".join(left_out))
    sensors = {**posed, **unposed}
    if not sensors:
        raise ConfigError("no calibrated camera in the file", value=left_out or None, source=str(path))
    return RigCalibration(sensors=sensors)


def _cam_ids(ids: list[str]) -> list[int]:
    """caliscope's integer ids: ``cam_3`` -> 3 (and ``3`` -> 3); others numbered after them."""
    nums: list[int | None] = []
    for sid in ids:
        m = re.fullmatch(r"(?:cam_?)?(\d+)", sid)
        nums.append(int(m.group(1)) if m else None)
    taken = {n for n in nums if n is not None}
    if len(taken) != sum(n is not None for n in nums):  # duplicates such as cam1 / cam_1
        nums, taken = [None] * len(ids), set()
    nxt = 0
    out = []
    for n in nums:
        if n is None:
            while nxt in taken:
                nxt += 1
            n = nxt
            taken.add(n)
        out.append(n)
    return out


def save_caliscope(cal: RigCalibration, path: Path, *, layout: Literal["config", "camera_array"] | None = None) -> None:
    """Write ``config.toml``'s layout, or ``camera_array.toml``'s (by file name or ``layout``)."""
    if layout is None:
        layout = "camera_array" if Path(path).name == "camera_array.toml" else "config"
    if layout not in ("config", "camera_array"):
        raise ConfigError(
            "unknown caliscope layout", field_path="layout", value=layout, choices=["config", "camera_array"]
        )
    cams = cameras_of(cal, "caliscope", (PinholeCamera, KannalaBrandtCamera))
    tables: dict[str, Any] = {}
    for cam_id, (sid, cam, wfc) in zip(_cam_ids([c[0] for c in cams]), cams, strict=True):
        if isinstance(cam, KannalaBrandtCamera):
            dist = [cam.k1, cam.k2, cam.k3, cam.k4]
        else:
            assert isinstance(cam, PinholeCamera)
            d = opencv_dist(cam)
            if d.size > 5:
                raise ConfigError(
                    "caliscope stores 5 distortion terms; this camera uses the rational k4..k6",
                    field_path=f"sensors.{sid}.camera",
                )
            dist = [float(x) for x in d]
        r, t = camera_from_world_rt(wfc)
        table: dict[str, Any] = {
            "cam_id": cam_id,
            "port": cam_id,
            "size": [cam.width, cam.height],
            "rotation_count": 0,
            "error": 0.0,
            "grid_count": 0,
            "ignore": False,
            "matrix": opencv_k(cam).tolist(),
            "distortions": dist,
            "rotation": [float(x) for x in rotvec_from_matrix(r)],
            "translation": [float(x) for x in t],
            "fisheye": isinstance(cam, KannalaBrandtCamera),
        }
        tables[str(cam_id) if layout == "camera_array" else f"cam_{cam_id}"] = table
    out: dict[str, Any] = {"cameras": tables} if layout == "camera_array" else {"camera_count": len(tables), **tables}
    Path(path).write_text(toml.dumps(out), encoding="utf-8")
