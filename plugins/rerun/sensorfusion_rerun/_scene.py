"""What a viewer draws, decided once from the stream contracts and the calibration.

Both writers (Rerun's ``.rrd`` / live viewer and MCAP for Foxglove) share these decisions: which
streams are drawn and as what (:class:`Drawn`), in which coordinate frame their values are, the
frame tree (fixed sensors under ``world``, sensors mounted on a moving device under that
device), and a stable colour per person id.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from sensorfusion import FrameKind, RigCalibration, SkeletonSpec, StreamSpec
from sensorfusion.schema import SkeletonRegistry

__all__ = [
    "UNKNOWN_PERSON_RGB",
    "Drawn",
    "IMAGE_SPACE",
    "DrawnAs",
    "FrameTree",
    "jpeg_bytes",
    "rbox_corners_px",
    "person_rgb",
    "points_xyz",
    "plan_streams",
]

DrawnAs = Literal["image", "depth", "keypoints2d", "rboxes", "skeleton3d", "points", "tracks", "boxes", "device_pose"]
IMAGE_SPACE: tuple[DrawnAs, ...] = ("image", "depth", "keypoints2d", "rboxes")
"""What is drawn in a camera's image (pixels) rather than in 3D."""

UNKNOWN_PERSON_RGB = (170, 170, 170)
"""The colour of a person without an identity (``person_id < 0``)."""

_GOLDEN = 0.618033988749895


def person_rgb(person_id: int) -> tuple[int, int, int]:
    """A stable, well separated colour for a person id (the same id: the same colour, in every
    viewer and every run); grey for an unknown person (``person_id < 0``)."""
    if person_id < 0:
        return UNKNOWN_PERSON_RGB
    hue = (0.11 + person_id * _GOLDEN) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return round(r * 255), round(g * 255), round(b * 255)


def points_xyz(data: Any, fields: tuple[str, ...]) -> np.ndarray:
    """``(N, 3)`` float32 points from a frame: one ``(N, 3)`` field, one ``(N, 2)`` floor field
    (``z = 0``), or three ``(N,)`` fields."""
    if len(fields) == 1:
        xyz = np.asarray(data[fields[0]], np.float32)
        if xyz.shape[-1] == 2:
            xyz = np.concatenate([xyz, np.zeros((*xyz.shape[:-1], 1), np.float32)], axis=-1)
        return xyz.reshape(-1, 3)
    return np.stack([np.asarray(data[k], np.float32) for k in fields], axis=-1).reshape(-1, 3)


def rbox_corners_px(rboxes: np.ndarray) -> np.ndarray:
    """``(N, 4, 2)`` corners of rotated boxes ``(N, 5)`` ``[cx, cy, w, h, angle_deg]`` (RAPiD's
    layout, the overhead plugin's ``rbox``): the width along ``(cos a, sin a)`` in pixels."""
    b = np.asarray(rboxes, np.float64).reshape(-1, 5)
    a = np.radians(b[:, 4])
    ex = np.stack([np.cos(a), np.sin(a)], axis=-1) * (0.5 * b[:, 2:3])
    ey = np.stack([-np.sin(a), np.cos(a)], axis=-1) * (0.5 * b[:, 3:4])
    c = b[:, :2]
    out: np.ndarray = np.stack([c - ex - ey, c + ex - ey, c + ex + ey, c - ex + ey], axis=1)
    return out


def jpeg_bytes(image: np.ndarray, quality: int) -> bytes:
    """A ``uint8`` greyscale ``(H, W)`` or RGB ``(H, W, 3)`` image as JPEG, with Pillow (about 2x
    faster than ``rerun.Image.compress`` on a 640x480 frame: ``benchmarks/bench_viewers.py``), the
    same bytes for both viewers."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


@dataclass(frozen=True)
class Drawn:
    """One stream a viewer draws.

    Attributes:
        key: the stream's key: ``sensor/channel`` for a source, ``stage:sensor/channel`` for an
            estimate (as ``sensorfusion inspect`` lists it); the frameset's stream name in a sink.
        spec: its contract.
        what: how it is drawn.
        frame: the coordinate frame of its values: ``"world"`` or a sensor / device id; for
            images and 2D keypoints, the camera.
        skeleton: the skeleton spec of keypoint and skeleton streams (``None``: unknown to the
            registry: joints are drawn without bones).
        xyz: the point fields of a point cloud: one ``(3,)`` field (``xyz_m``, ``xyz`` or
            ``position_m``) or ``("x", "y", "z")``.
    """

    key: str
    spec: StreamSpec
    what: DrawnAs
    frame: str
    skeleton: SkeletonSpec | None = None
    xyz: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name


class FrameTree:
    """The rig's coordinate frames: ``world``, every calibrated sensor, every device a sensor is
    mounted on (its pose comes from its ``device_pose`` stream).

    ``path(frame)`` is the frame's place in the tree (``world/cam0``,
    ``world/headset/cam_left``) as a ``/``-joined path; ``parent_from(frame)`` is the fixed
    ``parent_from_frame`` 4x4 transform (``None`` for a device: it moves)."""

    def __init__(self, calibration: RigCalibration, devices: Iterable[str] = ()) -> None:
        self.calibration = calibration
        self.devices: set[str] = set(devices)
        for cal in calibration.sensors.values():
            if cal.mount is not None:
                self.devices.add(cal.mount.device)

    def __contains__(self, frame: object) -> bool:
        return frame == "world" or frame in self.calibration.sensors or frame in self.devices

    def parent(self, frame: str) -> str:
        cal = self.calibration.sensors.get(frame)
        if cal is not None and cal.mount is not None:
            return cal.mount.device
        return "world"

    def path(self, frame: str) -> str:
        if frame == "world":
            return "world"
        return f"{self.path(self.parent(frame))}/{frame}"

    def parent_from(self, frame: str) -> np.ndarray | None:
        """``parent_from_frame`` (4x4, metres) of a fixed frame; ``None`` for a moving device."""
        cal = self.calibration.sensors.get(frame)
        if cal is None:
            return None
        if cal.mount is not None:
            return cal.mount.device_from_sensor.matrix
        return cal.world_from_sensor.matrix

    def fixed_frames(self) -> list[str]:
        """Every calibrated sensor, parents before children."""
        return sorted(self.calibration.sensors, key=lambda s: (self.path(s).count("/"), s))

    def cameras(self) -> list[str]:
        return [s for s, c in sorted(self.calibration.sensors.items()) if c.camera is not None]


def _points_fields(spec: StreamSpec) -> tuple[str, ...]:
    f = spec.fields
    for name in ("xyz_m", "xyz", "position_m"):  # radar / UART, RGB-D lifting, overhead floor points
        if name in f and f[name].shape == (3,):
            return (name,)
    if "position_m" in f and f["position_m"].shape == (2,):  # floor positions (x, y) on z = 0
        return ("position_m",)
    if all(k in f and f[k].shape == () for k in ("x", "y", "z")):
        return ("x", "y", "z")
    return ()


def _frame_of(spec: StreamSpec, tree: FrameTree) -> str:
    frame = spec.attrs.get("frame")
    if isinstance(frame, str) and frame in tree:
        return frame
    return spec.sensor if spec.sensor in tree.calibration.sensors else "world"


def plan_stream(key: str, spec: StreamSpec, tree: FrameTree, skeletons: SkeletonRegistry) -> Drawn | None:
    """How ``spec`` is drawn, or ``None`` when no viewer draws its kind (radar cubes, tensors,
    orientations, per-person values) or its fields are not the drawable layout. A backfill
    stream (``attrs["backfill_of"]``: late corrections of earlier frames, stamped when they were
    made) is not drawn either: its stream is."""
    if "backfill_of" in spec.attrs:
        return None
    kind = spec.kind
    skeleton = skeletons.get(spec.skeleton) if spec.skeleton and spec.skeleton in skeletons else None
    if kind == FrameKind.IMAGE and not spec.ragged and len(spec.fields) >= 1:
        field = next(iter(spec.fields.values()))
        if len(field.shape) == 2 or (len(field.shape) == 3 and field.shape[2] in (1, 3, 4)):
            return Drawn(key, spec, "image", spec.sensor)
    if kind == FrameKind.DEPTH and not spec.ragged and "depth" in spec.fields:
        if len(spec.fields["depth"].shape) == 2:
            return Drawn(key, spec, "depth", spec.sensor)
    if kind == FrameKind.KEYPOINTS2D and spec.ragged and "keypoints" in spec.fields:
        return Drawn(key, spec, "keypoints2d", spec.sensor, skeleton)
    if kind == FrameKind.SKELETON3D and spec.ragged and "joints" in spec.fields:
        return Drawn(key, spec, "skeleton3d", _frame_of(spec, tree), skeleton)
    if kind == FrameKind.POINT_CLOUD and spec.ragged:
        xyz = _points_fields(spec)
        if xyz:
            return Drawn(key, spec, "points", _frame_of(spec, tree), xyz=xyz)
    if kind == FrameKind.BOXES and spec.ragged:
        f = spec.fields
        if "rbox" in f and f["rbox"].shape == (5,):
            return Drawn(key, spec, "rboxes", spec.sensor)
        if "position_m" in f and "track_id" in f:
            return Drawn(key, spec, "tracks", _frame_of(spec, tree))
        if "center_m" in f and "size_m" in f:
            return Drawn(key, spec, "boxes", _frame_of(spec, tree))
    if kind == FrameKind.DEVICE_POSE and "world_from_device" in spec.fields:
        return Drawn(key, spec, "device_pose", spec.sensor)
    return None


def plan_streams(
    specs: Iterable[tuple[str, StreamSpec]], calibration: RigCalibration, skeletons: SkeletonRegistry
) -> tuple[FrameTree, list[Drawn], list[str]]:
    """``(frame tree, drawn streams, keys of the streams not drawn)`` for ``(key, spec)`` pairs."""
    specs = list(specs)
    devices = [s.sensor for _, s in specs if s.kind == FrameKind.DEVICE_POSE]
    tree = FrameTree(calibration, devices)
    drawn: list[Drawn] = []
    skipped: list[str] = []
    for key, spec in specs:
        d = plan_stream(key, spec, tree, skeletons)
        if d is None:
            skipped.append(key)
        else:
            drawn.append(d)
    return tree, drawn, skipped
