"""Kalibr camchain YAML (``camchain.yaml`` / ``camchain-imucam.yaml``).

One map per camera, ``cam0, cam1, ...`` in chain order:

* ``camera_model``: ``pinhole`` or ``ds`` (double sphere); ``intrinsics``: ``[fu, fv, pu, pv]``
  (pixels) for pinhole, ``[xi, alpha, fu, fv, pu, pv]`` for ``ds``. (Kalibr's ``omni`` (Mei)
  and ``eucm`` models have no counterpart in the SDK's schema and are refused with a clear error.)
* ``distortion_model``: ``radtan`` (``[k1, k2, r1, r2]`` = OpenCV's k1, k2, p1, p2),
  ``equidistant`` (``[k1, k2, k3, k4]``, the Kannala–Brandt / cv2.fisheye model) or ``none``.
* ``resolution: [width, height]`` in pixels.
* ``T_cn_cnm1``: the 4x4 transform **cam_n from cam_(n-1)** (metres), on every camera but the
  first; Kalibr stores no world frame. ``T_cam_imu`` (camera from IMU) when an IMU was
  calibrated. ``rostopic``, ``cam_overlaps``: kept for Kalibr, ignored on reading.

Reading puts the world at cam0 unless ``world_from_cam0`` is given (e.g. from another file).
Writing the chain of a rig whose world is not cam0 keeps every relative pose; reading it back
then gives the same projections once points are expressed in cam0's frame (the world frame of
the rig is the one thing this format cannot carry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sensorfusion import ConfigError
from sensorfusion.schema import (
    DoubleSphereCamera,
    KannalaBrandtCamera,
    PinholeCamera,
    RigCalibration,
    SensorCalibration,
    Transform,
)

from ._common import cameras_of

__all__ = ["load_kalibr", "save_kalibr"]


def load_kalibr(path: Path, *, world_from_cam0: Transform | None = None) -> RigCalibration:
    """Read a Kalibr camchain; the world is cam0 unless ``world_from_cam0`` is given."""
    try:
        data: Any = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"not valid YAML: {e}", source=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a map of cam0, cam1, ...", source=str(path))
    keys = sorted((k for k in data if str(k).startswith("cam") and str(k)[3:].isdigit()), key=lambda k: int(str(k)[3:]))
    if not keys:
        raise ConfigError("no cam0, cam1 ... entries", source=str(path))
    world_from_prev = (world_from_cam0 or Transform()).matrix
    sensors: dict[str, SensorCalibration] = {}
    for n, key in enumerate(keys):
        c = data[key]
        model, dmodel = str(c.get("camera_model", "pinhole")), str(c.get("distortion_model", "none"))
        intr = [float(x) for x in c["intrinsics"]]
        dist = [float(x) for x in c.get("distortion_coeffs", [])]
        width, height = (int(x) for x in c["resolution"])
        cam: PinholeCamera | KannalaBrandtCamera | DoubleSphereCamera
        if model == "pinhole" and dmodel in ("radtan", "none"):
            d = (dist + [0.0] * 4)[:4]
            cam = PinholeCamera(width=width, height=height, fx=intr[0], fy=intr[1], cx=intr[2], cy=intr[3],
                                k1=d[0], k2=d[1], p1=d[2], p2=d[3])  # fmt: skip
        elif model == "pinhole" and dmodel == "equidistant":
            d = (dist + [0.0] * 4)[:4]
            cam = KannalaBrandtCamera(width=width, height=height, fx=intr[0], fy=intr[1], cx=intr[2], cy=intr[3],
                                      k1=d[0], k2=d[1], k3=d[2], k4=d[3])  # fmt: skip
        elif model == "ds" and dmodel == "none":
            cam = DoubleSphereCamera(width=width, height=height, xi=intr[0], alpha=intr[1], fx=intr[2], fy=intr[3],
                                     cx=intr[4], cy=intr[5])  # fmt: skip
        else:
            raise ConfigError(
                "unsupported Kalibr camera/distortion model",
                field_path=f"{key}.camera_model",
                value=f"{model}-{dmodel}",
                choices=["pinhole-radtan", "pinhole-equidistant", "pinhole-none", "ds-none"],
                source=str(path),
            )
        if n > 0:
            if "T_cn_cnm1" not in c:
                raise ConfigError("missing T_cn_cnm1", field_path=key, source=str(path))
            cur_from_prev = np.asarray(c["T_cn_cnm1"], dtype=np.float64)
            world_from_prev = world_from_prev @ np.linalg.inv(cur_from_prev)
        sensors[str(key)] = SensorCalibration(camera=cam, world_from_sensor=Transform.from_matrix(world_from_prev))
    return RigCalibration(sensors=sensors)


def save_kalibr(cal: RigCalibration, path: Path) -> None:
    """Write a Kalibr camchain (cameras renamed cam0.. in the rig's order; the world frame is dropped)."""
    cams = cameras_of(cal, "kalibr", (PinholeCamera, KannalaBrandtCamera, DoubleSphereCamera))
    out: dict[str, Any] = {}
    prev: np.ndarray | None = None
    for n, (_sid, cam, wfc) in enumerate(cams):
        entry: dict[str, Any] = {}
        if isinstance(cam, DoubleSphereCamera):
            entry.update(camera_model="ds", intrinsics=[cam.xi, cam.alpha, cam.fx, cam.fy, cam.cx, cam.cy],
                         distortion_model="none", distortion_coeffs=[])  # fmt: skip
        elif isinstance(cam, KannalaBrandtCamera):
            entry.update(camera_model="pinhole", intrinsics=[cam.fx, cam.fy, cam.cx, cam.cy],
                         distortion_model="equidistant", distortion_coeffs=[cam.k1, cam.k2, cam.k3, cam.k4])  # fmt: skip
        else:
            assert isinstance(cam, PinholeCamera)
            if cam.k3 or cam.k4 or cam.k5 or cam.k6:
                raise ConfigError(
                    "Kalibr radtan stores k1, k2, p1, p2 only; this camera has k3..k6", field_path=f"sensors.{_sid}"
                )
            entry.update(camera_model="pinhole", intrinsics=[cam.fx, cam.fy, cam.cx, cam.cy],
                         distortion_model="radtan", distortion_coeffs=[cam.k1, cam.k2, cam.p1, cam.p2])  # fmt: skip
        entry["resolution"] = [cam.width, cam.height]
        entry["rostopic"] = f"/{_sid}/image_raw"
        if prev is not None:
            cur_from_prev = np.linalg.inv(wfc.matrix) @ prev
            entry["T_cn_cnm1"] = [[float(x) for x in row] for row in cur_from_prev]
        prev = wfc.matrix
        entry["intrinsics"] = [float(x) for x in entry["intrinsics"]]
        entry["distortion_coeffs"] = [float(x) for x in entry["distortion_coeffs"]]
        out[f"cam{n}"] = entry
    Path(path).write_text(yaml.safe_dump(out, sort_keys=False))
