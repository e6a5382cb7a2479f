"""Reading and writing calibration files through the installed formats (one path for the whole SDK).

:func:`load_calibration` is what the rig file's ``calibration.file``, driver ``calibration``
params, ``sensorfusion calibrate convert`` and ``sensorfusion triangulate`` all use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ._calibration_format import CalibrationFormat
from ._errors import ConfigError
from .schema._calibration import RigCalibration
from .schema._config import CalibrationConfig, _config_error_from_validation

if TYPE_CHECKING:
    from .plugins import PluginHost

__all__ = [
    "calibration_formats",
    "detect_calibration_format",
    "load_calibration",
    "load_rig_calibration",
    "save_calibration",
]


def _host(host: PluginHost | None) -> PluginHost:
    if host is not None:
        return host
    from .plugins import get_plugin_host

    return get_plugin_host()


def load_calibration(
    path: str | Path, format: str | None = None, *, host: PluginHost | None = None, **options: Any
) -> RigCalibration:
    """Read a calibration file in any installed format.

    Args:
        path: the file (or, for formats that are folders, the folder).
        format: a format name or alias (``"pose2sim"``, ``"anipose"``...); ``None`` sniffs
            the file across every installed format.
        host: the plugin host whose formats to use (default: the process-wide one).
        **options: format-specific options, passed to the format's ``load``.

    Raises:
        ConfigError: file missing, format unknown (the message lists the installed ones),
            undetectable or ambiguous, or content invalid in that format.
    """
    return _host(host).calibration_formats.load(path, format, **options)


def save_calibration(
    calibration: RigCalibration,
    path: str | Path,
    format: str | None = None,
    *,
    host: PluginHost | None = None,
    **options: Any,
) -> str:
    """Write ``calibration`` in ``format`` (default: the format the file name asks for,
    ``rig.json`` -> ``sensorfusion``, ``Calib.toml`` -> ``pose2sim``...). Returns the format used."""
    return _host(host).calibration_formats.save(calibration, path, format, **options)


def detect_calibration_format(path: str | Path, *, host: PluginHost | None = None) -> str:
    """The installed format that claims ``path`` (``ConfigError`` when none or several do)."""
    return _host(host).calibration_formats.detect(path)


def calibration_formats(*, host: PluginHost | None = None) -> list[CalibrationFormat]:
    """The installed calibration formats, the core's own first."""
    return list(_host(host).calibration_formats)


def load_rig_calibration(
    cfg: CalibrationConfig, *, base_dir: Path, source: str | None = None, host: PluginHost | None = None
) -> RigCalibration:
    """The calibration a rig file declares: ``calibration.file`` read through the installed
    formats, then the inline ``calibration.sensors`` over it (sensor by sensor)."""
    sensors: dict[str, Any] = {}
    if cfg.file is not None:
        p = (base_dir / cfg.file) if not Path(cfg.file).is_absolute() else Path(cfg.file)
        if not p.exists():
            raise ConfigError(
                "calibration file not found", field_path="calibration.file", value=cfg.file, source=source
            )
        try:
            cal = load_calibration(p, cfg.format, host=host)
        except ConfigError as exc:
            sub = "format" if exc.field_path == "format" else "file"
            inner = f"{exc.field_path}: " if exc.field_path and sub == "file" else ""
            raise ConfigError(
                inner + exc.reason,
                field_path=f"calibration.{sub}",
                value=exc.value if exc.value is not None else cfg.file,
                choices=exc.choices,
                source=source,
            ) from None
        sensors.update({k: v.model_dump(mode="json") for k, v in cal.sensors.items()})
    sensors.update(cfg.sensors)
    try:
        return RigCalibration.model_validate({"sensors": sensors})
    except ValidationError as exc:
        raise _config_error_from_validation(exc, prefix="calibration", source=source) from None
