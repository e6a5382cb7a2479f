"""3D people from OpenPose JSON folders and a calibration, through the SDK's own fusion.

:func:`triangulate_openpose` is what ``sensorfusion triangulate`` runs, usable from Python:
the same :class:`sensorfusion.fusion.PersonFusion` the ``triangulate`` / ``multiperson`` stages
run (each view's camera as a :func:`sensorfusion.fusion.view_model`), frame by frame, then
optional gap filling and zero-phase Butterworth filtering of each person's series.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion import ConfigError, RigCalibration, SkeletonSpec
from sensorfusion.fusion import FusionSettings, PersonFusion, butterworth_zero_phase, fill_gaps, view_model

from ._frame_rate import FrameRate
from ._openpose import read_openpose_folder

__all__ = ["TriangulatedPeople", "match_camera", "triangulate_openpose"]


@dataclass
class TriangulatedPeople:
    """The result of :func:`triangulate_openpose`.

    Attributes:
        skeleton: the keypoints' skeleton.
        views: the view names, in the order given.
        frames: every frame number seen in any view, sorted.
        tracks: person ids (track ids), sorted.
        series: per person, ``(T, J, 3)`` world metres over ``frames`` (NaN: unknown), after
            gap filling and filtering.
        observations: per person and frame, ``(joints (J, 3), reprojection_error_px (J,),
            views (J,))`` as fused (before gap filling and filtering).
        per_view: per view, the reprojection summary (mean px, inlier and rejected observations).
        frame_rate: the frame rate used and where it came from.
    """

    skeleton: SkeletonSpec
    views: list[str]
    frames: list[int]
    tracks: list[int]
    series: dict[int, np.ndarray]
    observations: dict[int, dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]]
    per_view: dict[str, dict[str, Any]]
    frame_rate: FrameRate
    notes: list[str] = field(default_factory=list)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def match_camera(calibration: RigCalibration, name: str, *, field_path: str = "--view") -> str:
    """The calibration's sensor id for view ``name``: exact, else ignoring case, ``_`` and ``-``
    (``cam01`` finds ``cam_01``)."""
    if name in calibration.sensors:
        return name
    by_norm = {_norm(k): k for k in calibration.sensors}
    sensor = by_norm.get(_norm(name))
    if sensor is None:
        raise ConfigError(
            "camera not in the calibration", field_path=field_path, value=name, choices=sorted(calibration.sensors)
        )
    return sensor


def triangulate_openpose(
    calibration: RigCalibration,
    views: Sequence[tuple[str, Path]],
    skeleton: SkeletonSpec,
    settings: FusionSettings,
    *,
    frame_rate: FrameRate,
    fill_gaps_frames: int = 0,
    butterworth_cutoff_hz: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TriangulatedPeople:
    """Fuse the people of OpenPose JSON folders into 3D (see the module docstring).

    Args:
        calibration: every view's camera (any camera model).
        views: ``(name, folder)`` per view; ``name`` is matched to a sensor by :func:`match_camera`.
        skeleton: the skeleton of the keypoints (its joint count must match the files).
        settings: fusion settings (single or multi-person, robust, filters...).
        frame_rate: the frames' rate (tracking time step, Butterworth sampling rate).
        fill_gaps_frames: interpolate gaps of at most this many frames (0: none).
        butterworth_cutoff_hz: a zero-phase 4th-order Butterworth low-pass at this cut-off.
        progress: called with ``(done, total)`` after each frame.
    """
    if len(views) < 2:
        raise ConfigError("triangulation needs at least two views", field_path="--view", value=[n for n, _ in views])
    models = []
    for name, folder in views:
        if not Path(folder).is_dir():
            raise ConfigError("not a folder", field_path="--view", value=str(folder))
        sensor = match_camera(calibration, name)
        models.append(
            view_model(
                calibration.camera(sensor), calibration.sensors[sensor].world_from_sensor, field_path=f"--view {name}"
            )
        )
    per_view = [read_openpose_folder(Path(folder), skeleton.num_joints) for _, folder in views]
    frames = sorted(set().union(*[set(p) for p in per_view]))
    if not frames:
        raise ConfigError(
            "no OpenPose JSON files in the view folders", field_path="--view", value=[str(f) for _, f in views]
        )
    fusion = PersonFusion(models, skeleton.parents, settings)
    observations: dict[int, dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for k, f in enumerate(frames):
        r = fusion.step(f / frame_rate.hz, [pv.get(f) for pv in per_view], stamp=f)
        for fr in (*r.backfill, r):  # back-fill: the earlier frames of tracks confirmed now
            for i, tid in enumerate(fr.track_id.tolist()):
                observations.setdefault(int(tid), {})[int(fr.stamp)] = (
                    fr.joints[i],
                    fr.reprojection_error_px[i],
                    fr.views[i],
                )
        if progress is not None:
            progress(k + 1, len(frames))
    tracks = sorted(observations)
    row = {f: i for i, f in enumerate(frames)}
    series: dict[int, np.ndarray] = {}
    for tid in tracks:
        X = np.full((len(frames), skeleton.num_joints, 3), np.nan)
        for f, (x, _, _) in observations[tid].items():
            X[row[f]] = x
        if fill_gaps_frames > 0:
            X = fill_gaps(X, fill_gaps_frames)
        if butterworth_cutoff_hz is not None:
            X = butterworth_zero_phase(X, frame_rate.hz, butterworth_cutoff_hz, order=4)
        series[tid] = X
    names = [n for n, _ in views]
    return TriangulatedPeople(
        skeleton=skeleton,
        views=names,
        frames=frames,
        tracks=tracks,
        series=series,
        observations=observations,
        per_view=dict(zip(names, fusion.reprojection_summary(), strict=True)),
        frame_rate=frame_rate,
    )
