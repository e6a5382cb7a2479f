"""Importing pyrealsense2 lazily, so the plugin registers where it is missing."""

from __future__ import annotations

from types import ModuleType

from sensorfusion import MissingDependencyError

__all__ = ["INSTALL", "require_rs"]

INSTALL = "pip install pyrealsense2  (and Debian's libusb-1.0-0: apt-get install libusb-1.0-0)"


def require_rs(what: str = "the RealSense driver") -> ModuleType:
    """Return the ``pyrealsense2`` module, or raise :class:`MissingDependencyError` with the install command."""
    try:
        import pyrealsense2  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise MissingDependencyError(f"{what} ({exc})", install=INSTALL) from None
    module: ModuleType = pyrealsense2
    return module
