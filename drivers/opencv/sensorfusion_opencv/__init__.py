"""sensorfusion-opencv: OpenCV sources as sensorfusion drivers.

``opencv.camera`` (UVC/V4L2), ``opencv.video`` (files), ``opencv.images`` (image folders),
``opencv.stream`` (RTSP/HTTP) and ``opencv.rig`` (N of them aligned in time, with the
calibration of each view). ``cv2`` is imported only when a source opens, so the plugin
registers without it and using a driver raises :class:`sensorfusion.MissingDependencyError`.
"""

from ._calib import find_camera, load_calibration_file
from ._drivers import (
    CameraDriver,
    CameraParams,
    ImageFolderDriver,
    ImageFolderParams,
    StreamDriver,
    StreamParams,
    VideoFileDriver,
    VideoFileParams,
)
from ._rig import RigDriver, RigParams, ViewParams
from ._source import CaptureSource, FolderSource, RawFrame, SourceInfo

__version__ = "0.1.0"

__all__ = [
    "CameraDriver",
    "CameraParams",
    "CaptureSource",
    "FolderSource",
    "ImageFolderDriver",
    "ImageFolderParams",
    "RawFrame",
    "RigDriver",
    "RigParams",
    "SourceInfo",
    "StreamDriver",
    "StreamParams",
    "VideoFileDriver",
    "VideoFileParams",
    "ViewParams",
    "__version__",
    "find_camera",
    "load_calibration_file",
]
