"""Every deprecation of sensorfusion, in one place.

A deprecated name keeps working for at least one minor release and warns with
:class:`SensorfusionDeprecationWarning` (a :class:`DeprecationWarning`) saying what to use
instead. The messages live here, so the list of what is being retired is this module.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["DEPRECATED", "SensorfusionDeprecationWarning", "deprecated_getattr", "warn_deprecated"]


class SensorfusionDeprecationWarning(DeprecationWarning):
    """A sensorfusion name that is being retired; the message says what replaces it."""


#: ``"module.name"`` -> the message. The geometry helpers below take the points first and the
#: camera second, the other way round from every geometry function; their replacements take
#: the camera first (and work for every camera model, not only pinhole).
DEPRECATED: dict[str, str] = {
    "sensorfusion.geometry.project_pinhole": (
        "sensorfusion.geometry.project_pinhole(points_world, cam, world_from_camera) is deprecated: use "
        "world_to_pixels(camera, world_from_camera, points_world, tier='numpy') for the pixels and "
        "transform_points(world_from_camera.inverse(), points_world)[..., 2] for the depth"
    ),
    "sensorfusion.geometry.distort_normalized": (
        "sensorfusion.geometry.distort_normalized(xy, cam) is deprecated: use project(camera, points_camera) "
        "on the points (x, y, 1) for distorted pixels ((u - cx) / fx, (v - cy) / fy give the normalized ones)"
    ),
    "sensorfusion.geometry.undistort_pixels": (
        "sensorfusion.geometry.undistort_pixels(uv, cam) is deprecated: use undistort_points(camera, pixels), "
        "which gives ideal x/z, y/z for every camera model (times fx, fy plus cx, cy: the ideal pinhole's pixels)"
    ),
}


def warn_deprecated(key: str, *, stacklevel: int = 3) -> None:
    """Warn that ``key`` (a ``DEPRECATED`` key) is deprecated, from the caller's caller."""
    warnings.warn(DEPRECATED[key], SensorfusionDeprecationWarning, stacklevel=stacklevel)


def deprecated_getattr(module_name: str, names: dict[str, Callable[[], Any]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving deprecated ``names`` (name -> loader of the object) with
    a warning on each access (``from module import name`` included)."""

    def __getattr__(name: str) -> Any:
        if name in names:
            warn_deprecated(f"{module_name}.{name}")
            return names[name]()
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__
