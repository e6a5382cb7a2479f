"""VoxelPose / mmpose calibration JSON of the Shelf and Campus datasets (``calibration_shelf.json``,
``calibration_campus.json``).

One object per camera, keyed by its id (``"0"``, ``"1"``...)::

    {"0": {"R": 3x3, "T": [[x], [y], [z]], "fx": .., "fy": .., "cx": .., "cy": ..,
           "k": [[k1], [k2], [k3]], "p": [[p1], [p2]]}}

* ``R`` is the rotation of **camera_from_world** (a point's camera coordinates are
  ``R @ (X - T)``); ``T`` is the **camera centre in the world, in millimetres** - not
  OpenCV's ``t`` (which is ``-R @ T``).
* ``k`` are the radial terms and ``p`` the tangential terms of OpenCV's Brown-Conrady model
  (VoxelPose's ``project_point_radial`` adds ``x * 2 (p1 y + p2 x) + p2 r^2`` to ``x``: OpenCV's
  ``p1``, ``p2`` in OpenCV's order). ``k`` and ``p`` may be absent (no distortion).
* The image size is not stored. The reader takes it from ``image_size=(width, height)``, else
  from the dataset the file is named after (Shelf: 1032x776, Campus: 360x288), else it
  estimates ``(2 cx, 2 cy)`` rounded up and logs that it did. Projections do not depend on it.
* The rotations are written to 6 decimals in the published files (orthonormal to ~1e-6): the
  reader re-orthonormalises them (the nearest rotation, by SVD).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion import ConfigError
from sensorfusion.schema import PinholeCamera, RigCalibration, SensorCalibration

from ._common import _orthonormalize, camera_from_world_rt, cameras_of, world_from_camera_rt

__all__ = ["DATASET_IMAGE_SIZES", "load_voxelpose", "save_voxelpose"]

log = logging.getLogger("sensorfusion.calibration")

#: image size (width, height) of the datasets whose calibrations use this format
DATASET_IMAGE_SIZES = {"shelf": (1032, 776), "campus": (360, 288)}


def _column(value: Any, n: int, what: str, cam: str) -> np.ndarray:
    a = np.asarray(value if value is not None else np.zeros(n), dtype=np.float64).ravel()
    if a.size != n:
        raise ConfigError(f"'{what}' must hold {n} numbers, got {a.size}", field_path=f"{cam}.{what}")
    return a


def _image_size(path: Path, cam: dict[str, Any], image_size: tuple[int, int] | None, sid: str) -> tuple[int, int]:
    if image_size is not None:
        return int(image_size[0]), int(image_size[1])
    stem = path.stem.lower()
    for dataset, size in DATASET_IMAGE_SIZES.items():
        if dataset in stem:
            return size
    w, h = math.ceil(2 * float(cam["cx"])), math.ceil(2 * float(cam["cy"]))
    log.warning(
        "%s: camera %s: no image size in the file; estimated %dx%d from the principal point (pass image_size=)",
        path,
        sid,
        w,
        h,
    )
    return w, h


def load_voxelpose(
    path: Path, *, image_size: tuple[int, int] | None = None, length_unit_m: float = 1e-3
) -> RigCalibration:
    """Read a VoxelPose / mmpose Shelf-Campus calibration JSON (``T`` in millimetres by default)."""
    data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not data:
        raise ConfigError("expected an object of cameras keyed by id", source=str(path))
    sensors: dict[str, SensorCalibration] = {}
    for sid, cam in data.items():
        if not isinstance(cam, dict):
            raise ConfigError("a camera entry must be an object", field_path=str(sid), source=str(path))
        try:
            r_raw = np.asarray(cam["R"], dtype=np.float64).reshape(3, 3)
            r = _orthonormalize(r_raw)  # refused beyond ROTATION_TOLERANCE
            centre_m = _column(cam["T"], 3, "T", sid) * float(length_unit_m)
            k = _column(cam.get("k"), 3, "k", sid)
            p = _column(cam.get("p"), 2, "p", sid)
            fx, fy, cx, cy = (float(cam[key]) for key in ("fx", "fy", "cx", "cy"))
        except KeyError as e:
            raise ConfigError(f"camera entry lacks key {e.args[0]!r}", field_path=str(sid), source=str(path)) from None
        width, height = _image_size(Path(path), cam, image_size, str(sid))
        camera = PinholeCamera(
            width=width, height=height, fx=fx, fy=fy, cx=cx, cy=cy,
            k1=float(k[0]), k2=float(k[1]), k3=float(k[2]), p1=float(p[0]), p2=float(p[1]),
        )  # fmt: skip
        # camera_from_world = [R | -R C]
        sensors[str(sid)] = SensorCalibration(
            camera=camera, world_from_sensor=world_from_camera_rt(r_raw, -r @ centre_m)
        )
    return RigCalibration(sensors=sensors)


def save_voxelpose(cal: RigCalibration, path: Path, *, length_unit_m: float = 1e-3) -> None:
    """Write the Shelf-Campus layout (pinhole cameras with at most k1..k3, p1, p2)."""
    out: dict[str, Any] = {}
    for sid, cam, wfc in cameras_of(cal, "voxelpose", (PinholeCamera,)):
        assert isinstance(cam, PinholeCamera)
        if cam.k4 or cam.k5 or cam.k6:
            raise ConfigError(
                "the voxelpose format stores k1..k3, p1, p2; this camera uses the rational k4..k6",
                field_path=f"sensors.{sid}.camera",
            )
        r, _ = camera_from_world_rt(wfc)
        centre = np.asarray(wfc.translation_m, dtype=np.float64) / float(length_unit_m)
        out[sid] = {
            "R": r.tolist(),
            "T": [[float(x)] for x in centre],
            "fx": cam.fx,
            "fy": cam.fy,
            "cx": cam.cx,
            "cy": cam.cy,
            "k": [[cam.k1], [cam.k2], [cam.k3]],
            "p": [[cam.p1], [cam.p2]],
        }
    Path(path).write_text(json.dumps(out, indent=2), encoding="utf-8")
