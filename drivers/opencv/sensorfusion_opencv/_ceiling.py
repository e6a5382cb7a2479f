"""Ceiling (overhead) cameras: a declared mounting replaces the calibration's pose.

A source with a ``ceiling:`` block (:class:`sensorfusion.schema.CeilingMount`: ``height_m``,
``position_m``, ``yaw_rad``, ``tilt_rad``, ``tilt_azimuth_rad``) is a camera on the ceiling
looking down: its ``world_from_sensor`` is the mount's (floor at ``z = 0``), and its lens must
be calibrated with a fisheye-family model (``CeilingMount.lens_models``). A ceiling camera
without a calibration file, or whose calibration has another model, is a ``ConfigError``
naming the field.
"""

from __future__ import annotations

from sensorfusion import ConfigError, SensorCalibration
from sensorfusion.schema import CeilingMount

__all__ = ["mount_on_ceiling", "require_calibration"]


def require_calibration(calibration: str | None, *, field_path: str) -> None:
    """A ceiling camera needs its lens calibration: ``ConfigError`` when there is none."""
    if calibration is None:
        raise ConfigError(
            "a ceiling camera needs the calibration of its lens (a fisheye model: "
            f"{', '.join(CeilingMount.lens_models)}) in params.calibration",
            field_path=field_path,
        )


def mount_on_ceiling(entry: SensorCalibration, mount: CeilingMount, *, field_path: str) -> SensorCalibration:
    """``entry`` with the mount's pose; ``ConfigError`` (at ``field_path``) when its lens is not a fisheye."""
    model = entry.camera.model if entry.camera is not None else None
    if model not in CeilingMount.lens_models:
        raise ConfigError(
            f"a ceiling camera needs a fisheye lens model; the calibration has {model!r}",
            field_path=field_path,
            value=model,
            choices=list(CeilingMount.lens_models),
        )
    return entry.model_copy(update={"world_from_sensor": mount.world_from_sensor()})
