"""Pose2Sim ``Calib.toml`` and aniposelib ``calibration.toml``.

Both are TOML files with one table per camera (``[cam_01]`` ...) and a ``[metadata]`` table:

* ``name``: the camera's id (used as the sensor id on reading).
* ``size = [width, height]`` in pixels (floats in Pose2Sim's files, e.g. ``[1088.0, 1920.0]`` is a
  1088 px wide, 1920 px tall portrait image).
* ``matrix``: OpenCV's 3x3 camera matrix K (pixels).
* ``distortions``: OpenCV's distortion vector. Pose2Sim writes 4 terms ``[k1, k2, p1, p2]`` (or the
  4 ``cv2.fisheye`` terms ``[k1, k2, k3, k4]`` when ``fisheye = true``); aniposelib writes 5
  ``[k1, k2, p1, p2, k3]`` (its ``CameraFisheye`` writes 4 fisheye terms).
* ``rotation``: a **rotation vector** (axis-angle, radians) of OpenCV's ``camera_from_world``;
  ``translation``: ``camera_from_world``'s translation (``rvec, tvec`` as given by
  ``cv2.solvePnP``). The camera's axes are OpenCV's (x right, y down, z forward).
* Units of ``translation``: Pose2Sim writes **metres**; aniposelib writes whatever unit the
  board's square length was given in, by convention **millimetres** in anipose projects. The
  reader's ``length_unit_m`` option says how many metres one file unit is (default: 1.0 for
  Pose2Sim, 0.001 for aniposelib); the writer scales by the same factor.
* Pose2Sim writes ``fisheye = false|true`` for every camera; aniposelib writes ``fisheye = true``
  only for its fisheye cameras — a ``fisheye = false`` (or float sizes) means Pose2Sim when sniffing.
  aniposelib names its tables ``cam_0, cam_1 ...`` and its reader sorts them by table name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

__all__ = ["load_aniposelib", "load_pose2sim", "load_toml", "save_aniposelib", "save_pose2sim", "save_toml"]

_DEFAULT_UNIT = {"pose2sim": 1.0, "aniposelib": 1e-3}


def load_toml(path: Path, *, flavour: str, length_unit_m: float | None = None) -> RigCalibration:
    """Read a Pose2Sim (``flavour='pose2sim'``) or aniposelib (``'aniposelib'``) calibration TOML."""
    unit = _DEFAULT_UNIT[flavour] if length_unit_m is None else float(length_unit_m)
    data: dict[str, Any] = toml.loads(Path(path).read_text())
    sensors: dict[str, SensorCalibration] = {}
    for key, table in data.items():
        if key == "metadata" or not isinstance(table, dict):
            continue
        try:
            name = str(table.get("name", key))
            width, height = (round(float(v)) for v in table["size"])
            k = np.asarray(table["matrix"], dtype=np.float64)
            dist = np.asarray(table["distortions"], dtype=np.float64)
            rvec = np.asarray(table["rotation"], dtype=np.float64)
            tvec = np.asarray(table["translation"], dtype=np.float64) * unit
        except KeyError as e:
            raise ConfigError(f"camera table lacks key {e.args[0]!r}", field_path=key, source=str(path)) from None
        fisheye = bool(table.get("fisheye", False))
        cam = fisheye_from_opencv(k, dist, width, height) if fisheye else pinhole_from_opencv(k, dist, width, height)
        sensors[name] = SensorCalibration(camera=cam, world_from_sensor=world_from_camera_rt(rvec, tvec))
    if not sensors:
        raise ConfigError("no camera table found", source=str(path))
    return RigCalibration(sensors=sensors)


def save_toml(cal: RigCalibration, path: Path, *, flavour: str, length_unit_m: float | None = None) -> None:
    """Write a Pose2Sim or aniposelib TOML (pinhole and fisheye cameras)."""
    unit = _DEFAULT_UNIT[flavour] if length_unit_m is None else float(length_unit_m)
    out: dict[str, Any] = {}
    for sid, cam, wfc in cameras_of(cal, flavour, (PinholeCamera, KannalaBrandtCamera)):
        r, t = camera_from_world_rt(wfc)
        if isinstance(cam, KannalaBrandtCamera):
            dist = [cam.k1, cam.k2, cam.k3, cam.k4]
        else:
            assert isinstance(cam, PinholeCamera)
            d = opencv_dist(cam)
            if flavour == "pose2sim" and d.size == 5 and d[4] == 0.0:
                d = d[:4]
            if flavour == "aniposelib" and d.size > 5:
                raise ConfigError(
                    "aniposelib stores 5 distortion terms; this camera uses the rational k4..k6",
                    field_path=f"sensors.{sid}.camera",
                )
            dist = [float(x) for x in d]
        table: dict[str, Any] = {
            "name": sid,
            "size": [float(cam.width), float(cam.height)] if flavour == "pose2sim" else [cam.width, cam.height],
            "matrix": opencv_k(cam).tolist(),
            "distortions": dist,
            "rotation": [float(x) for x in rotvec_from_matrix(r)],
            "translation": [float(x) for x in t / unit],
        }
        if flavour == "pose2sim":
            table["fisheye"] = isinstance(cam, KannalaBrandtCamera)
            out[sid] = table
        else:
            if isinstance(cam, KannalaBrandtCamera):
                table["fisheye"] = True
            out[f"cam_{len(out)}"] = table
    out["metadata"] = {"adjusted": False, "error": 0.0}
    Path(path).write_text(toml.dumps(out))


def load_pose2sim(path: Path, *, length_unit_m: float | None = None) -> RigCalibration:
    """Read a Pose2Sim ``Calib.toml`` (metres)."""
    return load_toml(path, flavour="pose2sim", length_unit_m=length_unit_m)


def save_pose2sim(cal: RigCalibration, path: Path, *, length_unit_m: float | None = None) -> None:
    """Write a Pose2Sim ``Calib.toml``."""
    save_toml(cal, path, flavour="pose2sim", length_unit_m=length_unit_m)


def load_aniposelib(path: Path, *, length_unit_m: float | None = None) -> RigCalibration:
    """Read an aniposelib / anipose ``calibration.toml`` (millimetres unless ``length_unit_m``)."""
    return load_toml(path, flavour="aniposelib", length_unit_m=length_unit_m)


def save_aniposelib(cal: RigCalibration, path: Path, *, length_unit_m: float | None = None) -> None:
    """Write an aniposelib / anipose ``calibration.toml``."""
    save_toml(cal, path, flavour="aniposelib", length_unit_m=length_unit_m)
