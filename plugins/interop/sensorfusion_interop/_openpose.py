"""OpenPose's JSON output: one file per frame, ``people[i].pose_keypoints_2d`` = flat x, y, confidence.

This is what OpenPose writes with ``--write_json`` and what Pose2Sim, RTMLib-based tools and
many others write in its layout. A miss is ``0, 0, 0``. The frame number of a file is the last
integer in its name (``cam01.0042.json``, ``video_000000000042_keypoints.json``); a file without
one takes its position in name order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from sensorfusion import ConfigError

__all__ = ["frame_number", "read_openpose_folder", "read_openpose_frame"]


def frame_number(path: Path, fallback: int) -> int:
    """The last integer in the file name's stem, else ``fallback``."""
    nums = re.findall(r"\d+", path.stem)
    return int(nums[-1]) if nums else fallback


def read_openpose_frame(path: Path, num_joints: int, *, field_path: str = "--view") -> np.ndarray:
    """``(P, J, 3)`` pixels and confidence of one OpenPose JSON file; misses are NaN pixels.

    Entries without ``pose_keypoints_2d`` are skipped; a keypoint count other than
    ``num_joints`` is a :class:`~sensorfusion.ConfigError` (the skeleton is wrong).
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read OpenPose JSON {path}: {e}", field_path=field_path, value=str(path)) from e
    entries = doc.get("people", []) if isinstance(doc, dict) else []
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: 'people' must be a list", field_path=field_path, value=entries)
    people = []
    for p in entries:
        kp = p.get("pose_keypoints_2d") if isinstance(p, dict) else None
        if not kp:
            continue
        try:
            if not isinstance(kp, list) or any(isinstance(v, str | bool) for v in kp):
                raise TypeError
            a = np.asarray(kp, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{path}: pose_keypoints_2d must be a flat list of numbers", field_path=field_path, value=kp
            ) from None
        if a.size % 3:
            raise ConfigError(
                f"{path}: pose_keypoints_2d has {a.size} values, not a multiple of 3 (x, y, confidence per "
                f"keypoint); the skeleton needs {3 * num_joints}",
                field_path="--skeleton",
            )
        if a.size != 3 * num_joints:
            raise ConfigError(
                f"{path}: pose_keypoints_2d has {a.size // 3} keypoints, the skeleton has {num_joints}",
                field_path="--skeleton",
                value=a.size // 3,
            )
        a = a.reshape(num_joints, 3)
        a[(a[:, 2] <= 0) | ~np.isfinite(a).all(-1), :2] = np.nan  # OpenPose writes 0, 0, 0 for a miss
        people.append(a)
    return np.stack(people) if people else np.zeros((0, num_joints, 3))


def read_openpose_folder(folder: Path, num_joints: int, *, field_path: str = "--view") -> dict[int, np.ndarray]:
    """``{frame number: (P, J, 3)}`` from a folder of OpenPose JSON files (see the module docstring)."""
    files = sorted(Path(folder).glob("*.json"))
    return {frame_number(f, k): read_openpose_frame(f, num_joints, field_path=field_path) for k, f in enumerate(files)}
