"""A headset's stereo geometry, read from the rig calibration: its two cameras mounted on one device.

The two cameras of device ``<dev>`` are the calibration's sensors with ``mount.device == <dev>``
and a camera model; *left* is the one with the smaller ``x`` in the device frame. A headset with
fewer or more than two such cameras is a :class:`~sensorfusion.ConfigError` that names the
calibration and lists what is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sensorfusion import ConfigError, RigCalibration

__all__ = ["HeadsetGeometry", "headset_geometry"]


@dataclass(frozen=True)
class HeadsetGeometry:
    """The stereo pair of one device.

    Attributes:
        device: the device's sensor id.
        cameras: sensor ids ``(left, right)``.
        models: their camera models (schema objects).
        device_from_camera: ``(2, 4, 4)``.
    """

    device: str
    cameras: tuple[str, str]
    models: tuple[Any, Any]
    device_from_camera: np.ndarray

    @property
    def camera_from_device(self) -> np.ndarray:
        return np.asarray(np.linalg.inv(self.device_from_camera))

    @property
    def baseline_m(self) -> float:
        return float(np.linalg.norm(self.device_from_camera[1, :3, 3] - self.device_from_camera[0, :3, 3]))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (for checkpoints): camera models as the schema dumps them, matrices as lists."""
        return {
            "device": self.device,
            "cameras": list(self.cameras),
            "models": [m.model_dump(mode="json") for m in self.models],
            "device_from_camera": self.device_from_camera.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HeadsetGeometry:
        from pydantic import TypeAdapter

        from sensorfusion.schema import CameraModel

        adapter: TypeAdapter[Any] = TypeAdapter(CameraModel)
        models = tuple(adapter.validate_python(m) for m in data["models"])
        return cls(
            str(data["device"]),
            (str(data["cameras"][0]), str(data["cameras"][1])),
            (models[0], models[1]),
            np.asarray(data["device_from_camera"], dtype=np.float64),
        )


def headset_geometry(calibration: RigCalibration, device: str, *, field_path: str = "calibration") -> HeadsetGeometry:
    """The two cameras mounted on ``device`` (see the module docstring)."""
    mounted = sorted(
        sid
        for sid, sc in calibration.sensors.items()
        if sc.mount is not None and sc.mount.device == device and sc.camera is not None
    )
    if len(mounted) != 2:
        raise ConfigError(
            f"headset {device!r} needs exactly two cameras mounted on it in the calibration, found {len(mounted)}"
            + (f" ({', '.join(mounted)})" if mounted else ""),
            field_path=f"{field_path}.sensors",
            value=device,
            choices=sorted(
                {
                    sc.mount.device
                    for sc in calibration.sensors.values()
                    if sc.mount is not None and sc.camera is not None
                }
            ),
        )
    mats = np.stack([calibration.sensors[s].mount.device_from_sensor.matrix for s in mounted])  # type: ignore[union-attr]
    order = np.argsort(mats[:, 0, 3], kind="stable")
    cams = (mounted[order[0]], mounted[order[1]])
    models = (calibration.sensors[cams[0]].camera, calibration.sensors[cams[1]].camera)
    return HeadsetGeometry(device, cams, models, mats[order])
