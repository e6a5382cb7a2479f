"""What the training path sees: 2D keypoints per person track, per view, and the calibration.

This module is the **only** way training reads a session, and it cannot return anything but
2D keypoint streams: :class:`Keypoints2DReader` opens a session, lists only its
``KEYPOINTS2D`` streams (source streams and stage outputs alike) and refuses to read any other
kind (:class:`GroundTruthAccessError`). A :class:`Recording` holds only 2D arrays, the rig
calibration of the views it uses, the skeleton and the frame times; :func:`train` accepts
nothing else. Ground truth is read by :mod:`sensorfusion_selfsup._groundtruth`, which only the
``eval`` command and the benchmark import.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sensorfusion import ConfigError, Frame, FrameKind, RigCalibration, SchemaError, SkeletonSpec, StoreError
from sensorfusion.store import Session, StreamInfo

__all__ = [
    "GroundTruthAccessError",
    "Keypoints2DReader",
    "Recording",
    "Track2D",
    "group_times",
    "skeleton_by_name",
]


class GroundTruthAccessError(SchemaError):
    """Something asked the 2D-only reader for a stream that is not 2D keypoints."""


@dataclass(frozen=True)
class Track2D:
    """One person over consecutive frames ``start .. start + T - 1`` of its recording.

    ``keypoints (T, V, J, 3)``: raw x_px, y_px, confidence per frame, view and joint (NaN, NaN, 0
    where the person was not seen in that view or the joint was missed).
    """

    track_id: int
    start: int
    keypoints: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])


@dataclass(frozen=True)
class Recording:
    """2D keypoints of one recording, grouped into person tracks, and its geometry.

    Attributes:
        name: for messages and tables.
        views: sensor ids, in the order of the ``V`` axis.
        calibration: the rig calibration (a camera for every view).
        skeleton: the keypoints' skeleton spec.
        t_ns: ``(T,)`` frame times (sensor time + the calibration's time offsets).
        tracks: person tracks.
        source: where it came from (session path or OpenPose folders).
    """

    name: str
    views: tuple[str, ...]
    calibration: RigCalibration
    skeleton: SkeletonSpec
    t_ns: np.ndarray
    tracks: tuple[Track2D, ...]
    source: str = ""
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def rate_hz(self) -> float:
        if len(self.t_ns) < 2:
            return 30.0
        return float(1e9 / np.median(np.diff(self.t_ns)))

    @property
    def num_views(self) -> int:
        return len(self.views)


def skeleton_by_name(name: str, *, field_path: str = "skeleton") -> SkeletonSpec:
    """A skeleton spec by name: the built-ins and every plugin's (a :class:`ConfigError` lists them)."""
    from sensorfusion.plugins import get_plugin_host

    return get_plugin_host().skeletons.get(name, field_path=field_path)


class Keypoints2DReader:
    """A session opened for training: only its ``KEYPOINTS2D`` streams and its calibration."""

    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        if not p.exists():
            raise ConfigError("no such session", field_path="SESSION", value=str(p))
        try:
            self._session = Session.open(p)
        except StoreError as e:
            raise ConfigError(str(e), field_path="SESSION", value=str(p)) from e
        self.path = p
        self._infos = {
            k: info
            for k, info in {**self._session.streams(), **self._session.estimates()}.items()
            if info.spec.kind == FrameKind.KEYPOINTS2D
        }

    @property
    def calibration(self) -> RigCalibration:
        return self._session.calibration

    def keypoint_streams(self, patterns: Sequence[str] = ("*",)) -> dict[str, StreamInfo]:
        """``{key: info}`` of the 2D keypoint streams whose key or name matches a pattern."""
        return {
            k: i
            for k, i in self._infos.items()
            if any(fnmatch.fnmatchcase(k, p) or fnmatch.fnmatchcase(i.name, p) for p in patterns)
        }

    def all_stream_names(self) -> list[str]:
        """Names (not contents) of every recorded stream, for error messages."""
        return sorted({**self._session.streams(), **self._session.estimates()})

    def read(self, key: str) -> Iterator[Frame]:
        info = self._infos.get(key)
        if info is None:
            raise GroundTruthAccessError(
                f"{self.path}: {key!r} is not a 2D keypoint stream; the training path reads only "
                f"{sorted(self._infos) or 'keypoints2d streams (there are none)'}"
            )
        return self._session.read(info.name, stage=info.stage)


def group_times(times: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Common frame times of several streams: ``(t_ns (T,), [index of each stream frame (n_s,)])``.

    Frames within a third of the median frame period of each other are one frame (streams of a
    synchronized rig carry the same stamps; others are grouped by nearest time).
    """
    allt = np.concatenate([np.asarray(t, dtype=np.int64) for t in times]) if times else np.zeros(0, np.int64)
    if allt.size == 0:
        return np.zeros(0, np.int64), [np.zeros(0, np.int64) for _ in times]
    u = np.unique(allt)
    if len(u) > 1:
        period = float(np.median(np.diff(u)))
        gaps = np.diff(u) > period / 3
        # the smallest stamp of each cluster of near-equal stamps names the frame
        starts = np.concatenate([[True], gaps])
        grid = u[starts]
        cluster = np.cumsum(starts) - 1
        lookup = dict(zip(u.tolist(), cluster.tolist(), strict=True))
    else:
        grid = u
        lookup = {int(u[0]): 0}
    return grid, [np.asarray([lookup[int(x)] for x in t], dtype=np.int64) for t in times]
