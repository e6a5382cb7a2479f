"""Radar–camera fusion: radar tracks carry the identities, camera skeletons carry the pose.

Every frame, camera skeletons (world frame) are associated with radar tracks (world frame,
through the radar's ``world_from_sensor``) by the Hungarian method on the floor-plane
distance between the skeleton's centre (mean of its finite joints) and the track, gated by
``max_distance_m``. Then:

* matched: the camera skeleton is reported under the radar track's id (``source`` 0) and its
  shape relative to the track (floor-plane offsets, absolute heights) is remembered;
* radar track without a camera skeleton (dropout, darkness): the remembered shape is moved
  with the radar track (``source`` 1) for at most ``max_dropout_s``;
* camera skeleton without a radar track: reported with id ``camera_id_base + camera id``
  (``source`` 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["FusedPeople", "RadarCameraFuser", "SOURCE_CAMERA_ONLY", "SOURCE_FUSED", "SOURCE_RADAR_ONLY"]

SOURCE_FUSED = 0
SOURCE_RADAR_ONLY = 1
SOURCE_CAMERA_ONLY = 2


@dataclass(frozen=True)
class FusedPeople:
    joints: np.ndarray  # (P, J, 3)
    person_id: np.ndarray  # (P,)
    source: np.ndarray  # (P,) int8


@dataclass
class _Shape:
    offset: np.ndarray  # (J, 3): x, y relative to the track; z absolute
    t_s: float


class RadarCameraFuser:
    def __init__(
        self,
        num_joints: int,
        *,
        max_distance_m: float = 0.7,
        max_dropout_s: float = 10.0,
        camera_id_base: int = 1_000_000,
    ) -> None:
        self.J = num_joints
        self.max_distance_m = max_distance_m
        self.max_dropout_s = max_dropout_s
        self.camera_id_base = camera_id_base
        self.shapes: dict[int, _Shape] = {}
        self.matched = 0
        self.radar_only = 0
        self.camera_only = 0

    def step(
        self,
        t_s: float,
        track_pos_m: np.ndarray,
        track_id: np.ndarray,
        cam_joints_m: np.ndarray | None,
        cam_id: np.ndarray | None,
    ) -> FusedPeople:
        tp = np.asarray(track_pos_m, dtype=np.float64).reshape(-1, 3)
        tid = np.asarray(track_id, dtype=np.int64).reshape(-1)
        cj = (
            np.zeros((0, self.J, 3))
            if cam_joints_m is None
            else np.asarray(cam_joints_m, dtype=np.float64).reshape(-1, self.J, 3)
        )
        cid = np.zeros(0, dtype=np.int64) if cam_id is None else np.asarray(cam_id, dtype=np.int64).reshape(-1)
        fin = np.all(np.isfinite(cj), axis=2)  # (P, J)
        cnt = fin.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            centre = np.where(fin[:, :, None], cj[:, :, :2], 0.0).sum(axis=1) / cnt[:, None]  # NaN when no joint
        pairs: list[tuple[int, int]] = []
        if tp.shape[0] and cj.shape[0]:
            d = np.linalg.norm(tp[:, None, :2] - centre[None, :, :], axis=-1)
            d = np.where(np.isfinite(d), d, 1e6)
            rows, cols = linear_sum_assignment(d)
            pairs = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if d[r, c] <= self.max_distance_m]
        joints: list[np.ndarray] = []
        ids: list[int] = []
        src: list[int] = []
        used_t = {r for r, _ in pairs}
        used_c = {c for _, c in pairs}
        for r, c in pairs:
            off = cj[c].copy()
            off[:, :2] -= tp[r, :2]
            self.shapes[int(tid[r])] = _Shape(off, t_s)
            joints.append(cj[c])
            ids.append(int(tid[r]))
            src.append(SOURCE_FUSED)
            self.matched += 1
        for r in range(tp.shape[0]):
            if r in used_t:
                continue
            shape = self.shapes.get(int(tid[r]))
            if shape is None or t_s - shape.t_s > self.max_dropout_s:
                continue
            j = shape.offset.copy()
            j[:, :2] += tp[r, :2]
            joints.append(j)
            ids.append(int(tid[r]))
            src.append(SOURCE_RADAR_ONLY)
            self.radar_only += 1
        for c in range(cj.shape[0]):
            if c in used_c:
                continue
            joints.append(cj[c])
            ids.append(self.camera_id_base + int(cid[c]) if cid.size else -1)
            src.append(SOURCE_CAMERA_ONLY)
            self.camera_only += 1
        live = set(int(i) for i in tid)
        for k in [k for k in self.shapes if k not in live and t_s - self.shapes[k].t_s > self.max_dropout_s]:
            del self.shapes[k]
        return FusedPeople(
            np.asarray(joints, dtype=np.float64).reshape(-1, self.J, 3),
            np.asarray(ids, dtype=np.int64),
            np.asarray(src, dtype=np.int8),
        )
