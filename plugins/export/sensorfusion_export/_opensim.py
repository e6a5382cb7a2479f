"""The optional OpenSim step after a TRC export: scale a musculoskeletal model to the person
(OpenSim's ``ScaleTool``, measurement-based: marker-pair distances averaged over the TRC)
and solve inverse kinematics on the whole TRC (``InverseKinematicsTool``), writing
``<stem>.osim`` (the scaled model), ``<stem>.mot`` (joint angles), the per-frame marker
errors and the setup files used, beside the TRC.

It needs the ``opensim`` package (OpenSim's own Python bindings: ``pip install
sensorfusion-export[opensim]``) and a model with a marker set named like the TRC's markers
plus its scaling and IK setups. By default those are Pose2Sim's (``pip install pose2sim``
ships them: ``Model_Pose2Sim_simple.osim``, ``Markers_<skeleton>.xml``,
``Scaling_Setup_Pose2Sim_<skeleton>.xml``, ``IK_Setup_Pose2Sim_<skeleton>.xml``) for
``coco17``, ``body_25b``, ``body_25``, ``halpe26``, ``blazepose33`` and ``coco_wholebody133``;
any other skeleton, or your own model, takes ``opensim_model``, ``opensim_scaling_setup`` and
``opensim_ik_setup`` (the model then carries its own markers).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion import ConfigError, MissingDependencyError, SkeletonSpec

__all__ = ["OPENSIM_INSTALL", "check_opensim", "pose2sim_setup", "scale_and_ik"]

OPENSIM_INSTALL = "pip install sensorfusion-export[opensim]"

#: skeleton -> the name Pose2Sim gives its marker set and setups
_POSE2SIM_NAMES = {
    # Pose2Sim's own COCO-17 marker file puts RHip 0.4 m below the pelvis (its location is not
    # the mirror of LHip's), which wrecks scaling; its HALPE-26 set holds every COCO-17 name
    # (plus Neck, Head, toes and heels, which IK and scaling skip when the TRC lacks them)
    "coco17": "Halpe26",
    "body_25b": "Body25b",
    "body_25": "Body25",
    "halpe26": "Halpe26",
    "blazepose33": "Blazepose",
    "coco_wholebody133": "Coco133",
}


def check_opensim() -> None:
    """Raise :class:`~sensorfusion.MissingDependencyError` when ``opensim`` cannot be imported."""
    try:
        found = importlib.util.find_spec("opensim") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingDependencyError(
            "the OpenSim scaling + inverse-kinematics step needs the opensim package (OpenSim's Python "
            "bindings), which is not installed; the TRC export itself works without it",
            install=OPENSIM_INSTALL,
        )


def pose2sim_setup(skeleton: str) -> tuple[Path, Path, Path, Path]:
    """``(model, markers, scaling setup, IK setup)`` that Pose2Sim ships for ``skeleton``."""
    spec = importlib.util.find_spec("Pose2Sim")
    folder = Path(next(iter(spec.submodule_search_locations or []), "")) / "OpenSim_Setup" if spec else None
    if skeleton not in _POSE2SIM_NAMES:
        raise ConfigError(
            f"no default OpenSim model for the {skeleton} skeleton; pass opensim_model=, "
            "opensim_scaling_setup= and opensim_ik_setup=",
            field_path="--option",
            value=skeleton,
            choices=sorted(_POSE2SIM_NAMES),
        )
    if folder is None or not folder.is_dir():
        raise MissingDependencyError(
            "the default OpenSim model and setups come with Pose2Sim, which is not installed "
            "(or pass opensim_model=, opensim_scaling_setup=, opensim_ik_setup=)",
            install="pip install pose2sim",
        )
    name = _POSE2SIM_NAMES[skeleton]
    files = (
        folder / "Model_Pose2Sim_simple.osim",
        folder / f"Markers_{name}.xml",
        folder / f"Scaling_Setup_Pose2Sim_{name}.xml",
        folder / f"IK_Setup_Pose2Sim_{name}.xml",
    )
    for f in files:
        if not f.is_file():
            raise MissingDependencyError(f"Pose2Sim's OpenSim setup lacks {f.name}", install="pip install -U pose2sim")
    return files


def _set(root: ET.Element, path: str, text: str) -> None:
    for el in root.iter(path) if "/" not in path else root.findall(path):
        el.text = text


def scale_and_ik(
    trc: Path,
    skeleton: SkeletonSpec,
    joints_m: np.ndarray,
    *,
    opensim_model: str | None = None,
    opensim_scaling_setup: str | None = None,
    opensim_ik_setup: str | None = None,
    mass_kg: float = 70.0,
    height_m: float | None = None,
) -> dict[str, Any]:
    """Scale a model to ``trc``'s person and run IK over the file; returns what was written
    and the IK's marker errors (RMS and maximum per frame, metres)."""
    check_opensim()
    import opensim

    trc = Path(trc).resolve()
    markers_xml: Path | None = None
    if opensim_model is None or opensim_scaling_setup is None or opensim_ik_setup is None:
        model_p, markers_xml, scaling_p, ik_p = pose2sim_setup(skeleton.name)
        model_p = Path(opensim_model) if opensim_model else model_p
        scaling_p = Path(opensim_scaling_setup) if opensim_scaling_setup else scaling_p
        ik_p = Path(opensim_ik_setup) if opensim_ik_setup else ik_p
        if opensim_model:
            markers_xml = None  # the user's model carries its own markers
    else:
        model_p, scaling_p, ik_p = Path(opensim_model), Path(opensim_scaling_setup), Path(opensim_ik_setup)
    for what, p in (("opensim_model", model_p), ("opensim_scaling_setup", scaling_p), ("opensim_ik_setup", ik_p)):
        if not p.is_file():
            raise ConfigError("file not found", field_path="--option", value=f"{what}={p}")
    log = trc.parent / f"{trc.stem}_opensim.log"
    log.unlink(missing_ok=True)
    with _stdout_to(log):  # OpenSim logs to stdout: keep it for the command's own output
        return _run(opensim, trc, skeleton, joints_m, model_p, markers_xml, scaling_p, ik_p, mass_kg, height_m, log)


@contextlib.contextmanager
def _stdout_to(log: Path) -> Iterator[None]:
    """Send what native code writes to file descriptor 1 into ``log`` meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(fd, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(fd)


def _run(
    opensim: Any,
    trc: Path,
    skeleton: SkeletonSpec,
    joints_m: np.ndarray,
    model_p: Path,
    markers_xml: Path | None,
    scaling_p: Path,
    ik_p: Path,
    mass_kg: float,
    height_m: float | None,
    log: Path,
) -> dict[str, Any]:
    folder, stem = trc.parent, trc.stem
    lines = trc.read_text(encoding="utf-8").splitlines()
    times = [float(ln.split("\t")[1]) for ln in lines[5:] if ln.strip()]
    t_range = f"{times[0]!r} {times[-1]!r}"
    opensim.Logger.removeFileSink()  # no opensim.log in the working folder: the log goes beside the TRC
    opensim.Logger.setLevelString("Info")
    geometry = model_p.parent / "Geometry"
    if geometry.is_dir():
        opensim.ModelVisualizer.addDirToGeometrySearchPaths(str(geometry))
    # the generic model with the marker set the TRC is named after
    generic = folder / f"{stem}_generic.osim"
    model = opensim.Model(str(model_p))
    if markers_xml is not None:
        model.set_MarkerSet(opensim.MarkerSet(str(markers_xml)))
    model.initSystem()
    model.printToXML(str(generic))
    scaled = folder / f"{stem}.osim"
    tree = ET.parse(scaling_p)
    root = tree.getroot()
    _set(root, "mass", f"{mass_kg!r}")
    _set(root, "height", "-1" if height_m is None else f"{height_m * 1000:.1f}")  # informational
    # the ScaleTool reads paths relative to its setup file (which sits beside the TRC)
    _set(root, "model_file", generic.name)
    _set(root, "marker_set_file", "Unassigned")
    _set(root, "marker_file", trc.name)
    _set(root, "time_range", t_range)
    _set(root, "scaling_order", " measurements")
    _set(root, "output_model_file", scaled.name)
    _set(root, "output_scale_file", f"{stem}_scale_factors.xml")
    _set(root, "output_motion_file", f"{stem}_static.mot")
    _set(root, "output_marker_file", "Unassigned")
    for placer in root.iter("MarkerPlacer"):
        # the markers are then moved onto the person: IK on the TRC's first second, averaged
        for tag, text in (("apply", "true"), ("time_range", f"{times[0]!r} {min(times[-1], times[0] + 1.0)!r}")):
            el = placer.find(tag)
            if el is not None:
                el.text = text
    scaling_setup = folder / f"{stem}_scaling_setup.xml"
    tree.write(scaling_setup, encoding="utf-8", xml_declaration=True)
    if not opensim.ScaleTool(str(scaling_setup)).run() or not scaled.is_file():
        raise RuntimeError(f"OpenSim's ScaleTool failed (see {log})")
    motion = folder / f"{stem}.mot"
    tree = ET.parse(ik_p)
    root = tree.getroot()
    _set(root, "model_file", str(scaled))
    _set(root, "marker_file", str(trc))
    _set(root, "time_range", t_range)
    _set(root, "output_motion_file", str(motion))
    _set(root, "results_directory", str(folder))
    _set(root, "report_errors", "true")
    for tool in root.iter("InverseKinematicsTool"):
        tool.set("name", stem)  # names the marker-error file
    ik_setup = folder / f"{stem}_ik_setup.xml"
    tree.write(ik_setup, encoding="utf-8", xml_declaration=True)
    ik = opensim.InverseKinematicsTool(str(ik_setup))
    if not ik.run() or not motion.is_file():
        raise RuntimeError(f"OpenSim's InverseKinematicsTool failed (see {log})")
    errors = _marker_errors(folder / f"{stem}_ik_marker_errors.sto")
    table = opensim.TimeSeriesTable(str(motion))
    out: dict[str, Any] = {
        "trc": str(trc),
        "model": str(scaled),
        "motion": str(motion),
        "log": str(log),
        "frames": int(table.getNumRows()),
        "coordinates": int(table.getNumColumns()),
        "mass_kg": mass_kg,
        "height_m": height_m,
    }
    if errors is not None:
        out["marker_rms_m_median"] = float(np.median(errors[:, 0]))
        out["marker_max_m_max"] = float(np.max(errors[:, 1]))
    return out


def _marker_errors(f: Path) -> np.ndarray | None:
    """``(T, 2)`` RMS and max marker error (m) from the IK's ``<stem>_ik_marker_errors.sto``."""
    if not f.is_file():
        return None
    lines = f.read_text(encoding="utf-8").splitlines()
    head = next((i for i, ln in enumerate(lines) if ln.strip() == "endheader"), None)
    if head is None:
        return None
    cols = lines[head + 1].split("\t")
    rows = np.asarray([[float(v) for v in ln.split("\t")] for ln in lines[head + 2 :] if ln.strip()])
    if rows.size and "marker_error_RMS" in cols and "marker_error_max" in cols:
        return rows[:, [cols.index("marker_error_RMS"), cols.index("marker_error_max")]]
    return None
