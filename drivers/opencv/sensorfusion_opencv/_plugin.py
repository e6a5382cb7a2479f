"""The ``opencv`` plugin: registers the OpenCV camera, video, image-folder, stream and rig drivers."""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Driver
from sensorfusion.hookspecs import hookimpl

from ._drivers import CameraDriver, ImageFolderDriver, StreamDriver, VideoFileDriver
from ._rig import RigDriver

__all__ = ["sensorfusion_add_drivers"]


@hookimpl
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    return [CameraDriver, VideoFileDriver, ImageFolderDriver, StreamDriver, RigDriver]
