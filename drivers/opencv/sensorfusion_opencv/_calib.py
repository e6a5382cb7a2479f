"""Reading camera calibrations for OpenCV sources.

Two file forms are read:

* the SDK's own :class:`~sensorfusion.RigCalibration` as JSON or YAML (``{sensors: {...}}``);
* the TOML written by Pose2Sim and anipose: one table per camera with ``name``, ``size``
  (``[width, height]`` px), ``matrix`` (3x3 K), ``distortions`` (``[k1, k2, p1, p2]``, an
  optional fifth value is k3), ``rotation`` (Rodrigues vector, radians) and ``translation``
  (metres) of the *world-to-camera* transform, and ``fisheye`` (true: Kannala–Brandt k1..k4).
  Tables without ``matrix`` (``[metadata]``) are skipped. The sensor id is the table's
  ``name`` (falling back to the table key).

:func:`find_camera` looks a view's sensor id up in such a calibration: exact match, then a
match ignoring case and any ``_``/``-``/``.`` (``cam01`` finds ``cam_01``).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from sensorfusion import ConfigError, RigCalibration, SensorCalibration, Transform
from sensorfusion.schema import KannalaBrandtCamera, PinholeCamera

__all__ = ["find_camera", "load_calibration_file", "rig_calibration_from_toml"]


def _rodrigues(rotvec: np.ndarray) -> np.ndarray:
    theta = float(np.linalg.norm(rotvec))
    if theta < 1e-15:
        return np.eye(3)
    k = rotvec / theta
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    rot: np.ndarray = np.eye(3) + np.sin(theta) * kx + (1.0 - np.cos(theta)) * (kx @ kx)
    return rot


def rig_calibration_from_toml(data: dict[str, Any], *, field_path: str = "calibration") -> RigCalibration:
    """A :class:`RigCalibration` from a parsed Pose2Sim/anipose TOML document."""
    sensors: dict[str, SensorCalibration] = {}
    for key, table in data.items():
        if not isinstance(table, dict) or "matrix" not in table:
            continue
        where = f"{field_path}[{key}]"
        try:
            name = str(table.get("name", key))
            width, height = (round(float(v)) for v in table["size"])
            k = np.asarray(table["matrix"], dtype=np.float64)
            dist = [float(x) for x in table.get("distortions", [])]
            rotvec = np.asarray(table["rotation"], dtype=np.float64).reshape(3)
            t = np.asarray(table["translation"], dtype=np.float64).reshape(3)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed camera table: {exc!r}", field_path=where) from None
        if k.shape != (3, 3):
            raise ConfigError("matrix must be 3x3", field_path=f"{where}.matrix", value=k.shape)
        cam_from_world = np.eye(4)
        cam_from_world[:3, :3] = _rodrigues(rotvec)
        cam_from_world[:3, 3] = t
        common = {"width": width, "height": height, "fx": k[0, 0], "fy": k[1, 1], "cx": k[0, 2], "cy": k[1, 2]}
        camera: PinholeCamera | KannalaBrandtCamera
        if bool(table.get("fisheye", False)):
            coeffs = dict(zip(("k1", "k2", "k3", "k4"), dist, strict=False))
            camera = KannalaBrandtCamera(**common, **coeffs)
        else:
            coeffs = dict(zip(("k1", "k2", "p1", "p2", "k3"), dist, strict=False))
            camera = PinholeCamera(**common, **coeffs)
        sensors[name] = SensorCalibration(
            camera=camera, world_from_sensor=Transform.from_matrix(np.linalg.inv(cam_from_world))
        )
    if not sensors:
        raise ConfigError("no camera table (with a 'matrix') in the TOML calibration", field_path=field_path)
    return RigCalibration(sensors=sensors)


def load_calibration_file(path: str | Path, *, field_path: str) -> RigCalibration:
    """Read a calibration file (``.toml``: Pose2Sim/anipose; ``.json``/``.yaml``/``.yml``: RigCalibration)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError("calibration file not found", field_path=field_path, value=str(path))
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            return rig_calibration_from_toml(tomllib.loads(p.read_text()), field_path=field_path)
        if suffix == ".json":
            data = json.loads(p.read_text())
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(p.read_text())
        else:
            raise ConfigError(
                "unknown calibration file type",
                field_path=field_path,
                value=str(path),
                choices=[".toml", ".json", ".yaml"],
            )
        return RigCalibration.model_validate(data)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"cannot read calibration file: {exc}", field_path=field_path, value=str(path)) from None


def _norm(name: str) -> str:
    return re.sub(r"[_\-.]", "", name).lower()


def find_camera(cal: RigCalibration, name: str, *, field_path: str) -> tuple[str, SensorCalibration]:
    """The calibration entry of sensor ``name`` (exact, then ignoring case and ``_-.``)."""
    if name in cal.sensors and cal.sensors[name].camera is not None:
        return name, cal.sensors[name]
    hits = [k for k, v in cal.sensors.items() if v.camera is not None and _norm(k) == _norm(name)]
    if len(hits) == 1:
        return hits[0], cal.sensors[hits[0]]
    raise ConfigError(
        f"no camera named {name!r} in the calibration" + (" (ambiguous)" if hits else ""),
        field_path=field_path,
        value=name,
        choices=sorted(k for k, v in cal.sensors.items() if v.camera is not None),
    )
