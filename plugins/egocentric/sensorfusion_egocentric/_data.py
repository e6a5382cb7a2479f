"""Training and evaluation samples from recorded sessions: a headset's 2D keypoints of its wearer
in both views, and the wearer's ground-truth joints in the device frame.

A session qualifies when it holds, for a device ``<dev>``: the two cameras mounted on it (its
calibration), their ``<camera>/keypoints2d`` estimates (any stage), the true device pose
``gt_<dev>/device_pose`` (attrs ``ground_truth`` and ``wearer``: the wearer's ground-truth
person id) and the ground-truth skeleton ``gt/skeleton3d``. Frames are joined on sensor time
(estimates carry their frameset's reference time).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion import ConfigError
from sensorfusion.store import Session

from ._headset import HeadsetGeometry, headset_geometry

__all__ = ["EgoSamples", "concat_samples", "samples_from_session"]


@dataclass
class EgoSamples:
    """Samples of one headset.

    Attributes:
        keypoints: ``(N, 2, J, 3)`` float32, x_px, y_px, confidence (NaN / 0 where not detected).
        joints_device: ``(N, J, 3)`` float32, the wearer's ground truth in the true device frame.
        world_from_device: ``(N, 4, 4)`` float64, the true device pose.
        reported_world_from_device: ``(N, 4, 4)`` the pose the headset reported (NaN when absent).
        joints_world: ``(N, J, 3)`` float32 ground truth in the world.
        t_ns: ``(N,)`` int64.
        geometry: the headset's stereo geometry.
        skeleton: the skeleton name of keypoints and joints.
        source: where the samples come from, per sample (session index into ``sessions``).
    """

    keypoints: np.ndarray
    joints_device: np.ndarray
    world_from_device: np.ndarray
    reported_world_from_device: np.ndarray
    joints_world: np.ndarray
    t_ns: np.ndarray
    geometry: HeadsetGeometry
    skeleton: str
    source: np.ndarray
    sessions: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.t_ns)

    def subset(self, idx: np.ndarray) -> EgoSamples:
        return EgoSamples(
            self.keypoints[idx], self.joints_device[idx], self.world_from_device[idx],
            self.reported_world_from_device[idx], self.joints_world[idx], self.t_ns[idx],
            self.geometry, self.skeleton, self.source[idx], self.sessions,
        )  # fmt: skip


def _find_keypoint_streams(session: Session, cameras: tuple[str, str], stage: str | None) -> list[tuple[str, str]]:
    found = []
    estimates = session.estimates()
    for cam in cameras:
        name = f"{cam}/keypoints2d"
        stages = sorted(k.split(":")[0] for k in estimates if k.split(":")[1] == name)
        if stage is not None:
            stages = [s for s in stages if s == stage]
        if not stages:
            raise ConfigError(
                f"session {session.path}: no {name} estimates" + (f" from stage {stage!r}" if stage else ""),
                value=str(session.path),
            )
        found.append((stages[0], name))
    return found


def samples_from_session(
    path: str | os.PathLike[str], *, devices: list[str] | None = None, keypoints_stage: str | None = None
) -> list[EgoSamples]:
    """Samples of every headset (or of ``devices``) in a recorded session (see the module docstring)."""
    s = Session.open(path)
    cal = s.calibration
    mounted = sorted({sc.mount.device for sc in cal.sensors.values() if sc.mount is not None})
    wanted = mounted if devices is None else list(devices)
    streams = s.streams()
    if "gt/skeleton3d" not in streams:
        raise ConfigError(f"session {path}: no gt/skeleton3d ground truth", value=str(path))
    gt_frames = {f.t_sensor_ns: f for f in s.read("gt/skeleton3d")}
    skeleton = str(streams["gt/skeleton3d"].spec.skeleton)
    out = []
    for dev in wanted:
        if dev not in mounted:
            raise ConfigError(f"session {path}: no cameras mounted on device {dev!r}", value=dev, choices=mounted)
        geom = headset_geometry(cal, dev, field_path=f"{path}: calibration")
        pose_name = f"gt_{dev}/device_pose"
        if pose_name not in streams:
            raise ConfigError(f"session {path}: no true pose {pose_name} for headset {dev!r}", value=str(path))
        wearer = int(streams[pose_name].spec.attrs["wearer"])
        poses = {f.t_sensor_ns: f["world_from_device"] for f in s.read(pose_name)}
        reported: dict[int, np.ndarray] = {}
        if f"{dev}/device_pose" in streams:
            reported = {f.t_sensor_ns: f["world_from_device"] for f in s.read(f"{dev}/device_pose")}
        (st_l, n_l), (st_r, n_r) = _find_keypoint_streams(s, geom.cameras, keypoints_stage)
        left = {f.t_sensor_ns: f for f in s.read(n_l, stage=st_l)}
        right = {f.t_sensor_ns: f for f in s.read(n_r, stage=st_r)}
        kps, jd, wfd, rep, jw, ts = [], [], [], [], [], []
        for t in sorted(set(left) | set(right)):
            g = gt_frames.get(t)
            pose = poses.get(t)
            if g is None or pose is None:
                continue
            rows = np.nonzero(np.asarray(g["person_id"]) == wearer)[0]
            if not len(rows):
                continue
            joints = np.asarray(g["joints"][rows[0]], dtype=np.float64)
            J = joints.shape[0]
            kp = np.full((2, J, 3), np.nan, dtype=np.float32)
            kp[..., 2] = 0.0
            for v, frames in enumerate((left, right)):
                f = frames.get(t)
                if f is not None and len(f["person_id"]):
                    kp[v] = f["keypoints"][0, :J]
            if not np.isfinite(kp[..., :2]).any():
                continue
            inv = np.linalg.inv(pose)
            kps.append(kp)
            jd.append((joints @ inv[:3, :3].T + inv[:3, 3]).astype(np.float32))
            wfd.append(pose)
            rep.append(reported.get(t, np.full((4, 4), np.nan)))
            jw.append(joints.astype(np.float32))
            ts.append(t)
        n = len(ts)
        if n == 0:
            raise ConfigError(
                f"session {path}: headset {dev!r} has no frame with detections and ground truth", value=str(path)
            )
        out.append(
            EgoSamples(
                np.stack(kps),
                np.stack(jd),
                np.stack(wfd),
                np.stack(rep),
                np.stack(jw),
                np.asarray(ts, dtype=np.int64),
                geom,
                skeleton,
                np.zeros(n, dtype=np.int64),
                [str(Path(path))],
            )
        )
    return out


def concat_samples(parts: list[EgoSamples]) -> EgoSamples:
    """One sample set from several (same skeleton and headset geometry, else ``ConfigError``)."""
    if not parts:
        raise ConfigError("no samples")
    first = parts[0]
    for p in parts[1:]:
        if p.skeleton != first.skeleton:
            raise ConfigError("sessions with different skeletons", value=[first.skeleton, p.skeleton])
        if not _same_geometry(p.geometry, first.geometry):
            raise ConfigError(
                "sessions with different headset geometry (camera models or mounting) cannot be mixed in one model",
                value=[first.sessions[0], p.sessions[0]],
            )
    sessions: list[str] = []
    src = []
    for p in parts:
        src.append(p.source + len(sessions))
        sessions += p.sessions
    cat: Any = np.concatenate
    return EgoSamples(
        cat([p.keypoints for p in parts]), cat([p.joints_device for p in parts]), cat([p.world_from_device for p in parts]),
        cat([p.reported_world_from_device for p in parts]), cat([p.joints_world for p in parts]), cat([p.t_ns for p in parts]),
        first.geometry, first.skeleton, cat(src), sessions,
    )  # fmt: skip


def _same_geometry(a: HeadsetGeometry, b: HeadsetGeometry, tol: float = 1e-6) -> bool:
    return all(ma.model_dump() == mb.model_dump() for ma, mb in zip(a.models, b.models, strict=True)) and bool(
        np.abs(a.device_from_camera - b.device_from_camera).max() < tol
    )
