"""Writing fused tracks: JSON (world axes as calibrated) and OpenSim TRC (Y up, as Pose2Sim writes).

TRC: one file per track (``OUT.trc`` for one, ``OUT_P1.trc`` … for several), markers named
after the joints (Pose2Sim's names for ``body_25b``), metres, world ``(x, y, z)`` written as TRC
``(Y, Z, X)`` — what Pose2Sim does for its Z-up calibrations — so the files open in OpenSim and
compare directly with Pose2Sim's own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._infer import TrackEstimate
from ._recording import Recording

__all__ = ["POSE2SIM_BODY25B_MARKERS", "trc_markers", "write_json", "write_trc"]

#: Pose2Sim's BODY_25B marker names, in the order its TRC files list them, and the joint each is.
POSE2SIM_BODY25B_MARKERS: tuple[tuple[str, str], ...] = (
    ("RHip", "right_hip"), ("RKnee", "right_knee"), ("RAnkle", "right_ankle"), ("RBigToe", "right_big_toe"),
    ("RSmallToe", "right_small_toe"), ("RHeel", "right_heel"), ("LHip", "left_hip"), ("LKnee", "left_knee"),
    ("LAnkle", "left_ankle"), ("LBigToe", "left_big_toe"), ("LSmallToe", "left_small_toe"), ("LHeel", "left_heel"),
    ("Neck", "upper_neck"), ("Head", "head_top"), ("Nose", "nose"), ("RShoulder", "right_shoulder"),
    ("RElbow", "right_elbow"), ("RWrist", "right_wrist"), ("LShoulder", "left_shoulder"), ("LElbow", "left_elbow"),
    ("LWrist", "left_wrist"),
)  # fmt: skip


def trc_markers(joints: Sequence[str], skeleton: str) -> list[tuple[str, int]]:
    """``(marker name, joint index)``: Pose2Sim's markers for ``body_25b``, else CamelCase joint names."""
    if skeleton == "body_25b":
        return [(m, list(joints).index(j)) for m, j in POSE2SIM_BODY25B_MARKERS]
    return [("".join(w.capitalize() for w in n.split("_")), i) for i, n in enumerate(joints)]


def _dense(rec: Recording, est: TrackEstimate) -> np.ndarray:
    X = np.full((len(rec.t_ns), rec.skeleton.num_joints, 3), np.nan)
    X[est.start : est.start + len(est.joints)] = est.joints
    return X


def write_trc(path: Path, rec: Recording, estimates: Sequence[TrackEstimate]) -> list[Path]:
    markers = trc_markers(rec.skeleton.joints, rec.skeleton.name)
    rate = rec.rate_hz
    paths = []
    for k, est in enumerate(estimates):
        p = path if len(estimates) == 1 else path.with_name(f"{path.stem}_P{k + 1}{path.suffix}")
        X = _dense(rec, est)[:, [i for _, i in markers]][..., [1, 2, 0]]
        frames = len(rec.t_ns)
        lines = [
            f"PathFileType\t4\t(X/Y/Z)\t{p.name}",
            "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
            f"{rate:g}\t{rate:g}\t{frames}\t{len(markers)}\tm\t{rate:g}\t0\t{frames}",
            "Frame#\tTime\t" + "\t\t\t".join(m for m, _ in markers) + "\t\t",
            "\t\t" + "\t".join(f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(len(markers))),
            "",
        ]
        for f in range(frames):
            vals = "\t".join("" if not math.isfinite(v) else repr(float(v)) for v in X[f].reshape(-1))
            lines.append(f"{f + 1}\t{(f + 1) / rate!r}\t{vals}")
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(p)
    return paths


def write_json(path: Path, rec: Recording, estimates: Sequence[TrackEstimate]) -> Path:
    def num(v: float) -> float | None:
        return float(v) if math.isfinite(v) else None

    doc = {
        "skeleton": rec.skeleton.name,
        "joints": list(rec.skeleton.joints),
        "units": "m",
        "axes": "calibration world",
        "views": list(rec.views),
        "frame_rate_hz": rec.rate_hz,
        "t_ns": [int(t) for t in rec.t_ns],
        "tracks": [
            {
                "id": int(e.track_id),
                "start_frame": int(e.start),
                "joints": [[[num(c) for c in j] for j in frame] for frame in e.joints],
                "views": e.views.tolist(),
                "reprojection_error_px": [[num(v) for v in row] for row in e.reprojection_error_px],
                "status": e.status.tolist(),
            }
            for e in estimates
        ],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path
