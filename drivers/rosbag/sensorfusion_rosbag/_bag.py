"""Opening a bag with ``rosbags``: rosbag2 (a directory with ``metadata.yaml``, or a single
``.db3`` / ``.mcap`` file) and ROS 1 (``.bag``), with errors that name the path."""

from __future__ import annotations

import importlib
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


def open_bag(path: str, *, field_path: str) -> Any:
    """An open ``rosbags.highlevel.AnyReader`` on ``path`` (close it when done).

    Bags without message definitions (old rosbag2) are read with the ROS 2 Humble types, ROS 1
    bags always carry theirs. Raises :class:`~sensorfusion.ConfigError` (``field_path``) when the
    path does not exist or is not a bag ``rosbags`` can read.
    """
    highlevel = rosbags_module("highlevel")
    typesys = rosbags_module("typesys")
    p = Path(path)
    if not p.exists():
        raise ConfigError("no bag at this path", field_path=field_path, value=path)
    if p.is_file() and p.suffix not in (".bag", ".db3", ".mcap"):
        raise ConfigError(
            "not a bag file: expected a ROS 1 .bag, a rosbag2 .db3 or .mcap file, or a rosbag2 folder",
            field_path=field_path,
            value=path,
        )
    if p.is_dir() and not (p / "metadata.yaml").is_file():
        raise ConfigError("a rosbag2 folder needs its metadata.yaml", field_path=field_path, value=path)
    store = typesys.get_typestore(typesys.Stores.ROS1_NOETIC if p.suffix == ".bag" else typesys.Stores.ROS2_HUMBLE)
    try:
        reader = highlevel.AnyReader([p], default_typestore=store)
        reader.open()
    except ConfigError:
        raise
    except Exception as exc:  # rosbags raises its own errors, sqlite3/mcap/struct errors on a damaged file
        raise ConfigError(f"cannot read the bag: {exc}", field_path=field_path, value=path) from exc
    return reader
