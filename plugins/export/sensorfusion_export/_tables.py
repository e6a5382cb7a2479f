"""JSON and CSV: the people of one or more skeleton streams as plain data.

JSON (one document)::

    {"format": "sensorfusion-export", "version": 1, "session": "<path>",
     "units": "m", "axes": "session world (Z up)",
     "streams": [{"stream": "fusion:fusion/skeleton3d", "skeleton": "coco17",
                  "joints": ["nose", ...], "edges": [[0, 1], ...], "rate_hz": 30.0,
                  "person_ids": [0, 1],
                  "frames": [{"t_ns": 123, "time_s": 0.0,
                              "people": [{"id": 0, "joints": [[x, y, z] or null, ...]}]}]}]}

CSV (one row per frame, person and joint; a joint unknown in that frame has empty
``x_m,y_m,z_m``)::

    stream,t_ns,time_s,person_id,joint,x_m,y_m,z_m

Only recorded frames are written (no rows for dropped frames); ``time_s`` is seconds since
the first exported frame of the first stream, ``t_ns`` the sensor time.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ._motion import Motion

__all__ = ["CSV_COLUMNS", "write_csv", "write_json"]

CSV_COLUMNS = ("stream", "t_ns", "time_s", "person_id", "joint", "x_m", "y_m", "z_m")


def _t0(motions: list[Motion]) -> int:
    return min(int(m.t_ns[m.recorded][0]) for m in motions)


def _point(v: np.ndarray) -> list[float] | None:
    return [float(x) for x in v] if np.isfinite(v).all() else None


def write_json(path: Path, motions: list[Motion], session: str) -> int:
    """Write the JSON document; returns the frames written."""
    t0 = _t0(motions)
    frames = 0
    streams: list[dict[str, Any]] = []
    for m in motions:
        present = m.present()
        rows = []
        for s in np.flatnonzero(m.recorded).tolist():
            people = [
                {"id": int(pid), "joints": [_point(j) for j in m.joints_m[s, k]]}
                for k, pid in enumerate(m.person_ids.tolist())
                if present[s, k]
            ]
            rows.append({"t_ns": int(m.t_ns[s]), "time_s": (int(m.t_ns[s]) - t0) / 1e9, "people": people})
        frames += len(rows)
        streams.append(
            {
                "stream": m.stream,
                "skeleton": m.skeleton.name,
                "joints": list(m.skeleton.joints),
                "edges": [list(e) for e in m.skeleton.edges],
                "rate_hz": m.rate_hz,
                "person_ids": [int(p) for p in m.person_ids.tolist()],
                "frames": rows,
            }
        )
    doc = {
        "format": "sensorfusion-export",
        "version": 1,
        "session": session,
        "units": "m",
        "axes": "session world (Z up)",
        "streams": streams,
    }
    path.write_text(json.dumps(doc, allow_nan=False), encoding="utf-8")
    return frames


def write_csv(path: Path, motions: list[Motion]) -> int:
    """Write the CSV table; returns the data rows written."""
    t0 = _t0(motions)
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for m in motions:
            present = m.present()
            names = m.skeleton.joints
            for s in np.flatnonzero(m.recorded).tolist():
                t = int(m.t_ns[s])
                ts = f"{(t - t0) / 1e9:.9f}"
                for k, pid in enumerate(m.person_ids.tolist()):
                    if not present[s, k]:
                        continue
                    for j, name in enumerate(names):
                        x, y, z = (float(v) for v in m.joints_m[s, k, j])
                        cells = ["", "", ""] if not math.isfinite(x + y + z) else [repr(x), repr(y), repr(z)]
                        w.writerow([m.stream, t, ts, pid, name, *cells])
                        n += 1
    return n
