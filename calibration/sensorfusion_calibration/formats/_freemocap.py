"""FreeMoCap's camera calibration TOML (``*_camera_calibration.toml``).

FreeMoCap extends aniposelib's ``CameraGroup`` file: one table per camera (``[cam_0]``... in
FreeMoCap 1.x, the camera id in 2.x) with

* ``name`` (and in 2.x ``id``, ``index``): the camera's id, used as the sensor id;
* ``size = [width, height]``, ``matrix`` (3x3 K, pixels), ``distortions`` (OpenCV's
  ``k1, k2, p1, p2, k3``);
* ``rotation`` (rotation vector, radians) and ``translation``: OpenCV's **camera_from_world**,
  in **millimetres** (FreeMoCap gives the ChArUco square length in mm);
* ``world_orientation`` (3x3, **camera -> world**) and ``world_position`` (the camera centre,
  mm): the same pose the other way round, for viewers. They are written consistent with
  ``rotation``/``translation``; on reading, ``rotation``/``translation`` are authoritative and a
  disagreement of more than 1e-6 (rotation) or 1e-3 mm is logged.

A ``[metadata]`` table holds FreeMoCap's notes (board, ``groundplane_calibration``,
reprojection error); it is kept out of the SDK's calibration.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import toml

from sensorfusion import ConfigError
from sensorfusion.schema import PinholeCamera, RigCalibration, SensorCalibration

from ._common import (
    camera_from_world_rt,
    cameras_of,
    opencv_dist,
    opencv_k,
    pinhole_from_opencv,
    rodrigues,
    rotvec_from_matrix,
    world_from_camera_rt,
)
from ._sniff import toml_camera_tables

__all__ = ["load_freemocap", "save_freemocap"]

log = logging.getLogger("sensorfusion.calibration")


def _natural(key: str) -> tuple[str, int]:
    """``cam_10`` after ``cam_2``."""
    head = key.rstrip("0123456789")
    tail = key[len(head) :]
    return head, int(tail) if tail else -1


def load_freemocap(path: Path, *, length_unit_m: float = 1e-3) -> RigCalibration:
    """Read a FreeMoCap calibration TOML (lengths in millimetres unless ``length_unit_m`` says otherwise)."""
    data: dict[str, Any] = toml.loads(Path(path).read_text(encoding="utf-8"))
    sensors: dict[str, SensorCalibration] = {}
    tables = toml_camera_tables(data)
    for key in sorted(tables, key=lambda k: (tables[k].get("index", 0), _natural(k))):
        table = tables[key]
        try:
            name = str(table.get("id", table.get("name", key)))
            width, height = (round(float(v)) for v in table["size"])
            k = np.asarray(table["matrix"], dtype=np.float64)
            rvec = np.asarray(table["rotation"], dtype=np.float64).reshape(3)
            tvec = np.asarray(table["translation"], dtype=np.float64).reshape(3)
            dist = np.asarray(table["distortions"], dtype=np.float64)
        except KeyError as e:
            raise ConfigError(f"camera table lacks key {e.args[0]!r}", field_path=key, source=str(path)) from None
        if "world_position" in table and "world_orientation" in table:
            r = rodrigues(rvec)
            pos = np.asarray(table["world_position"], dtype=np.float64).reshape(3)
            ori = np.asarray(table["world_orientation"], dtype=np.float64).reshape(3, 3)
            if np.abs(ori - r.T).max() > 1e-6 or np.abs(pos + r.T @ tvec).max() > 1e-3:
                log.warning("%s: camera %s: world_position/world_orientation disagree with rotation/translation; "
                            "using rotation/translation", path, name)  # fmt: skip
        cam = pinhole_from_opencv(k, dist, width, height)
        sensors[name] = SensorCalibration(
            camera=cam, world_from_sensor=world_from_camera_rt(rvec, tvec * length_unit_m)
        )
    if not sensors:
        raise ConfigError("no camera table found", source=str(path))
    return RigCalibration(sensors=sensors)


def save_freemocap(cal: RigCalibration, path: Path, *, length_unit_m: float = 1e-3) -> None:
    """Write FreeMoCap's layout (pinhole cameras with k1, k2, p1, p2, k3)."""
    out: dict[str, Any] = {}
    for index, (sid, cam, wfc) in enumerate(cameras_of(cal, "freemocap", (PinholeCamera,))):
        assert isinstance(cam, PinholeCamera)
        d = opencv_dist(cam)
        if d.size > 5:
            raise ConfigError(
                "the freemocap format stores 5 distortion terms; this camera uses the rational k4..k6",
                field_path=f"sensors.{sid}.camera",
            )
        r, t = camera_from_world_rt(wfc)
        out[f"cam_{index}"] = {
            "name": sid,
            "id": sid,
            "index": index,
            "size": [cam.width, cam.height],
            "matrix": opencv_k(cam).tolist(),
            "distortions": [float(x) for x in d],
            "rotation": [float(x) for x in rotvec_from_matrix(r)],
            "translation": [float(x) for x in t / length_unit_m],
            "world_orientation": r.T.tolist(),
            "world_position": [float(x) for x in np.asarray(wfc.translation_m) / length_unit_m],
        }
    out["metadata"] = {"written_by": "sensorfusion"}
    Path(path).write_text(toml.dumps(out), encoding="utf-8")
