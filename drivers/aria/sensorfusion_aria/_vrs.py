"""Reading Aria ``.vrs`` recordings (camera frames and the factory calibration) through
``projectaria-tools``.

``projectaria-tools`` 2.3.0 (Apache-2.0) is an optional dependency: install it with
``pip install --no-deps projectaria-tools==2.3.0`` (its declared dependencies pin an old
rerun-sdk and pull Jupyter; at run time it needs only numpy). Without it, opening a ``.vrs``
raises :class:`~sensorfusion.MissingDependencyError` with that command.

Frames keep the sensor's own ``capture_timestamp_ns`` (the device capture clock, the clock of
MPS trajectories and ADT ground truth) and ``frame_number``. SLAM and eye-tracking cameras are
grey ``(H, W)`` uint8, the RGB camera ``(H, W, 3)`` uint8.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from sensorfusion import ConfigError, MissingDependencyError

from ._calibration import AriaCamera

__all__ = ["INSTALL_VRS", "VrsFrame", "VrsRecording", "have_projectaria_tools"]

INSTALL_VRS = "pip install --no-deps projectaria-tools==2.3.0"


def have_projectaria_tools() -> bool:
    """Whether ``projectaria_tools`` can be imported."""
    try:
        importlib.import_module("projectaria_tools.core.data_provider")
    except ImportError:
        return False
    return True


def _data_provider() -> Any:
    try:
        return importlib.import_module("projectaria_tools.core.data_provider")
    except ImportError as exc:
        raise MissingDependencyError("reading Aria .vrs files", install=INSTALL_VRS) from exc


@dataclass(frozen=True)
class VrsFrame:
    """One camera frame of a VRS recording."""

    label: str
    index: int
    t_ns: int
    frame_number: int
    image: np.ndarray


class VrsRecording:
    """An open ``.vrs`` file: camera streams by label, frames by index, the device calibration."""

    def __init__(self, path: str | os.PathLike[str], *, field_path: str = "vrs") -> None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError("VRS file not found", field_path=field_path, value=str(path))
        dp = _data_provider()
        self.path = p
        provider = dp.create_vrs_data_provider(str(p))
        if provider is None:
            raise ConfigError(
                "projectaria-tools cannot open this file as a VRS recording", field_path=field_path, value=str(p)
            )
        self._provider: Any = provider
        self._streams: dict[str, Any] = {}
        for sid in provider.get_all_streams():
            label = str(provider.get_label_from_stream_id(sid))
            if label.startswith("camera-"):
                self._streams[label] = sid

    def __enter__(self) -> VrsRecording:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()

    def close(self) -> None:
        self._provider = None

    @property
    def provider(self) -> Any:
        if self._provider is None:
            raise ConfigError("the VRS recording is closed", value=str(self.path))
        return self._provider

    def labels(self) -> list[str]:
        """Labels of the camera streams in the file (``camera-slam-left``...)."""
        return sorted(self._streams)

    def num_frames(self, label: str) -> int:
        return int(self.provider.get_num_data(self._stream(label)))

    def _stream(self, label: str) -> Any:
        try:
            return self._streams[label]
        except KeyError:
            raise ConfigError(
                "no camera stream with this label in the VRS file", value=label, choices=self.labels()
            ) from None

    def frame(self, label: str, index: int) -> VrsFrame:
        image, record = self.provider.get_image_data_by_index(self._stream(label), int(index))
        arr = np.ascontiguousarray(image.to_numpy_array())
        return VrsFrame(label, int(index), int(record.capture_timestamp_ns), int(record.frame_number), arr)

    def frame_shape(self, label: str) -> tuple[int, ...]:
        """Shape of the label's images (read from its first frame)."""
        return tuple(self.frame(label, 0).image.shape)

    def timestamps_ns(self, label: str) -> np.ndarray:
        """Capture times ``(N,)`` int64 of every frame of ``label``."""
        return np.array(
            [
                self.provider.get_image_data_by_index(self._stream(label), i)[1].capture_timestamp_ns
                for i in range(self.num_frames(label))
            ],
            dtype=np.int64,
        )

    def frames(self, label: str) -> Iterator[VrsFrame]:
        for i in range(self.num_frames(label)):
            yield self.frame(label, i)

    def serial(self) -> str:
        meta = self.provider.get_metadata()
        return str(getattr(meta, "device_serial", ""))

    def cameras(self, labels: Sequence[str] | None = None) -> list[AriaCamera]:
        """The factory calibration of the cameras (Fisheye624 only; others are skipped)."""
        dc = self.provider.get_device_calibration()
        if dc is None:
            raise ConfigError("the VRS file holds no device calibration", value=str(self.path))
        out = []
        for label in labels if labels is not None else dc.get_camera_labels():
            cc = dc.get_camera_calib(str(label))
            if cc is None:
                raise ConfigError(
                    "no calibration for this camera in the VRS file",
                    value=label,
                    choices=sorted(dc.get_camera_labels()),
                )
            if "FISHEYE624" not in str(cc.get_model_name()):
                continue
            w, h = (int(x) for x in cc.get_image_size())
            params = tuple(float(x) for x in cc.get_projection_params())
            m = np.asarray(cc.get_transform_device_camera().to_matrix(), dtype=np.float64)
            out.append(AriaCamera(str(label), params, w, h, m, str(cc.get_serial_number())))
        return out
