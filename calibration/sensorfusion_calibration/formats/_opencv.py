"""OpenCV FileStorage (YAML ``%YAML:1.0`` or XML ``<opencv_storage>``) and EasyMocap ``intri.yml``/``extri.yml``.

**OpenCV** (``fmt="opencv"``): the layout of OpenCV's calibration samples —

* ``image_width``, ``image_height`` (pixels), ``camera_matrix`` (3x3 K, pixels),
  ``distortion_coefficients`` (1xN: k1, k2, p1, p2, k3[, k4, k5, k6]; or cv2.fisheye's k1..k4 when
  ``distortion_model: fisheye``), optional ``avg_reprojection_error``;
* optional ``rotation_matrix`` (3x3) and ``translation_vector`` (3x1): OpenCV's
  **camera_from_world** in metres (absent: the camera is the world).

A file with these keys at the top holds one camera (its sensor id is the file's stem, or the
``name`` key). A rig is written as one map per camera, keyed by sensor id, each with the same
keys; the reader accepts both.

**EasyMocap** (``fmt="easymocap"``): a pair of FileStorage YAML files in one folder.
``intri.yml``: ``names`` (a sequence of camera ids), ``K_<id>`` (3x3, pixels), ``dist_<id>``
(1x5: k1, k2, p1, p2, k3), and (newer versions) ``H_<id>``/``W_<id>`` the image size.
``extri.yml``: ``names``, ``R_<id>`` (3x1 **rotation vector** of camera_from_world), ``Rot_<id>``
(the same as a 3x3 matrix), ``T_<id>`` (3x1 translation of camera_from_world, **metres**). When
an ``intri.yml`` has no image size, it is taken as ``(2 cx, 2 cy)`` rounded (an estimate: check
it). Either file, or the folder holding both, may be given.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sensorfusion import ConfigError
from sensorfusion.schema import KannalaBrandtCamera, PinholeCamera, RigCalibration, SensorCalibration

from ._common import (
    camera_from_world_rt,
    cameras_of,
    fisheye_from_opencv,
    opencv_dist,
    opencv_k,
    pinhole_from_opencv,
    rotvec_from_matrix,
    world_from_camera_rt,
)

__all__ = ["easymocap_paths", "load_easymocap", "load_opencv", "save_easymocap", "save_opencv"]


def _open(path: Path, mode: int) -> cv2.FileStorage:
    fs = cv2.FileStorage(str(path), mode)
    if not fs.isOpened():
        raise ConfigError("cannot open as an OpenCV FileStorage file", source=str(path))
    return fs


def _camera_from_node(node: cv2.FileNode, name: str, path: Path) -> SensorCalibration:
    k = node.getNode("camera_matrix").mat()
    d = node.getNode("distortion_coefficients").mat()
    w, h = node.getNode("image_width"), node.getNode("image_height")
    if k is None or w.empty() or h.empty():
        raise ConfigError("needs camera_matrix, image_width and image_height", field_path=name, source=str(path))
    dist = np.zeros(5) if d is None else d.ravel()
    model = node.getNode("distortion_model")
    fisheye = not model.empty() and model.string() == "fisheye"
    width, height = int(w.real()), int(h.real())
    cam = fisheye_from_opencv(k, dist, width, height) if fisheye else pinhole_from_opencv(k, dist, width, height)
    r, t = node.getNode("rotation_matrix").mat(), node.getNode("translation_vector").mat()
    if r is None or t is None:
        return SensorCalibration(camera=cam)
    return SensorCalibration(camera=cam, world_from_sensor=world_from_camera_rt(r, t))


def load_opencv(path: Path) -> RigCalibration:
    """Read an OpenCV FileStorage calibration (one camera at the top, or one map per camera)."""
    fs = _open(path, cv2.FILE_STORAGE_READ)
    try:
        root = fs.root()
        if not root.getNode("camera_matrix").empty():
            name_node = root.getNode("name")
            name = name_node.string() if not name_node.empty() else Path(path).name.split(".")[0]
            return RigCalibration(sensors={name: _camera_from_node(root, name, path)})
        sensors = {}
        for key in root.keys():
            node = root.getNode(key)
            if node.isMap() and not node.getNode("camera_matrix").empty():
                sensors[key] = _camera_from_node(node, key, path)
        if not sensors:
            raise ConfigError("no camera_matrix found, at the top or in any map", source=str(path))
        return RigCalibration(sensors=sensors)
    finally:
        fs.release()


def _write_camera(
    fs: cv2.FileStorage, cam: PinholeCamera | KannalaBrandtCamera, wfc_rt: tuple[np.ndarray, np.ndarray] | None
) -> None:
    fs.write("image_width", int(cam.width))
    fs.write("image_height", int(cam.height))
    fs.write("camera_matrix", opencv_k(cam))
    if isinstance(cam, KannalaBrandtCamera):
        fs.write("distortion_model", "fisheye")
        fs.write("distortion_coefficients", np.array([[cam.k1, cam.k2, cam.k3, cam.k4]]))
    else:
        fs.write("distortion_model", "pinhole")
        fs.write("distortion_coefficients", opencv_dist(cam)[None, :])
    if wfc_rt is not None:
        fs.write("rotation_matrix", wfc_rt[0])
        fs.write("translation_vector", wfc_rt[1].reshape(3, 1))


def save_opencv(cal: RigCalibration, path: Path) -> None:
    """Write an OpenCV FileStorage file (YAML or XML by the file's extension)."""
    cams = cameras_of(cal, "opencv", (PinholeCamera, KannalaBrandtCamera))
    fs = _open(path, cv2.FILE_STORAGE_WRITE)
    try:
        if len(cams) == 1:
            sid, cam, wfc = cams[0]
            fs.write("name", sid)
            _write_camera(fs, cam, camera_from_world_rt(wfc))  # type: ignore[arg-type]
        else:
            for sid, cam, wfc in cams:
                fs.startWriteStruct(sid, cv2.FileNode_MAP)
                _write_camera(fs, cam, camera_from_world_rt(wfc))  # type: ignore[arg-type]
                fs.endWriteStruct()
    finally:
        fs.release()


def easymocap_paths(path: Path) -> tuple[Path, Path]:
    """``(intri.yml, extri.yml)`` from either file or the folder holding them."""
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    return folder / "intri.yml", folder / "extri.yml"


def _names(fs: cv2.FileStorage) -> list[str]:
    node = fs.getNode("names")
    return [node.at(i).string() for i in range(node.size())]


def load_easymocap(path: Path) -> RigCalibration:
    """Read an EasyMocap ``intri.yml`` + ``extri.yml`` pair (give either file or their folder)."""
    intri, extri = easymocap_paths(path)
    for p in (intri, extri):
        if not p.exists():
            raise ConfigError(
                "EasyMocap calibration needs both intri.yml and extri.yml", value=str(p), source=str(path)
            )
    fi, fe = _open(intri, cv2.FILE_STORAGE_READ), _open(extri, cv2.FILE_STORAGE_READ)
    try:
        sensors = {}
        for name in _names(fi):
            k = fi.getNode(f"K_{name}").mat()
            d = fi.getNode(f"dist_{name}").mat()
            if k is None:
                raise ConfigError(f"no K_{name}", source=str(intri))
            h, w = fi.getNode(f"H_{name}"), fi.getNode(f"W_{name}")
            width = int(w.real()) if not w.empty() else round(2 * k[0, 2])
            height = int(h.real()) if not h.empty() else round(2 * k[1, 2])
            cam = pinhole_from_opencv(k, np.zeros(5) if d is None else d.ravel(), width, height)
            rot = fe.getNode(f"Rot_{name}").mat()
            if rot is None:
                rot = fe.getNode(f"R_{name}").mat()
            t = fe.getNode(f"T_{name}").mat()
            if rot is None or t is None:
                raise ConfigError(f"no R_{name}/T_{name} for a camera of intri.yml", source=str(extri))
            sensors[name] = SensorCalibration(camera=cam, world_from_sensor=world_from_camera_rt(rot, t))
        if not sensors:
            raise ConfigError("intri.yml lists no camera under 'names'", source=str(intri))
        return RigCalibration(sensors=sensors)
    finally:
        fi.release()
        fe.release()


def save_easymocap(cal: RigCalibration, path: Path) -> None:
    """Write ``intri.yml`` and ``extri.yml`` into ``path`` (a folder, or a file whose folder is used)."""
    cams = cameras_of(cal, "easymocap", (PinholeCamera,))
    intri, extri = easymocap_paths(path)
    intri.parent.mkdir(parents=True, exist_ok=True)
    fi, fe = _open(intri, cv2.FILE_STORAGE_WRITE), _open(extri, cv2.FILE_STORAGE_WRITE)
    try:
        for fs in (fi, fe):
            fs.write("names", [sid for sid, _, _ in cams])
        for sid, cam, wfc in cams:
            assert isinstance(cam, PinholeCamera)
            d = opencv_dist(cam)
            if d.size > 5:
                raise ConfigError(
                    "EasyMocap stores 5 distortion terms; this camera uses k4..k6", field_path=f"sensors.{sid}"
                )
            fi.write(f"K_{sid}", opencv_k(cam))
            fi.write(f"dist_{sid}", d[None, :])
            fi.write(f"H_{sid}", int(cam.height))
            fi.write(f"W_{sid}", int(cam.width))
            r, t = camera_from_world_rt(wfc)
            fe.write(f"R_{sid}", rotvec_from_matrix(r).reshape(3, 1))
            fe.write(f"Rot_{sid}", r)
            fe.write(f"T_{sid}", t.reshape(3, 1))
    finally:
        fi.release()
        fe.release()
