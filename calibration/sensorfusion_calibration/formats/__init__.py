"""Read and write every peer's camera calibration file as a :class:`~sensorfusion.schema.RigCalibration`.

==================  =============================================  ==========================
``fmt``             file                                           module (units, axes)
==================  =============================================  ==========================
``sensorfusion``    the SDK's own JSON (``RigCalibration``)          metres, ``world_from_sensor``
``pose2sim``        Pose2Sim ``Calib.toml``                          :mod:`._toml`
``aniposelib``      aniposelib / anipose ``calibration.toml``        :mod:`._toml`
``qualisys``        Qualisys ``.qca.txt`` (XML)                      :mod:`._qualisys`
``opencv``          OpenCV FileStorage ``.yml``/``.yaml``/``.xml``   :mod:`._opencv`
``easymocap``       EasyMocap ``intri.yml`` + ``extri.yml``          :mod:`._opencv`
``panoptic``        CMU Panoptic ``calibration_*.json``              :mod:`._panoptic`
``kalibr``          Kalibr ``camchain.yaml``                         :mod:`._kalibr`
==================  =============================================  ==========================

``load_calibration(path)`` sniffs the format from the file's content (and name) when ``fmt`` is
not given; format-specific options (``distortion=`` for Qualisys, ``length_unit_m=`` for the
TOMLs, ``types=`` for Panoptic, ``world_from_cam0=`` for Kalibr) pass through as keywords.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sensorfusion import ConfigError
from sensorfusion.schema import RigCalibration

from ._kalibr import load_kalibr, save_kalibr
from ._opencv import load_easymocap, load_opencv, save_easymocap, save_opencv
from ._panoptic import load_panoptic, save_panoptic
from ._qualisys import QCA_DISTORTION_MODES, load_qca, save_qca
from ._toml import load_toml, save_toml, sniff_toml_flavour

__all__ = ["FORMATS", "QCA_DISTORTION_MODES", "detect_format", "load_calibration", "save_calibration"]

FORMATS: tuple[str, ...] = (
    "sensorfusion",
    "pose2sim",
    "aniposelib",
    "qualisys",
    "opencv",
    "easymocap",
    "panoptic",
    "kalibr",
)


def _unknown(fmt: str, path: Path | str) -> ConfigError:
    return ConfigError("unknown calibration format", field_path="format", value=fmt, choices=FORMATS, source=str(path))


def detect_format(path: str | Path) -> str:
    """The format of a calibration file (or an EasyMocap folder), from its content and name."""
    p = Path(path)
    if p.is_dir():
        if (p / "intri.yml").exists() and (p / "extri.yml").exists():
            return "easymocap"
        raise ConfigError(
            "a folder is only a calibration when it holds EasyMocap's intri.yml and extri.yml", source=str(p)
        )
    if not p.exists():
        raise ConfigError("calibration file not found", value=str(p))
    if p.name in ("intri.yml", "extri.yml"):
        return "easymocap"
    head = p.read_bytes()[:200_000].decode("utf-8", errors="replace")
    stripped = head.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(p.read_text())
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and "sensors" in data:
            return "sensorfusion"
        if isinstance(data, dict) and isinstance(data.get("cameras"), list):
            return "panoptic"
    elif stripped.startswith("<"):
        if "<opencv_storage" in head:
            return "opencv"
        if "<calibration" in head and "<cameras" in head:
            return "qualisys"
    elif stripped.startswith("%YAML"):
        return "easymocap" if "names:" in head and "K_" in head else "opencv"
    else:
        flavour = sniff_toml_flavour(head) if p.suffix.lower() == ".toml" or "[" in head[:200] else None
        if flavour:
            return flavour
        if "camera_model" in head and "intrinsics" in head:
            return "kalibr"
    raise ConfigError(
        "cannot tell the calibration format from the file; pass it explicitly",
        field_path="format",
        value=str(p),
        choices=FORMATS,
    )


def load_calibration(path: str | Path, fmt: str | None = None, **options: Any) -> RigCalibration:
    """Read a calibration file of any supported format (sniffed when ``fmt`` is None)."""
    p = Path(path)
    fmt = detect_format(p) if fmt is None else fmt
    if fmt not in FORMATS:
        raise _unknown(fmt, p)
    if fmt != "easymocap" and not p.is_file():
        raise ConfigError("calibration file not found", value=str(p))
    try:
        if fmt == "sensorfusion":
            return RigCalibration.model_validate_json(p.read_text())
        if fmt in ("pose2sim", "aniposelib"):
            return load_toml(p, flavour=fmt, **options)
        if fmt == "qualisys":
            return load_qca(p, **options)
        if fmt == "opencv":
            return load_opencv(p, **options)
        if fmt == "easymocap":
            return load_easymocap(p, **options)
        if fmt == "panoptic":
            return load_panoptic(p, **options)
        return load_kalibr(p, **options)
    except ValidationError as e:
        raise ConfigError(f"invalid {fmt} calibration: {e}", source=str(p)) from None
    except (KeyError, ValueError, TypeError, IndexError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"cannot read as {fmt}: {type(e).__name__}: {e}", source=str(p)) from None


def save_calibration(cal: RigCalibration, path: str | Path, fmt: str, **options: Any) -> None:
    """Write ``cal`` in format ``fmt`` (for ``easymocap`` ``path`` is the folder, or a file in it)."""
    p = Path(path)
    if fmt not in FORMATS:
        raise _unknown(fmt, p)
    (p if fmt == "easymocap" and (p.is_dir() or not p.suffix) else p.parent).mkdir(parents=True, exist_ok=True)
    if fmt == "sensorfusion":
        p.write_text(cal.model_dump_json(indent=2))
    elif fmt in ("pose2sim", "aniposelib"):
        save_toml(cal, p, flavour=fmt, **options)
    elif fmt == "qualisys":
        save_qca(cal, p, **options)
    elif fmt == "opencv":
        save_opencv(cal, p, **options)
    elif fmt == "easymocap":
        save_easymocap(cal, p, **options)
    elif fmt == "panoptic":
        save_panoptic(cal, p, **options)
    else:
        save_kalibr(cal, p, **options)
