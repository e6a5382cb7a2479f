"""C3D (the motion-capture labs' binary format) through ezc3d.

One file for every person of the stream: a point per joint and person, labelled
``P<id>:<joint>`` with the subject prefixes declared the way Vicon-style readers look for
them (``SUBJECTS:NAMES``, ``SUBJECTS:LABEL_PREFIXES``, ``SUBJECTS:USES_PREFIXES``).
``POINT:UNITS`` is ``mm`` (default) or ``m``, ``POINT:RATE`` the stream's frame rate, axes the
session's world (Z up, as lab C3D files are). A joint that is unknown in a frame (or a person
who is absent) is written as the C3D convention says: residual ``-1`` (invalid), no
coordinates; a known point has residual ``0`` (valid, computed rather than measured by the
cameras' own residual). ``MANUFACTURER`` names sensorfusion and ``SENSORFUSION`` carries the
stream, skeleton and the first frame's time (``FIRST_T_NS`` as text: C3D has no int64).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._motion import Motion

__all__ = ["C3D_UNITS", "read_c3d_points", "write_c3d"]

#: POINT:UNITS -> units per metre.
C3D_UNITS = {"mm": 1000.0, "m": 1.0}


def write_c3d(path: Path, motion: Motion, *, units: str = "mm") -> list[str]:
    """Write ``motion`` to ``path``; returns the point labels in file order."""
    import ezc3d

    from sensorfusion import __version__

    scale = C3D_UNITS[units]
    T, P, J, _ = motion.joints_m.shape
    prefixes = [f"P{pid}:" for pid in motion.person_ids.tolist()]
    labels = [f"{pre}{name}" for pre in prefixes for name in motion.skeleton.joints]
    xyz = motion.joints_m.reshape(T, P * J, 3) * scale  # (T, N, 3)
    known = np.asarray(np.isfinite(xyz).all(axis=2), dtype=bool)
    points = np.zeros((4, P * J, T))
    points[:3] = np.where(known[..., None], xyz, np.nan).transpose(2, 1, 0)
    points[3] = 1.0
    residuals = np.where(known, 0.0, -1.0).T[None]  # (1, N, T)
    c = ezc3d.c3d()
    point = c["parameters"]["POINT"]
    point["RATE"]["value"] = [float(motion.rate_hz)]
    point["UNITS"]["value"] = [units]
    point["LABELS"]["value"] = labels
    point["DESCRIPTIONS"]["value"] = [
        f"person {pid} {name}" for pid in motion.person_ids.tolist() for name in motion.skeleton.joints
    ]
    c["data"]["points"] = points
    c["data"]["meta_points"] = {"residuals": residuals, "camera_masks": np.zeros((7, P * J, T), dtype=bool)}
    if P:
        c.add_parameter("SUBJECTS", "NAMES", [p.rstrip(":") for p in prefixes])
        c.add_parameter("SUBJECTS", "LABEL_PREFIXES", prefixes)
        c.add_parameter("SUBJECTS", "USES_PREFIXES", 1)
        c.add_parameter("SUBJECTS", "IS_STATIC", 0)
    c.add_parameter("MANUFACTURER", "COMPANY", "sensorfusion")
    c.add_parameter("MANUFACTURER", "SOFTWARE", "sensorfusion-export")
    c.add_parameter("MANUFACTURER", "VERSION_LABEL", __version__)
    c.add_parameter("SENSORFUSION", "STREAM", motion.stream)
    c.add_parameter("SENSORFUSION", "SKELETON", motion.skeleton.name)
    c.add_parameter("SENSORFUSION", "FIRST_T_NS", str(int(motion.t_ns[0])) if T else "")
    # ezc3d appends ".c3d" to any other name: write that, then give the file the name asked for
    target = Path(path)
    written = target if target.suffix.lower() == ".c3d" else target.with_name(target.name + ".c3d")
    c.write(str(written))
    if written != target:
        written.replace(target)
    return labels


def read_c3d_points(path: Path) -> tuple[list[str], str, float, np.ndarray]:
    """``(labels, POINT:UNITS, POINT:RATE, points (T, N, 3) in metres, NaN: invalid)``."""
    import ezc3d

    c = _open(ezc3d, Path(path))
    point = c["parameters"]["POINT"]
    units = str(point["UNITS"]["value"][0]).strip()
    rate = float(np.asarray(point["RATE"]["value"]).reshape(-1)[0])
    xyz = np.asarray(c["data"]["points"])[:3].transpose(2, 1, 0) / C3D_UNITS[units]
    res = np.asarray(c["data"]["meta_points"]["residuals"])[0].T
    xyz[res < 0] = np.nan
    return [str(x) for x in point["LABELS"]["value"]], units, rate, xyz


def _open(ezc3d: Any, path: Path) -> Any:
    """ezc3d's reader (which needs the ``.c3d`` suffix: other names go through a link)."""
    if path.suffix.lower() == ".c3d":
        return ezc3d.c3d(str(path))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        link = Path(tmp) / "file.c3d"
        link.symlink_to(path.resolve())
        return ezc3d.c3d(str(link))
