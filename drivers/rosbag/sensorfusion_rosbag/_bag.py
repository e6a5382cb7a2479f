"""Opening a bag with ``rosbags``: rosbag2 (a directory with ``metadata.yaml``, or a single
``.db3`` / ``.mcap`` file) and ROS 1 (``.bag``), with errors that name the path."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sensorfusion import ConfigError, MissingDependencyError

__all__ = ["INSTALL_ROSBAGS", "open_bag", "rosbags_module"]

INSTALL_ROSBAGS = "pip install rosbags"


def rosbags_module(name: str) -> Any:
    """``rosbags.<name>``, or :class:`~sensorfusion.MissingDependencyError` naming the install."""
    try:
        return importlib.import_module(f"rosbags.{name}")
    except ImportError as exc:
        raise MissingDependencyError("reading ROS bags", install=INSTALL_ROSBAGS) from exc


def open_bag(path: str | Sequence[str], *, field_path: str) -> Any:
    """An open ``rosbags.highlevel.AnyReader`` on ``path`` (close it when done).

    ``path`` is one bag, or several ROS 1 ``.bag`` files of one split recording (read as one, in
    time order). Bags without message definitions (old rosbag2) are read with the ROS 2 Humble
    types, ROS 1 bags always carry theirs. Raises :class:`~sensorfusion.ConfigError`
    (``field_path``) when a path does not exist or is not a bag ``rosbags`` can read.
    """
    highlevel = rosbags_module("highlevel")
    typesys = rosbags_module("typesys")
    paths = [Path(path)] if isinstance(path, str) else [Path(p) for p in path]
    if not paths:
        raise ConfigError("no bag given", field_path=field_path)
    if len(paths) > 1 and any(p.suffix != ".bag" for p in paths):
        raise ConfigError(
            "several paths are read as one split ROS 1 recording: each must be a .bag file",
            field_path=field_path,
            value=[str(p) for p in paths],
        )
    for p in paths:
        if not p.exists():
            raise ConfigError("no bag at this path", field_path=field_path, value=str(p))
        if p.is_file() and p.suffix not in (".bag", ".db3", ".mcap"):
            raise ConfigError(
                "not a bag file: expected a ROS 1 .bag, a rosbag2 .db3 or .mcap file, or a rosbag2 folder",
                field_path=field_path,
                value=str(p),
            )
        if p.is_dir() and not (p / "metadata.yaml").is_file():
            raise ConfigError("a rosbag2 folder needs its metadata.yaml", field_path=field_path, value=str(p))
    ros1 = paths[0].suffix == ".bag"
    store = typesys.get_typestore(typesys.Stores.ROS1_NOETIC if ros1 else typesys.Stores.ROS2_HUMBLE)
    try:
        reader = highlevel.AnyReader(paths, default_typestore=store)
        reader.open()
    except ConfigError:
        raise
    except Exception as exc:  # rosbags raises its own errors, sqlite3/mcap/struct errors on a damaged file
        shown = str(paths[0]) if len(paths) == 1 else [str(p) for p in paths]
        raise ConfigError(f"cannot read the bag: {exc}", field_path=field_path, value=shown) from exc
    return reader
