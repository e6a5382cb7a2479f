"""Which file is which: one ``sniff(path, head)`` per format, kept together and light.

The host asks every installed format's sniffer about a file and refuses a file that more
than one claims, so each sniffer here claims only its own layout, and the TOML and JSON
families (Pose2Sim / aniposelib / FreeMoCap / caliscope; Panoptic / VoxelPose) are told
apart by the keys only one of them writes. Nothing here imports OpenCV: sniffing a file
costs a text parse, not a library load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "sniff_aniposelib",
    "sniff_caliscope",
    "sniff_easymocap",
    "sniff_freemocap",
    "sniff_kalibr",
    "sniff_opencv",
    "sniff_panoptic",
    "sniff_pose2sim",
    "sniff_qualisys",
    "sniff_voxelpose",
    "toml_camera_tables",
]


#: calibration files are small; a larger file is not parsed to be sniffed
_MAX_BYTES = 64 * 1024 * 1024


def _toml(path: Path, head: str) -> dict[str, Any] | None:
    stripped = head.lstrip()
    if not stripped or stripped[0] in "{<%":
        return None
    import toml

    try:
        if path.stat().st_size > _MAX_BYTES:
            return None
        data = toml.loads(path.read_text(encoding="utf-8"))
    except (toml.TomlDecodeError, TypeError, ValueError, IndexError, OSError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _json(path: Path, head: str) -> Any:
    if not head.lstrip().startswith("{"):
        return None
    try:
        if path.stat().st_size > _MAX_BYTES:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError, UnicodeDecodeError):
        return None


def toml_camera_tables(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The camera tables of an aniposelib-style TOML: every table but ``metadata``."""
    return {k: v for k, v in data.items() if k != "metadata" and isinstance(v, dict)}


def _anipose_family(path: Path, head: str) -> dict[str, dict[str, Any]] | None:
    """Camera tables when the file is an aniposelib-style TOML (every table but ``metadata``
    has ``matrix`` and ``rotation``; no caliscope ``cam_id``)."""
    data = _toml(path, head)
    if data is None:
        return None
    tables = toml_camera_tables(data)
    if not tables or not all("matrix" in t and "rotation" in t for t in tables.values()):
        return None
    if any("cam_id" in t or "port" in t for t in tables.values()):
        return None
    return tables


def _is_freemocap(tables: dict[str, dict[str, Any]]) -> bool:
    return any("world_position" in t or "world_orientation" in t for t in tables.values())


def _is_pose2sim(tables: dict[str, dict[str, Any]]) -> bool:
    # Pose2Sim writes fisheye = false|true on every camera and float sizes; aniposelib neither
    if any(t.get("fisheye") is False for t in tables.values()):
        return True
    sizes = [x for t in tables.values() for x in t.get("size", [])]
    return bool(sizes) and all(isinstance(x, float) for x in sizes)


def sniff_pose2sim(path: Path, head: str) -> bool:
    tables = _anipose_family(path, head)
    return tables is not None and not _is_freemocap(tables) and _is_pose2sim(tables)


def sniff_aniposelib(path: Path, head: str) -> bool:
    tables = _anipose_family(path, head)
    return tables is not None and not _is_freemocap(tables) and not _is_pose2sim(tables)


def sniff_freemocap(path: Path, head: str) -> bool:
    tables = _anipose_family(path, head)
    return tables is not None and _is_freemocap(tables)


def sniff_caliscope(path: Path, head: str) -> bool:
    """caliscope's ``config.toml`` (``[cam_N]`` tables with ``cam_id``/``port``) or
    ``camera_array.toml`` (``[cameras.N]`` tables with ``cam_id``)."""
    data = _toml(path, head)
    if data is None:
        return False
    cams = data.get("cameras")
    if isinstance(cams, dict) and cams and all(isinstance(t, dict) and "size" in t for t in cams.values()):
        return True
    tables = [v for k, v in data.items() if k.startswith("cam_") and isinstance(v, dict)]
    return bool(tables) and all(("cam_id" in t or "port" in t) and "size" in t for t in tables)


def sniff_qualisys(path: Path, head: str) -> bool:
    return head.lstrip().startswith("<") and "<calibration" in head and "<cameras" in head


def sniff_opencv(path: Path, head: str) -> bool:
    stripped = head.lstrip()
    if stripped.startswith("<"):
        return "<opencv_storage" in head
    return stripped.startswith("%YAML") and not sniff_easymocap(path, head)


def sniff_easymocap(path: Path, head: str) -> bool:
    if path.is_dir():
        return (path / "intri.yml").is_file() and (path / "extri.yml").is_file()
    if path.name in ("intri.yml", "extri.yml"):
        return True
    return head.lstrip().startswith("%YAML") and "names:" in head and ("K_" in head or "R_" in head)


def sniff_panoptic(path: Path, head: str) -> bool:
    data = _json(path, head)
    return isinstance(data, dict) and isinstance(data.get("cameras"), list)


def sniff_voxelpose(path: Path, head: str) -> bool:
    """VoxelPose / mmpose Shelf-Campus JSON: ``{"<id>": {"R", "T", "fx", "fy", "cx", "cy", ...}}``."""
    data = _json(path, head)
    if not isinstance(data, dict) or not data:
        return False
    need = {"R", "T", "fx", "fy", "cx", "cy"}
    return all(isinstance(v, dict) and need <= set(v) for v in data.values())


def sniff_kalibr(path: Path, head: str) -> bool:
    stripped = head.lstrip()
    if not stripped or stripped[0] in "{<%[":
        return False
    if "camera_model" not in head or "intrinsics" not in head:
        return False
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return False
    return (
        isinstance(data, dict)
        and bool(data)
        and all(isinstance(v, dict) and "camera_model" in v and "intrinsics" in v for v in data.values())
    )
