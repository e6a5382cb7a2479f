"""Camera calibrations for OpenCV sources.

A driver's ``calibration`` param names a file in any installed calibration format: the SDK's
own :class:`~sensorfusion.RigCalibration` JSON/YAML, or - through the calibration toolkit
(``sensorfusion-calibration``) - Pose2Sim/aniposelib/FreeMoCap/caliscope TOML, Qualisys,
OpenCV, EasyMocap, CMU Panoptic, VoxelPose and Kalibr files. Reading goes through
:func:`sensorfusion.load_calibration`, like the rig file's ``calibration.file``, so there is
one reader per format in the whole SDK.

:func:`find_camera` looks a view's sensor id up in such a calibration: exact match, then a
match ignoring case and any ``_``/``-``/``.`` (``cam01`` finds ``cam_01``).
"""

from __future__ import annotations

import re
from pathlib import Path

from sensorfusion import ConfigError, RigCalibration, SensorCalibration, load_calibration

__all__ = ["find_camera", "load_calibration_file"]


def load_calibration_file(path: str | Path, *, field_path: str) -> RigCalibration:
    """Read a calibration file in any format the SDK knows (see the module docstring)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError("calibration file not found", field_path=field_path, value=str(path))
    try:
        return load_calibration(p)
    except ConfigError as exc:
        inner = f"{exc.field_path}: " if exc.field_path and exc.field_path != "format" else ""
        raise ConfigError(inner + exc.reason, field_path=field_path, value=str(path), choices=exc.choices) from None


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
