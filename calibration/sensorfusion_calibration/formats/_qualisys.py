"""Qualisys Track Manager calibration export (``.qca.txt``, XML).

Layout: ``<calibration><cameras><camera serial=... avg-residual=...>`` with, per camera:

* ``<transform x= y= z= r11= ... r33=>``: the camera's **position in the world in millimetres**
  (``x, y, z``) and a rotation matrix whose entries ``r{row}{col}``, read row by row, are the
  rotation of ``camera_from_world`` for Qualisys' camera axes (x right, **y up, z pointing back
  out of the lens**). OpenCV's axes (y down, z forward) are those axes turned by 180° about x,
  so OpenCV's ``camera_from_world`` is ``diag(1, -1, -1) @ R`` with translation
  ``-diag(1, -1, -1) @ R @ position``. This is exactly what Pose2Sim's converter computes.
* ``<fov_video left= top= right= bottom=>``: the video window on the sensor in pixels
  (inclusive), so the image is ``right - left + 1`` wide and ``bottom - top + 1`` tall.
* ``<intrinsic focalLengthU= focalLengthV= centerPointU= centerPointV= ...>``: focal lengths and
  principal point in **1/64 pixel** sub-pixel units (divide by 64; the principal point is then
  taken relative to the ``fov_video`` window). A camera with ``video_resolution="540p"`` etc.
  is scaled by ``resolution / 1080``, as in Pose2Sim.
* ``radialDistortion1..3`` (k1, k2, k3) and ``tangentalDistortion1..2`` (p1, p2), OpenCV's
  Brown–Conrady terms.

**The Pose2Sim quirk.** Pose2Sim's ``calib_qca_fun`` divides the distortion terms by 64 as well
(and drops k3), so ``Calib_qualisys.toml`` made by Pose2Sim carries k1 ≈ -0.0007 where
calibrating the same cameras from checkerboards gives k1 ≈ -0.046, the undivided value. The
reader's ``distortion`` option chooses: ``"raw"`` (default, the physically right value) or
``"pose2sim"`` (divide by 64 and drop k3, to reproduce Pose2Sim's own conversion pixel for
pixel). The writer applies the inverse of the same option.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from sensorfusion import ConfigError
from sensorfusion.schema import PinholeCamera, RigCalibration, SensorCalibration, Transform

from ._common import cameras_of

__all__ = ["QCA_DISTORTION_MODES", "load_qca", "save_qca"]

QCA_DISTORTION_MODES = ("raw", "pose2sim")
_CV_FROM_Q = np.diag([1.0, -1.0, -1.0])


def _check_mode(distortion: str) -> None:
    if distortion not in QCA_DISTORTION_MODES:
        raise ConfigError(
            "unknown QCA distortion mode", field_path="distortion", value=distortion, choices=QCA_DISTORTION_MODES
        )


def load_qca(path: Path, *, distortion: str = "raw") -> RigCalibration:
    """Read a Qualisys ``.qca.txt``; ``distortion`` is ``"raw"`` or ``"pose2sim"`` (see the module doc)."""
    _check_mode(distortion)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ConfigError(f"not a valid XML file: {e}", source=str(path)) from None
    cams = root.findall("cameras/camera")
    if not cams:
        raise ConfigError("no <cameras><camera> element", source=str(path))
    sensors: dict[str, SensorCalibration] = {}
    for i, cam in enumerate(cams):
        name = cam.get("serial") or f"cam_{i + 1:02d}"
        tr, fov, intr = cam.find("transform"), cam.find("fov_video"), cam.find("intrinsic")
        if tr is None or fov is None or intr is None:
            raise ConfigError("camera lacks <transform>, <fov_video> or <intrinsic>", field_path=name, source=str(path))
        res_attr = cam.get("video_resolution")
        res = int(res_attr[:-1]) if res_attr not in (None, "N/A") and res_attr[:-1].isdigit() else 1080
        scale = res / 1080.0
        left, top = float(fov.get("left", 0)), float(fov.get("top", 0))
        width = (float(fov.get("right", 0)) - left + 1.0) * scale
        height = (float(fov.get("bottom", 0)) - top + 1.0) * scale

        def f(el: ET.Element, key: str) -> float:
            return float(el.get(key, 0.0))

        div = 64.0 if distortion == "pose2sim" else 1.0
        cam_model = PinholeCamera(
            width=round(width), height=round(height),
            fx=f(intr, "focalLengthU") / 64.0 * scale, fy=f(intr, "focalLengthV") / 64.0 * scale,
            cx=(f(intr, "centerPointU") / 64.0 - left) * scale, cy=(f(intr, "centerPointV") / 64.0 - top) * scale,
            k1=f(intr, "radialDistortion1") / div, k2=f(intr, "radialDistortion2") / div,
            k3=0.0 if distortion == "pose2sim" else f(intr, "radialDistortion3"),
            p1=f(intr, "tangentalDistortion1") / div, p2=f(intr, "tangentalDistortion2") / div,
        )  # fmt: skip
        rq = np.array([[f(tr, f"r{i}{j}") for j in (1, 2, 3)] for i in (1, 2, 3)])
        position_m = np.array([f(tr, "x"), f(tr, "y"), f(tr, "z")]) / 1000.0
        m = np.eye(4)  # a rounded rotation is re-orthonormalised (with a note) by Transform
        m[:3, :3] = (_CV_FROM_Q @ rq).T  # world_from_camera rotation (OpenCV axes)
        m[:3, 3] = position_m
        sensors[name] = SensorCalibration(camera=cam_model, world_from_sensor=Transform.from_matrix(m))
    return RigCalibration(sensors=sensors)


def save_qca(cal: RigCalibration, path: Path, *, distortion: str = "raw") -> None:
    """Write a Qualisys ``.qca.txt`` (pinhole cameras with k1..k3, p1, p2 only)."""
    _check_mode(distortion)
    root = ET.Element("calibration", {"created": "sensorfusion", "type": "regular", "source": "sensorfusion"})
    ET.SubElement(root, "results", {"min-max-diff": "0.", "std-dev": "0."})
    cams_el = ET.SubElement(root, "cameras")
    for sid, cam, wfc in cameras_of(cal, "qualisys", (PinholeCamera,)):
        assert isinstance(cam, PinholeCamera)
        if cam.k4 or cam.k5 or cam.k6 or (distortion == "pose2sim" and cam.k3):
            raise ConfigError(
                "QCA stores k1..k3, p1, p2 (and no k3 the Pose2Sim way); this camera has more",
                field_path=f"sensors.{sid}.camera",
            )
        el = ET.SubElement(
            cams_el, "camera", {"active": "1", "avg-residual": "0", "model": "none", "serial": sid, "viewrotation": "0"}
        )
        box = {"left": "0", "top": "0", "right": str(cam.width - 1), "bottom": str(cam.height - 1)}
        for tag in ("fov_marker", "fov_marker_max", "fov_video", "fov_video_max"):
            ET.SubElement(el, tag, box)
        m = wfc.matrix
        rq = _CV_FROM_Q @ m[:3, :3].T
        attrs = {f"r{i + 1}{j + 1}": repr(float(rq[i, j])) for i in range(3) for j in range(3)}
        attrs.update({k: repr(float(v) * 1000.0) for k, v in zip("xyz", m[:3, 3], strict=True)})
        ET.SubElement(el, "transform", attrs)
        mul = 64.0 if distortion == "pose2sim" else 1.0
        ET.SubElement(el, "intrinsic", {
            "focalLengthU": repr(cam.fx * 64.0), "focalLengthV": repr(cam.fy * 64.0),
            "centerPointU": repr(cam.cx * 64.0), "centerPointV": repr(cam.cy * 64.0),
            "radialDistortion1": repr(cam.k1 * mul), "radialDistortion2": repr(cam.k2 * mul),
            "radialDistortion3": repr(cam.k3 * mul), "tangentalDistortion1": repr(cam.p1 * mul),
            "tangentalDistortion2": repr(cam.p2 * mul), "skew": "0",
        })  # fmt: skip
    ET.ElementTree(root).write(path, encoding="ascii", xml_declaration=True)
