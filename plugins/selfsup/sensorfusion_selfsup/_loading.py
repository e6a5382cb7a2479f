"""Build :class:`Recording` objects from recorded sessions and from OpenPose JSON folders.

Both paths read 2D keypoints and a calibration, nothing else (see :mod:`._recording`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from sensorfusion import ConfigError, RigCalibration
from sensorfusion.schema import split_stream_name

from ._recording import Keypoints2DReader, Recording, group_times, skeleton_by_name
from ._tracks import Detections, TrackBuilder, form_tracks
from ._views import view_geometries

__all__ = ["load_openpose", "load_session", "recording_from_frames"]


def load_session(
    path: str | Path,
    *,
    views: Sequence[str] | None = None,
    streams: Sequence[str] = ("*",),
    identities: bool = False,
    calibration: RigCalibration | None = None,
    min_confidence: float = 0.3,
    tier: str = "numpy",
) -> Recording:
    """The 2D keypoint streams of a session as person tracks.

    Args:
        path: the session (``.zarr``).
        views: camera sensor ids to use, in this order (default: every camera with a 2D stream).
        streams: glob patterns selecting the 2D streams (``"detector:*"``, ``"cam*/keypoints2d"``).
        identities: the streams' ``person_id`` agree across views (else: associate).
        calibration: overrides the session's own calibration (sensor by sensor).
        min_confidence: keypoints at or below this are not used to associate people.
        tier: kernel tier of the per-frame association (numpy: faster than a parallel launch on ~70 points).

    Raises :class:`ConfigError` (with the field path ``SESSION``/``--views``/``--calibration``)
    for a session without 2D keypoint streams, without calibration for a view, or with two
    skeletons.
    """
    reader = Keypoints2DReader(path)
    infos = reader.keypoint_streams(streams)
    if not infos:
        raise ConfigError(
            f"{reader.path}: no 2D keypoint streams (kind keypoints2d) to learn from; recorded streams: "
            f"{', '.join(reader.all_stream_names()) or 'none'}",
            field_path="SESSION",
            value=str(reader.path),
        )
    by_sensor: dict[str, str] = {}
    for key, info in sorted(infos.items()):
        sensor = split_stream_name(info.name)[0]
        if sensor in by_sensor:
            raise ConfigError(
                f"two 2D streams for camera {sensor}: {by_sensor[sensor]} and {key}; choose one with --streams",
                field_path="--streams",
                value=[by_sensor[sensor], key],
            )
        by_sensor[sensor] = key
    chosen = list(views) if views else sorted(by_sensor)
    for v in chosen:
        if v not in by_sensor:
            raise ConfigError(
                "no 2D keypoint stream for this camera", field_path="--views", value=v, choices=sorted(by_sensor)
            )
    cal = reader.calibration if calibration is None else calibration.merged(reader.calibration)
    missing = [v for v in chosen if v not in cal.sensors or cal.sensors[v].camera is None]
    if missing:
        raise ConfigError(
            f"{reader.path}: no camera calibration for {', '.join(missing)}; record the session with a "
            "calibrated rig or pass --calibration FILE",
            field_path="--calibration",
            value=missing,
            choices=sorted(k for k, s in cal.sensors.items() if s.camera is not None),
        )
    skeletons = {infos[by_sensor[v]].spec.skeleton for v in chosen}
    if len(skeletons) != 1 or None in skeletons:
        raise ConfigError(
            "the 2D streams must all declare one skeleton", field_path="--streams", value=sorted(map(str, skeletons))
        )
    skeleton = skeleton_by_name(str(next(iter(skeletons))))
    per_view: list[list[tuple[int, Detections]]] = []
    times = []
    for v in chosen:
        offset = cal.sensors[v].time_offset_ns
        frames = []
        for f in reader.read(by_sensor[v]):
            kp = np.asarray(f["keypoints"], dtype=np.float64)
            pid = np.asarray(f.data.get("person_id", np.full(len(kp), -1)), dtype=np.int64)
            frames.append((f.t_sensor_ns + offset, Detections(kp, pid)))
        per_view.append(frames)
        times.append(np.asarray([t for t, _ in frames], dtype=np.int64))
    return recording_from_frames(
        name=reader.path.name,
        views=chosen,
        calibration=cal,
        skeleton_name=skeleton.name,
        per_view=per_view,
        identities=identities,
        min_confidence=min_confidence,
        tier=tier,
        source=str(reader.path),
    )


def recording_from_frames(
    *,
    name: str,
    views: Sequence[str],
    calibration: RigCalibration,
    skeleton_name: str,
    per_view: Sequence[Sequence[tuple[int, Detections]]],
    identities: bool,
    min_confidence: float = 0.3,
    tier: str = "numpy",
    source: str = "",
) -> Recording:
    """A :class:`Recording` from ``per_view[v] = [(t_ns, detections), ...]``."""
    skeleton = skeleton_by_name(skeleton_name)
    J = skeleton.num_joints
    for v, view_frames in enumerate(per_view):
        for _, d in view_frames:
            if d.keypoints.ndim != 3 or d.keypoints.shape[1:] != (J, 3):
                raise ConfigError(
                    f"view {views[v]}: keypoints of shape {d.keypoints.shape[1:]}, the skeleton {skeleton.name} "
                    f"needs ({J}, 3)",
                    field_path="--skeleton",
                    value=skeleton.name,
                )
    grid, index = group_times([np.asarray([t for t, _ in f], dtype=np.int64) for f in per_view])
    T = len(grid)
    frames: list[list[Detections | None]] = [[None] * len(views) for _ in range(T)]
    for v, f in enumerate(per_view):
        for (_, d), t in zip(f, index[v], strict=True):
            frames[int(t)][v] = d
    geoms = view_geometries(calibration, views)
    builder = TrackBuilder(geoms, skeleton.parents, identities=identities, min_confidence=min_confidence, tier=tier)
    tracks = form_tracks(frames, grid, builder)
    sub = RigCalibration(sensors={v: calibration.sensors[v] for v in views})
    return Recording(
        name=name,
        views=tuple(views),
        calibration=sub,
        skeleton=skeleton,
        t_ns=grid,
        tracks=tuple(tracks),
        source=source,
        notes={"unassigned_detections": builder.unassigned},
    )


def load_openpose(
    views: Mapping[str, str | Path],
    calibration: RigCalibration,
    *,
    skeleton: str = "body_25b",
    fps: float = 30.0,
    identities: bool = False,
    min_confidence: float = 0.3,
    tier: str = "numpy",
    name: str = "openpose",
) -> Recording:
    """OpenPose JSON folders (``{camera: folder}``, one file per frame) as a :class:`Recording`.

    Frame ``n`` (the last integer of a file name) is at ``n / fps`` seconds. ``identities``: the
    i-th person of every file is the same person in every view (Pose2Sim's ``pose-associated``
    folders); otherwise people are associated across views.
    """
    from ._openpose import read_openpose_folder

    skel = skeleton_by_name(skeleton, field_path="--skeleton")
    for cam in views:
        if cam not in calibration.sensors or calibration.sensors[cam].camera is None:
            raise ConfigError(
                "camera not in the calibration",
                field_path="--view",
                value=cam,
                choices=sorted(k for k, s in calibration.sensors.items() if s.camera is not None),
            )
    per_view = []
    for folder in views.values():
        p = Path(folder)
        if not p.is_dir():
            raise ConfigError("not a folder", field_path="--view", value=str(folder))
        frames = read_openpose_folder(p, skel.num_joints)
        if not frames:
            raise ConfigError("no OpenPose JSON files in the folder", field_path="--view", value=str(folder))
        per_view.append(
            [
                (round(n / fps * 1e9), Detections(kp, np.arange(len(kp)) if identities else np.full(len(kp), -1)))
                for n, kp in sorted(frames.items())
            ]
        )
    return recording_from_frames(
        name=name,
        views=list(views),
        calibration=calibration,
        skeleton_name=skel.name,
        per_view=per_view,
        identities=identities,
        min_confidence=min_confidence,
        tier=tier,
        source=", ".join(str(f) for f in views.values()),
    )
