"""Frame sources behind the OpenCV drivers: a capture (device, video file, network stream)
or a folder of images. They hand out BGR images as OpenCV decodes them, with the source's
own frame index and, where the backend gives one, its timestamp; the drivers turn them
into frames.

Reading is split into :meth:`grab` (take the next frame off the device, cheap) and
:meth:`retrieve` (decode it), so a multi-view rig can grab every view back to back before
decoding any: the views' exposures are then as close in time as the devices allow.
"""

from __future__ import annotations

import abc
import glob
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sensorfusion import DriverError

from ._cv import require_cv2

__all__ = ["CaptureSource", "FolderSource", "RawFrame", "Source", "SourceInfo", "SourceKind", "guess_kind"]

SourceKind = Literal["device", "file", "url", "folder"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What an opened source reports about itself.

    Attributes:
        width, height: frame size in pixels.
        fps: nominal frame rate (0 when the backend does not know).
        frame_count: frames in a finite source (None for live sources or when unknown).
        live: a device or network stream (time passes whether or not it is read).
        backend: OpenCV's backend name (``V4L2``, ``FFMPEG``, ``IMAGES``...).
    """

    width: int
    height: int
    fps: float
    frame_count: int | None
    live: bool
    backend: str


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One decoded frame: ``image`` BGR uint8 ``(H, W, 3)``, the source's 0-based ``index``,
    the backend's timestamp in ns (``None`` when it gave none) and the host time of the grab."""

    image: np.ndarray | None
    index: int
    t_backend_ns: int | None
    t_host_ns: int


def guess_kind(target: str | int) -> SourceKind:
    """``0`` or ``/dev/video0``: device; ``scheme://...``: url; a folder: folder; else file."""
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return "device"
    if target.startswith("/dev/video"):
        return "device"
    if "://" in target:
        return "url"
    if os.path.isdir(os.path.expanduser(target)):
        return "folder"
    return "file"


class Source(abc.ABC):
    """A frame source. ``open(start_index)`` positions a finite source at that frame."""

    kind: SourceKind
    info: SourceInfo | None = None

    @abc.abstractmethod
    def open(self, start_index: int = 0) -> SourceInfo: ...

    @abc.abstractmethod
    def grab(self) -> bool:
        """Take the next frame; False at the end of a finite source. Raises DriverError on failure."""

    @abc.abstractmethod
    def retrieve(self) -> RawFrame:
        """Decode the frame taken by the last successful :meth:`grab`."""

    def read(self) -> RawFrame | None:
        return self.retrieve() if self.grab() else None

    @abc.abstractmethod
    def close(self) -> None: ...


_APIS = {
    "any": "CAP_ANY",
    "v4l2": "CAP_V4L2",
    "ffmpeg": "CAP_FFMPEG",
    "gstreamer": "CAP_GSTREAMER",
    "images": "CAP_IMAGES",
}


class CaptureSource(Source):
    """A ``cv2.VideoCapture``: a camera (index or ``/dev/videoN``), a video file or a URL.

    Args:
        kind: ``device``, ``file`` or ``url``.
        target: camera index, device path, file path or URL.
        width, height, fps, fourcc: requested of a camera (``CAP_PROP_*``); ignored for files.
        api: OpenCV backend (``any``, ``v4l2``, ``ffmpeg``, ``gstreamer``).
        open_timeout_s, read_timeout_s: network/device timeouts (FFmpeg and some camera backends).
        buffer_size: frames the backend may buffer (``CAP_PROP_BUFFERSIZE``; 1 keeps a camera fresh).
    """

    def __init__(
        self,
        kind: SourceKind,
        target: str | int,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        fourcc: str | None = None,
        api: str = "any",
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        buffer_size: int | None = None,
    ) -> None:
        self.kind = kind
        self.target = int(target) if kind == "device" and isinstance(target, str) and target.isdigit() else target
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self.api, self.open_timeout_s, self.read_timeout_s, self.buffer_size = (
            api,
            open_timeout_s,
            read_timeout_s,
            buffer_size,
        )
        self._cap: Any = None
        self._index = -1
        self._grab_host_ns = 0
        self.info = None

    def open(self, start_index: int = 0) -> SourceInfo:
        cv2 = require_cv2()
        if self.kind == "file" and not os.path.isfile(os.path.expanduser(str(self.target))):
            raise DriverError(f"video file not found: {self.target}")
        api = getattr(cv2, _APIS[self.api], cv2.CAP_ANY)
        props = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000),
        ]  # fmt: skip
        target = (
            os.path.expanduser(self.target) if isinstance(self.target, str) and self.kind == "file" else self.target
        )
        cap = cv2.VideoCapture(target, api, props) if self.kind != "file" else cv2.VideoCapture(target, api)
        if not cap.isOpened():
            cap.release()
            raise DriverError(f"OpenCV could not open {self.kind} {self.target!r} (backend {self.api})")
        if self.kind == "device":
            if self.fourcc:
                cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*self.fourcc))
            if self.width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            if self.height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            if self.fps:
                cap.set(cv2.CAP_PROP_FPS, self.fps)
        if self.buffer_size is not None:
            cap.set(cv2.CAP_PROP_BUFFERSIZE, self.buffer_size)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if self.kind == "file" else 0
        self.info = SourceInfo(
            width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
            frame_count=count if count > 0 else None,
            live=self.kind != "file",
            backend=str(cap.getBackendName()),
        )
        self._cap = cap
        self._index = -1
        # Resume a file exactly: decode and drop frames (seeking by CAP_PROP_POS_FRAMES lands
        # on key frames in many codecs, so it is not exact).
        for _ in range(start_index if self.kind == "file" else 0):
            if not cap.grab():
                break
            self._index += 1
        return self.info

    def grab(self) -> bool:
        if self._cap is None:
            raise DriverError("source read before open()")
        ok = bool(self._cap.grab())
        self._grab_host_ns = time.time_ns()
        if not ok:
            if self.kind == "file":
                return False
            raise DriverError(f"{self.kind} {self.target!r}: no frame (disconnected or timed out)")
        self._index += 1
        return True

    def retrieve(self) -> RawFrame:
        cv2 = require_cv2()
        ok, image = self._cap.retrieve()
        pos_ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
        t_backend = round(pos_ms * 1e6) if np.isfinite(pos_ms) and (pos_ms > 0 or self._index == 0) else None
        return RawFrame(image if ok else None, self._index, t_backend, self._grab_host_ns)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class FolderSource(Source):
    """The images of a folder matching a glob ``pattern``, in sorted (natural) name order."""

    kind: SourceKind = "folder"

    def __init__(self, folder: str, *, pattern: str | None = None, fps: float = 30.0) -> None:
        self.folder = os.path.expanduser(folder)
        self.pattern = pattern
        self.fps = fps
        self._files: list[str] = []
        self._index = -1
        self.info = None

    def files(self) -> list[str]:
        if not os.path.isdir(self.folder):
            raise DriverError(f"image folder not found: {self.folder}")
        if self.pattern:
            names = glob.glob(os.path.join(glob.escape(self.folder), self.pattern))
        else:
            names = [str(p) for p in Path(self.folder).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS]
        return sorted((n for n in names if os.path.isfile(n)), key=_natural_key)

    def open(self, start_index: int = 0) -> SourceInfo:
        cv2 = require_cv2()
        self._files = self.files()
        if not self._files:
            raise DriverError(f"no image in {self.folder} matches {self.pattern or 'the image extensions'}")
        first = cv2.imread(self._files[0], cv2.IMREAD_COLOR)
        if first is None:
            raise DriverError(f"cannot decode the first image {self._files[0]}")
        h, w = first.shape[:2]
        self.info = SourceInfo(w, h, self.fps, len(self._files), live=False, backend="IMAGES")
        self._index = start_index - 1
        return self.info

    def grab(self) -> bool:
        if self._index + 1 >= len(self._files):
            return False
        self._index += 1
        return True

    def retrieve(self) -> RawFrame:
        cv2 = require_cv2()
        image = cv2.imread(self._files[self._index], cv2.IMREAD_COLOR)
        return RawFrame(image, self._index, None, time.time_ns())

    @property
    def current_file(self) -> str:
        return self._files[self._index]

    def close(self) -> None:
        self._files = []


def _natural_key(name: str) -> list[Any]:
    import re

    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", os.path.basename(name))]
