"""The ``opencv`` plugin: registers the OpenCV camera, video, image-folder, stream and rig drivers.

A light module: each component is a lazy reference, imported (with its libraries) the
first time a rig uses it, so listing plugins and ``sensorfusion --help`` stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Driver, lazy
from sensorfusion.hookspecs import hookimpl

__all__ = ["sensorfusion_add_drivers"]

_P = "sensorfusion_opencv"


@hookimpl
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    return [
        lazy(f"{_P}._drivers:CameraDriver", name="opencv.camera", summary="a live camera (cv2.VideoCapture)"),
        lazy(f"{_P}._drivers:VideoFileDriver", name="opencv.video", summary="a video file"),
        lazy(f"{_P}._drivers:ImageFolderDriver", name="opencv.images", summary="a folder of images"),
        lazy(f"{_P}._drivers:StreamDriver", name="opencv.stream", summary="a network stream"),
        lazy(f"{_P}._rig:RigDriver", name="opencv.rig", summary="several synchronised videos or cameras"),
    ]
