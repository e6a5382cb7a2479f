"""OpenPose JSON folders: one file per frame, ``people[i].pose_keypoints_2d`` = flat x, y, confidence.

The same conventions as ``sensorfusion triangulate``: the frame number is the last integer in
the file name, a joint OpenPose did not find (written 0, 0, 0) is NaN with confidence 0.
(The core's reader is private to its command; this small one uses nothing but the format.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from sensorfusion import ConfigError

__all__ = ["read_openpose_folder"]


def _frame_number(path: Path, fallback: int) -> int:
    nums = re.findall(r"\d+", path.stem)
    return int(nums[-1]) if nums else fallback


def read_openpose_folder(folder: Path, num_joints: int) -> dict[int, np.ndarray]:
    """``{frame number: (P, J, 3)}`` of a folder of OpenPose JSON files; a wrong keypoint count is a
    :class:`ConfigError` naming the file."""
    out: dict[int, np.ndarray] = {}
    for k, f in enumerate(sorted(Path(folder).glob("*.json"))):
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read OpenPose JSON {f}: {e}", field_path="--view", value=str(f)) from e
        people = []
        for p in doc.get("people", []) if isinstance(doc, dict) else []:
            kp = p.get("pose_keypoints_2d") if isinstance(p, dict) else None
            if not kp:
                continue
            a = np.asarray(kp, dtype=np.float64)
            if a.size != 3 * num_joints:
                raise ConfigError(
                    f"{f}: pose_keypoints_2d has {a.size // 3} keypoints, the skeleton has {num_joints}",
                    field_path="--skeleton",
                    value=a.size // 3,
                )
            a = a.reshape(num_joints, 3)
            miss = (a[:, 2] <= 0) | ~np.isfinite(a).all(-1)
            a[miss, :2] = np.nan
            a[miss, 2] = 0.0
            people.append(a)
        out[_frame_number(f, k)] = np.stack(people) if people else np.zeros((0, num_joints, 3))
    return out
