"""OpenSim's TRC marker files, as Pose2Sim writes them.

Header: ``PathFileType 4 (X/Y/Z) <name>``, then ``DataRate CameraRate NumFrames NumMarkers Units
OrigDataRate OrigDataStartFrame OrigNumFrames`` and their values, the marker names (each
followed by two empty columns), ``X1 Y1 Z1 X2 ...``, an empty line, then one row per frame:
``Frame#`` (from 1), ``Time`` (s), and the coordinates; a missing value is an empty cell.

Axes: OpenSim is Y-up. :func:`write_trc` writes a Z-up world (the calibration's, as Pose2Sim's
calibrations are) as TRC ``X, Y, Z = world Y, Z, X`` - Pose2Sim's convention, so its TRC files
and ours agree to the digit; :func:`read_trc` turns them back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["read_trc", "write_trc"]


def write_trc(
    path: Path,
    joints_world: np.ndarray,
    frames: Sequence[int],
    rate_hz: float,
    markers: Sequence[tuple[str, int]],
) -> None:
    """Write ``joints_world (T, J, 3)`` metres as a TRC (see the module docstring).

    Args:
        path: the file to write.
        joints_world: world coordinates per frame and joint, NaN where unknown.
        frames: the frame number of each row (0-based; written from 1).
        rate_hz: the frame rate (``DataRate``; ``Time = (frame + 1) / rate_hz``).
        markers: ``(marker name, joint index)`` in the order to write them.
    """
    idx = [i for _, i in markers]
    X = np.asarray(joints_world, dtype=np.float64)[:, idx][..., [1, 2, 0]]
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate_hz:g}\t{rate_hz:g}\t{len(frames)}\t{len(markers)}\tm\t{rate_hz:g}\t{frames[0] if len(frames) else 0}\t{len(frames)}",
        "Frame#\tTime\t" + "\t\t\t".join(m for m, _ in markers) + "\t\t",
        "\t\t" + "\t".join(f"X{k + 1}\tY{k + 1}\tZ{k + 1}" for k in range(len(markers))),
        "",
    ]
    for r, f in enumerate(frames):
        vals = "\t".join("" if not math.isfinite(v) else repr(float(v)) for v in X[r].reshape(-1))
        lines.append(f"{f + 1}\t{(f + 1) / rate_hz!r}\t{vals}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_trc(path: Path) -> tuple[list[str], float, np.ndarray]:
    """``(marker names, DataRate, world (T, M, 3))`` of a TRC written Y-up as above (blank: NaN)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    rate = float(lines[2].split("\t")[0])
    names = [n for n in lines[3].split("\t")[2:] if n]
    rows = []
    for ln in lines[5:]:
        if not ln.strip():
            continue
        cells = ln.split("\t")[2 : 2 + 3 * len(names)]
        cells += [""] * (3 * len(names) - len(cells))
        rows.append([float(x) if x.strip() else np.nan for x in cells])
    trc = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names), 3)
    return names, rate, trc[..., [2, 0, 1]]
