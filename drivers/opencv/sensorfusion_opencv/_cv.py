"""Importing OpenCV lazily, so the plugin registers even where ``cv2`` is missing."""

from __future__ import annotations

from types import ModuleType

from sensorfusion import MissingDependencyError

__all__ = ["INSTALL", "require_cv2"]

INSTALL = "pip install opencv-contrib-python"


def require_cv2(what: str = "the OpenCV drivers") -> ModuleType:
    """Return the ``cv2`` module, or raise :class:`MissingDependencyError` saying what to install."""
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - cv2 is installed in the dev environment
        raise MissingDependencyError(f"{what} ({exc})", install=INSTALL) from None
    return cv2
