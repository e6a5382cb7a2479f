"""Project Aria device calibration: cameras as Fisheye624, mounted on the device.

Aria writes a device calibration as JSON (``CameraCalibrations``: per camera a ``Label``,
``Projection`` ``{"Name": "FisheyeRadTanThinPrism", "Params": [f, cu, cv, k0..k5, p0, p1,
s0..s3]}`` and ``T_Device_Camera`` ``{"Translation": [x, y, z], "UnitQuaternion": [w, [x, y,
z]]}``). MPS writes one such record per line in ``online_calibration.jsonl`` (the calibration
re-estimated over the recording); a ``.vrs`` file carries the factory calibration (read through
``projectaria-tools``, see :mod:`._vrs`).

As a :class:`~sensorfusion.schema.RigCalibration`: one sensor per camera, keyed by its label
(``camera-slam-left``), with a :class:`~sensorfusion.schema.Fisheye624Camera` (parameters copied
exactly) and a :class:`~sensorfusion.schema.DeviceMount` on the device (sensor id ``device``,
default ``aria``) with ``device_from_sensor = T_Device_Camera``. The JSON holds no image sizes;
they come from the label (SLAM 640x480, RGB 2880x2880, eye tracking 320x240) unless given, or
from an ``ImageSize: [w, h]`` key this SDK adds when it writes the format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion import ConfigError, MissingDependencyError
from sensorfusion.geometry import matrix_to_quaternion, pose_matrix, quaternion_to_matrix
from sensorfusion.schema import DeviceMount, RigCalibration, SensorCalibration, Transform

__all__ = [
    "ARIA_IMAGE_SIZES",
    "AriaCamera",
    "FISHEYE624_NAME",
    "aria_cameras_from_json",
    "aria_cameras_to_json",
    "detect_aria",
    "load_aria_calibration",
    "read_aria_camera_records",
    "rig_calibration",
    "save_aria_calibration",
    "sniff_aria",
]

FISHEYE624_NAME = "FisheyeRadTanThinPrism"

# full-resolution image size by label prefix (projectaria-tools reports the same for MPS JSON)
ARIA_IMAGE_SIZES: dict[str, tuple[int, int]] = {
    "camera-slam": (640, 480),
    "camera-rgb": (2880, 2880),
    "camera-et": (320, 240),
}


@dataclass(frozen=True)
class AriaCamera:
    """One camera of an Aria calibration, as the file holds it.

    Attributes:
        label: ``camera-slam-left``, ``camera-slam-right``, ``camera-rgb``...
        params: the 15 Fisheye624 parameters ``[f, cu, cv, k0..k5, p0, p1, s0..s3]``.
        width, height: image size in pixels.
        device_from_camera: ``(4, 4)`` ``T_Device_Camera``.
        serial: the camera module's serial number ("" when absent).
    """

    label: str
    params: tuple[float, ...]
    width: int
    height: int
    device_from_camera: np.ndarray
    serial: str = ""


def _size_for(label: str, sizes: Mapping[str, Sequence[int]] | None) -> tuple[int, int]:
    if sizes and label in sizes:
        w, h = sizes[label]
        return int(w), int(h)
    for prefix, size in ARIA_IMAGE_SIZES.items():
        if label.startswith(prefix):
            return size
    raise ConfigError(
        "unknown Aria camera label: its image size is not in the calibration; pass image_sizes",
        field_path="image_sizes",
        value=label,
        choices=sorted(ARIA_IMAGE_SIZES),
    )


def _transform(obj: Mapping[str, Any]) -> np.ndarray:
    t = [float(x) for x in obj["Translation"]]
    w, xyz = obj["UnitQuaternion"]
    q = np.array([float(xyz[0]), float(xyz[1]), float(xyz[2]), float(w)])
    m: np.ndarray = pose_matrix(quaternion_to_matrix(q), np.asarray(t))
    if not np.isfinite(m).all():
        raise ValueError(f"T_Device_Camera is not a finite rigid transform: {dict(obj)}")
    return m


def aria_cameras_from_json(
    record: Mapping[str, Any], *, image_sizes: Mapping[str, Sequence[int]] | None = None
) -> list[AriaCamera]:
    """The Fisheye624 cameras of one calibration record (``{"CameraCalibrations": [...]}``).

    A camera with another projection model is a :class:`~sensorfusion.ConfigError`.
    """
    out = []
    for cam in record["CameraCalibrations"]:
        label = str(cam["Label"])
        proj = cam["Projection"]
        if proj.get("Name") != FISHEYE624_NAME:
            raise ConfigError(
                f"camera {label}: projection model {proj.get('Name')!r} is not supported",
                field_path="Projection.Name",
                value=proj.get("Name"),
                choices=[FISHEYE624_NAME],
            )
        params = tuple(float(x) for x in proj["Params"])
        if len(params) != 15:
            raise ConfigError(
                f"camera {label}: Fisheye624 needs 15 parameters, got {len(params)}", field_path="Projection.Params"
            )
        if "ImageSize" in cam and not (image_sizes and label in image_sizes):
            w, h = (int(x) for x in cam["ImageSize"])
        else:
            w, h = _size_for(label, image_sizes)
        out.append(
            AriaCamera(label, params, w, h, _transform(cam["T_Device_Camera"]), str(cam.get("SerialNumber", "")))
        )
    return out


def aria_cameras_to_json(cameras: Sequence[AriaCamera]) -> dict[str, Any]:
    """A calibration record (``{"CameraCalibrations": [...]}``) holding ``cameras``."""
    recs = []
    for c in cameras:
        q = matrix_to_quaternion(c.device_from_camera[:3, :3])
        recs.append(
            {
                "Calibrated": True,
                "Label": c.label,
                "SerialNumber": c.serial,
                "ImageSize": [c.width, c.height],
                "Projection": {
                    "Name": FISHEYE624_NAME,
                    "Description": "see FisheyeRadTanThinPrism.h",
                    "Params": list(c.params),
                },
                "T_Device_Camera": {
                    "Translation": [float(x) for x in c.device_from_camera[:3, 3]],
                    "UnitQuaternion": [float(q[3]), [float(q[0]), float(q[1]), float(q[2])]],
                },
            }
        )
    return {"CameraCalibrations": recs}


def read_aria_camera_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The calibration records of a ``.json`` (one record) or ``.jsonl`` (one per line) file."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    stripped = text.strip()
    if not stripped:
        raise ConfigError("empty Aria calibration file", value=str(p))
    try:
        if p.suffix == ".jsonl" or ("\n" in stripped and not stripped.startswith("{\n")):
            try:
                records = [json.loads(line) for line in stripped.splitlines() if line.strip()]
            except json.JSONDecodeError:
                records = [json.loads(stripped)]
        else:
            records = [json.loads(stripped)]
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not an Aria calibration JSON: {exc}", value=str(p)) from None
    if not records or not all(isinstance(r, dict) and "CameraCalibrations" in r for r in records):
        raise ConfigError("not an Aria calibration: no CameraCalibrations record", value=str(p))
    return records


def rig_calibration(cameras: Sequence[AriaCamera], *, device: str = "aria") -> RigCalibration:
    """Cameras as mounted Fisheye624 sensors of a :class:`RigCalibration`, keyed by label."""
    from sensorfusion import schema

    fisheye624 = getattr(schema, "Fisheye624Camera", None)
    if fisheye624 is None:  # pragma: no cover - the core gains the model with the kernels work
        raise MissingDependencyError(
            "the Aria calibration (Fisheye624 camera model)", install="pip install -U sensorfusion"
        )
    sensors = {}
    for c in cameras:
        cam = fisheye624.from_params(c.params, width=c.width, height=c.height)
        mount = DeviceMount(device=device, device_from_sensor=Transform.from_matrix(c.device_from_camera))
        sensors[c.label] = SensorCalibration(camera=cam, mount=mount)
    return RigCalibration(sensors=sensors)


def detect_aria(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like an Aria calibration (``.vrs``, or JSON/JSONL with ``CameraCalibrations``)."""
    p = Path(path)
    if not p.is_file():
        return False
    if p.suffix == ".vrs":
        return True
    with p.open("rb") as fh:
        head = fh.read(65536)
    return head.lstrip().startswith(b"{") and b'"CameraCalibrations"' in head


def sniff_aria(path: Path, head: str) -> bool:
    """The calibration-format hook's sniff: a ``.vrs`` file, or JSON / JSONL whose text holds
    Aria's ``CameraCalibrations`` with ``T_Device_Camera``."""
    if path.suffix == ".vrs":
        return True
    return head.lstrip().startswith("{") and '"CameraCalibrations"' in head and '"T_Device_Camera"' in head


def load_aria_calibration(
    path: str | os.PathLike[str],
    *,
    record: int = 0,
    device: str = "aria",
    image_sizes: Mapping[str, Sequence[int]] | None = None,
    labels: Sequence[str] | None = None,
) -> RigCalibration:
    """An Aria calibration file (``.json``, MPS ``online_calibration.jsonl``, or ``.vrs``) as a
    :class:`RigCalibration` (see the module docstring).

    ``record`` picks the line of a JSONL file (negative counts from the end); ``labels`` keeps
    only those cameras (a missing one is a :class:`~sensorfusion.ConfigError` listing what the
    file has).
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError("Aria calibration file not found", value=str(p))
    if p.suffix == ".vrs":
        from ._vrs import VrsRecording

        with VrsRecording(p) as rec:
            cameras = rec.cameras()
    else:
        records = read_aria_camera_records(p)
        if not -len(records) <= record < len(records):
            raise ConfigError(f"the file has {len(records)} calibration record(s)", field_path="record", value=record)
        try:
            cameras = aria_cameras_from_json(records[record], image_sizes=image_sizes)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"cannot read Aria calibration: {type(exc).__name__}: {exc}", value=str(p)) from None
    if labels is not None:
        have = {c.label: c for c in cameras}
        missing = [lab for lab in labels if lab not in have]
        if missing:
            raise ConfigError(
                "the Aria calibration has no camera with this label",
                field_path="labels",
                value=missing[0],
                choices=sorted(have),
            )
        cameras = [have[lab] for lab in labels]
    return rig_calibration(cameras, device=device)


def save_aria_calibration(cal: RigCalibration, path: str | os.PathLike[str]) -> None:
    """Write the Fisheye624 cameras of ``cal`` as an Aria calibration JSON record.

    ``T_Device_Camera`` is the camera's mount (``device_from_sensor``), or its
    ``world_from_sensor`` when it has none. Any other camera model is a
    :class:`~sensorfusion.ConfigError` (the Aria format stores Fisheye624 only here).
    """
    cams: list[AriaCamera] = []
    for sid, sc in cal.sensors.items():
        if sc.camera is None:
            continue
        if str(sc.camera.model) != "fisheye624":
            raise ConfigError(
                f"sensor {sid}: the Aria format stores Fisheye624 cameras, this one is {sc.camera.model}",
                field_path=f"sensors.{sid}.camera.model",
                value=sc.camera.model,
                choices=["fisheye624"],
            )
        pose = sc.mount.device_from_sensor if sc.mount is not None else sc.world_from_sensor
        params = tuple(float(x) for x in getattr(sc.camera, "params"))  # noqa: B009 - Fisheye624Camera.params
        cams.append(AriaCamera(sid, params, sc.camera.width, sc.camera.height, pose.matrix))
    p = Path(path)
    record = aria_cameras_to_json(cams)
    # a .jsonl holds one record per line (as MPS writes online_calibration.jsonl)
    text = json.dumps(record) + "\n" if p.suffix == ".jsonl" else json.dumps(record, indent=2)
    p.write_text(text, encoding="utf-8")
