"""Project Aria MPS device trajectories (``closed_loop_trajectory.csv``, ``open_loop_trajectory.csv``,
ADT's ``aria_trajectory.csv``) as a pose track.

Columns used: ``tracking_timestamp_us`` (the device's capture clock, microseconds),
``tx/ty/tz_world_device`` (metres) and ``qx/qy/qz/qw_world_device`` (unit quaternion, scalar
last): the pose ``world_from_device`` of the device frame (on Aria gen 1, the left SLAM camera's
frame). ``quality_score`` is kept when present. Rows are read in file order and checked: a row
whose time does not increase (a duplicate or a step backwards), or whose pose is not finite or
not a unit quaternion, is *dropped and counted*, and a jump in time of more than ``max_gap_s``
is *counted as a gap* — nothing is reordered or interpolated silently.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sensorfusion import ConfigError
from sensorfusion.geometry import pose_matrix, quaternion_to_matrix

__all__ = ["TrajectoryIssue", "TrajectoryRead", "read_mps_trajectory"]

_REQUIRED = (
    "tracking_timestamp_us",
    "tx_world_device",
    "ty_world_device",
    "tz_world_device",
    "qx_world_device",
    "qy_world_device",
    "qz_world_device",
    "qw_world_device",
)


@dataclass(frozen=True)
class TrajectoryIssue:
    """One problem found in a trajectory file: ``kind`` is ``backwards`` (time did not increase;
    the row was dropped), ``bad_pose`` (non-finite or non-unit quaternion; dropped) or ``gap``
    (time jumped by more than ``max_gap_s``; kept)."""

    kind: str
    row: int
    t_ns: int
    message: str


@dataclass(frozen=True)
class TrajectoryRead:
    """A trajectory file as a pose track.

    Attributes:
        t_ns: ``(T,)`` int64 device capture times, strictly increasing.
        world_from_device: ``(T, 4, 4)`` float64.
        quality: ``(T,)`` float32 MPS quality score (NaN when the file has none).
        issues: what was dropped or found, in file order.
        rows: data rows in the file.
    """

    t_ns: np.ndarray
    world_from_device: np.ndarray
    quality: np.ndarray
    issues: list[TrajectoryIssue] = field(default_factory=list)
    rows: int = 0

    def count(self, kind: str) -> int:
        return sum(1 for i in self.issues if i.kind == kind)


def read_mps_trajectory(
    path: str | os.PathLike[str],
    *,
    max_gap_s: float = 0.1,
    min_period_s: float = 0.0,
    field_path: str = "trajectory",
) -> TrajectoryRead:
    """Read an MPS trajectory CSV (see the module docstring for the checks).

    ``min_period_s`` decimates: a row closer than this to the last kept row is skipped (MPS
    writes 1 kHz; 0 keeps every row). A missing file or column is a
    :class:`~sensorfusion.ConfigError` naming ``field_path``.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError("trajectory file not found", field_path=field_path, value=str(path))
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(
                f"not an MPS trajectory CSV: missing column(s) {missing}", field_path=field_path, value=str(path)
            )
        has_quality = "quality_score" in (reader.fieldnames or [])
        ts: list[int] = []
        trans: list[tuple[float, float, float]] = []
        quats: list[tuple[float, float, float, float]] = []
        quality: list[float] = []
        issues: list[TrajectoryIssue] = []
        min_period_ns = round(min_period_s * 1e9)
        max_gap_ns = round(max_gap_s * 1e9)
        rows = 0
        for rows, row in enumerate(reader, start=1):
            try:
                t = int(row["tracking_timestamp_us"]) * 1000
                xyz = (float(row["tx_world_device"]), float(row["ty_world_device"]), float(row["tz_world_device"]))
                q = (
                    float(row["qx_world_device"]),
                    float(row["qy_world_device"]),
                    float(row["qz_world_device"]),
                    float(row["qw_world_device"]),
                )
            except (TypeError, ValueError) as exc:
                issues.append(TrajectoryIssue("bad_pose", rows, -1, f"row {rows}: unreadable: {exc}"))
                continue
            norm = float(np.linalg.norm(q))
            if not (np.isfinite(xyz).all() and np.isfinite(q).all()) or abs(norm - 1.0) > 1e-3:
                issues.append(
                    TrajectoryIssue("bad_pose", rows, t, f"row {rows}: pose not finite or quaternion norm {norm:.6f}")
                )
                continue
            if ts and t <= ts[-1]:
                issues.append(
                    TrajectoryIssue(
                        "backwards", rows, t, f"row {rows}: time {t} ns does not follow {ts[-1]} ns; dropped"
                    )
                )
                continue
            if ts and t - ts[-1] < min_period_ns:
                continue
            if ts and t - ts[-1] > max_gap_ns:
                issues.append(
                    TrajectoryIssue(
                        "gap", rows, t, f"row {rows}: {(t - ts[-1]) / 1e9:.3f} s without a pose before {t} ns"
                    )
                )
            ts.append(t)
            trans.append(xyz)
            quats.append(q)
            quality.append(
                float(row["quality_score"])
                if has_quality and row.get("quality_score") not in (None, "")
                else float("nan")
            )
    t_arr = np.asarray(ts, dtype=np.int64)
    poses = pose_matrix(
        quaternion_to_matrix(np.asarray(quats, dtype=np.float64).reshape(-1, 4)),
        np.asarray(trans, dtype=np.float64).reshape(-1, 3),
    )
    return TrajectoryRead(t_arr, poses, np.asarray(quality, dtype=np.float32), issues, rows)
