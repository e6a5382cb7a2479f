"""Writing triangulated people: TRC (one file per person), JSON, or a session.

Every writer creates the output's folder when it does not exist yet.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion import RigCalibration

from ._pose2sim import trc_markers
from ._trc import write_trc
from ._triangulate import TriangulatedPeople

__all__ = ["write_json", "write_session", "write_trc_people"]


def _prepare(out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def write_trc_people(result: TriangulatedPeople, out: Path) -> list[Path]:
    """``OUT.trc`` for one person (or none: an empty series), else ``OUT_P1.trc``, ``OUT_P2.trc``...
    in track order. Markers: Pose2Sim's for ``body_25b``, every joint otherwise."""
    out = _prepare(out)
    markers = trc_markers(result.skeleton)
    T, J = len(result.frames), result.skeleton.num_joints
    if len(result.tracks) <= 1:
        series = result.series[result.tracks[0]] if result.tracks else np.full((T, J, 3), np.nan)
        write_trc(out, series, result.frames, result.frame_rate.hz, markers)
        return [out]
    paths = []
    for k, tid in enumerate(result.tracks):
        p = out.with_name(f"{out.stem}_P{k + 1}{out.suffix}")
        write_trc(p, result.series[tid], result.frames, result.frame_rate.hz, markers)
        paths.append(p)
    return paths


def _finite(values: np.ndarray) -> list[Any]:
    return [None if not math.isfinite(float(v)) else float(v) for v in values]


def write_json(result: TriangulatedPeople, out: Path) -> Path:
    """One JSON document: skeleton, joints, units, frame rate (and its source), per-view
    reprojection summary, and per frame the people with joints, reprojection errors and views."""
    out = _prepare(out)
    doc = {
        "skeleton": result.skeleton.name,
        "joints": list(result.skeleton.joints),
        "units": "m",
        "frame_rate_hz": result.frame_rate.hz,
        "frame_rate_source": result.frame_rate.source,
        "axes": "calibration world (not remapped)",
        "views": result.views,
        "per_view": result.per_view,
        "frames": [
            {
                "frame": f,
                "people": [
                    {
                        "id": tid,
                        "joints": [_finite(j) for j in result.series[tid][i]],
                        "reprojection_error_px": _finite(result.observations[tid][f][1]),
                        "views": [int(v) for v in result.observations[tid][f][2]],
                    }
                    for tid in result.tracks
                    if f in result.observations[tid]
                ],
            }
            for i, f in enumerate(result.frames)
        ],
    }
    out.write_text(json.dumps(doc), encoding="utf-8")
    return out


def write_session(
    result: TriangulatedPeople, out: Path, calibration: RigCalibration, *, calibration_file: str | None = None
) -> Path:
    """A session with one ``triangulate/skeleton3d`` stream (the fusion stages' contract,
    :func:`sensorfusion.fusion.skeleton3d_spec`), stamped from the frame numbers and rate."""
    from sensorfusion import Frame
    from sensorfusion.fusion import skeleton3d_spec
    from sensorfusion.store import SessionWriter

    out = _prepare(out)
    J = result.skeleton.num_joints
    spec = skeleton3d_spec("triangulate/skeleton3d", result.skeleton)
    rig = {
        "name": "sensorfusion-triangulate",
        "views": result.views,
        "skeleton": result.skeleton.name,
        "frame_rate_hz": result.frame_rate.hz,
        "frame_rate_source": result.frame_rate.source,
        "calibration_file": calibration_file,
    }
    w = SessionWriter(out, rig=rig, calibration=calibration)
    w.add_stream(spec, stage="triangulate")
    for i, f in enumerate(result.frames):
        here = [tid for tid in result.tracks if f in result.observations[tid]]
        t_ns = round(f / result.frame_rate.hz * 1e9)
        data: dict[str, np.ndarray] = {
            "joints": np.stack([result.series[t][i] for t in here]).astype(np.float32)
            if here
            else np.zeros((0, J, 3), np.float32),
            "person_id": np.asarray(here, dtype=np.int64),
            "reprojection_error_px": np.stack([result.observations[t][f][1] for t in here]).astype(np.float32)
            if here
            else np.zeros((0, J), np.float32),
            "views": np.stack([np.minimum(result.observations[t][f][2], 127) for t in here]).astype(np.int8)
            if here
            else np.zeros((0, J), np.int8),
        }
        w.write(Frame(spec.name, t_ns, t_ns, i, data), stage="triangulate")
    w.close({"per_view": result.per_view})
    return out
