"""The SDK's own calibration file: a :class:`~sensorfusion.RigCalibration` as JSON or YAML.

``{"sensors": {"<sensor id>": {"camera": {...}, "world_from_sensor": {...}, ...}}}`` - exactly
what ``RigCalibration.model_dump(mode="json")`` gives, metres, radians, ``world_from_sensor``.
Registered by the built-in ``core`` plugin as the format ``sensorfusion``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .._errors import ConfigError
from ..schema._calibration import RigCalibration
from ..schema._config import _config_error_from_validation, safe_load_yaml

__all__ = ["load_sensorfusion_calibration", "save_sensorfusion_calibration", "sniff_sensorfusion_calibration"]

_YAML = (".yaml", ".yml")


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() in _YAML:
        return safe_load_yaml(text, field_path="calibration.file")  # aliases expand with a bound
    return json.loads(text)


def sniff_sensorfusion_calibration(path: Path, head: str) -> bool:
    """A JSON object (or, for ``.yaml``/``.yml``, a YAML mapping) with a ``sensors`` mapping."""
    stripped = head.lstrip()
    if path.suffix.lower() in _YAML:
        if stripped.startswith("%YAML"):  # OpenCV FileStorage
            return False
    elif not stripped.startswith("{"):
        return False
    try:
        data = _parse(path, path.read_text(encoding="utf-8"))
    except (ValueError, yaml.YAMLError, UnicodeDecodeError, ConfigError):
        return False
    return isinstance(data, dict) and isinstance(data.get("sensors"), dict)


def load_sensorfusion_calibration(path: Path) -> RigCalibration:
    """Read the SDK's own JSON/YAML calibration; errors name the field path inside the file."""
    try:
        data = _parse(path, path.read_text(encoding="utf-8"))
    except ConfigError as exc:  # invalid YAML, or aliases that expand without bound
        raise ConfigError(f"cannot parse calibration file: {exc.reason}", source=str(path)) from None
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot parse calibration file: {str(exc)[:300]}", source=str(path)) from None
    if not (isinstance(data, dict) and isinstance(data.get("sensors"), dict)):
        raise ConfigError("calibration file must hold a mapping with 'sensors'", source=str(path))
    try:
        return RigCalibration.model_validate({"sensors": data["sensors"]})
    except ValidationError as exc:
        raise _config_error_from_validation(exc, source=str(path)) from None


def save_sensorfusion_calibration(calibration: RigCalibration, path: Path) -> None:
    """Write JSON (YAML when ``path`` ends in ``.yaml``/``.yml``)."""
    if path.suffix.lower() in _YAML:
        text = yaml.safe_dump(calibration.model_dump(mode="json"), sort_keys=False)
    else:
        text = calibration.model_dump_json(indent=2)
    path.write_text(text, encoding="utf-8")
