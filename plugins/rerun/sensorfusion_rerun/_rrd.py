"""Logging a rig's frames to a Rerun recording (a live viewer or an ``.rrd`` file).

Entity tree (``world`` is the calibration's world frame, metres, ``+z`` up by default):

* ``world/<sensor>``: ``Transform3D`` ``world_from_sensor`` (a sensor mounted on a device sits
  under it: ``world/<device>/<sensor>``, ``device_from_sensor``); a device's ``Transform3D`` is
  its ``world_from_device`` over time.
* ``world/<camera>/image``: ``Pinhole`` (the camera model's ``fx fy cx cy``, OpenCV axes) — the
  frustum; its 2D children are in image pixels: ``image/<channel>`` (``Image``, ``DepthImage``,
  2D keypoints ``Points2D``).
* ``world/<sensor>/<channel>`` for 3D data in a sensor's frame (a radar's points);
  ``world/<stream sensor>/<channel>`` for data in the world frame (``world/fusion/skeleton3d``).
* Skeletons (2D and 3D) are ``Points*D`` with ``class_ids`` = person and ``keypoint_ids`` =
  joint; the stream's ``AnnotationContext`` (on the timeline, re-logged when someone new
  appears) has one class per person present (its label, its colour, the skeleton's joints and
  bones as keypoint connections), so the viewer draws the bones; ``<stream>/ids`` labels each
  person.

Time: the timeline (``sensor_time`` by default) is int64 ns on the rig's reference clock (the
caller says which time each frame goes at, default its ``t_sensor_ns``): a timestamp timeline
when the clock is Unix time, a duration one otherwise. Log time and ticks are off, so
a recording depends only on the frames.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import rerun as rr

from sensorfusion import Frame, RigCalibration

from ._scene import IMAGE_SPACE, Drawn, FrameTree, jpeg_bytes, person_rgb, points_xyz, rbox_corners_px

__all__ = ["RerunLogger", "class_id_of", "is_unix_time"]

_UNIX_NS = 10**17  # sensor times after 1973-03-03 are taken for Unix time
_UNKNOWN_CLASS = 60000  # class ids of people without an identity: 60000 + their index in the frame
_WORLD_UP = {"+z": "RIGHT_HAND_Z_UP", "-z": "RIGHT_HAND_Z_DOWN", "+y": "RIGHT_HAND_Y_UP", "-y": "RIGHT_HAND_Y_DOWN"}


def is_unix_time(t_ns: int) -> bool:
    """Whether a sensor clock reading looks like Unix time (a timestamp) rather than time since
    the start of the run (a duration)."""
    return t_ns >= _UNIX_NS


def class_id_of(person_id: int, index: int) -> int:
    """The Rerun class id of a person: the person id (below 60000), ``60000 + index`` for a
    person without an identity (``person_id < 0``), so each is drawn as its own skeleton."""
    if person_id < 0:
        return _UNKNOWN_CLASS + min(index, 5000)
    return int(person_id) % _UNKNOWN_CLASS


class RerunLogger:
    """Logs frames of the planned streams to one :class:`rerun.RecordingStream`.

    Args:
        rec: the recording (its sinks already set).
        tree: the rig's frames.
        drawn: the streams to draw.
        timeline: the timeline's name.
        jpeg_quality: JPEG-compress colour images at this quality (``None``: raw pixels).
        min_confidence: 2D keypoints at or below this confidence are left out.
        world_up: which world axis is up (``+z``, ``-z``, ``+y``, ``-y``).
    """

    def __init__(
        self,
        rec: rr.RecordingStream,
        tree: FrameTree,
        drawn: Iterable[Drawn],
        *,
        timeline: str = "sensor_time",
        jpeg_quality: int | None = 75,
        min_confidence: float = 0.0,
        world_up: str = "+z",
    ) -> None:
        self.rec = rec
        self.tree = tree
        self.drawn = {d.name: d for d in drawn}
        self.timeline = timeline
        self.jpeg_quality = jpeg_quality
        self.min_confidence = min_confidence
        self.world_up = world_up
        self.unix_time: bool | None = None
        self._classes: dict[str, set[int]] = {}
        self.frames_logged = 0
        rec.set_log_time_enabled(False)
        rec.set_log_tick_enabled(False)

    # -- paths -------------------------------------------------------------------------------
    def entity(self, d: Drawn) -> str:
        """Where a stream's frames are logged."""
        if d.what in IMAGE_SPACE:
            if self._has_pinhole(d.frame):
                return f"{self.tree.path(d.frame)}/image/{d.spec.channel}"
            return f"cameras/{d.spec.sensor}/{d.spec.channel}"
        if d.what == "device_pose":
            return self.tree.path(d.frame)
        if d.frame != "world":
            return f"{self.tree.path(d.frame)}/{d.spec.channel}"
        sensor = d.spec.sensor
        if sensor in self.tree:  # world-frame data named after a sensor: not under its transform
            sensor = f"{sensor}.world"
        return f"world/{sensor}/{d.spec.channel}"

    def _has_pinhole(self, camera: str) -> bool:
        cal = self.tree.calibration.sensors.get(camera)
        return cal is not None and cal.camera is not None and hasattr(cal.camera, "fx")

    def blueprint(self) -> Any:
        """The default layout: the 3D world beside a grid of the cameras' 2D views (images with
        their keypoints), one per camera with something drawn in it."""
        import rerun.blueprint as rrb

        views2d = []
        for origin in sorted({self.entity(d).rsplit("/", 1)[0] for d in self.drawn.values() if d.what in IMAGE_SPACE}):
            name = origin.split("/")[-2] if origin.endswith("/image") else origin.split("/")[-1]
            views2d.append(rrb.Spatial2DView(origin=origin, name=name))
        world = rrb.Spatial3DView(origin="world", name="world")
        if not views2d:
            return rrb.Blueprint(world, collapse_panels=True)
        return rrb.Blueprint(rrb.Horizontal(world, rrb.Grid(*views2d), column_shares=[3, 2]), collapse_panels=True)

    # -- static: the rig -----------------------------------------------------------------------
    def log_rig(self) -> None:
        """The world's axes, every sensor's pose and every camera's frustum (static)."""
        rec = self.rec
        rec.log("world", rr.ViewCoordinates(getattr(rr.ViewCoordinates, _WORLD_UP[self.world_up])), static=True)
        for frame in self.tree.fixed_frames():
            m = self.tree.parent_from(frame)
            assert m is not None
            rec.log(self.tree.path(frame), rr.Transform3D(translation=m[:3, 3], mat3x3=m[:3, :3]), static=True)
            self._log_camera(frame, self.tree.calibration)

    def _log_camera(self, frame: str, calibration: RigCalibration) -> None:
        cam = calibration.sensors[frame].camera
        if cam is None or not self._has_pinhole(frame):
            return
        fx, fy, cx, cy = (float(getattr(cam, k)) for k in ("fx", "fy", "cx", "cy"))
        k = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        self.rec.log(
            f"{self.tree.path(frame)}/image",
            rr.Pinhole(image_from_camera=k, resolution=[cam.width, cam.height], camera_xyz=rr.ViewCoordinates.RDF),
            static=True,
        )

    def _log_classes(self, d: Drawn, class_ids: set[int]) -> None:
        """The stream's annotation context at the current time: one class per person present
        (label, colour, joints, bones). Logged on the timeline, not static (static data would
        win over it at every time), and only when someone new appears, so it stays as small
        as the number of people at once however many ids a long run sees."""
        joints = list(d.skeleton.joints) if d.skeleton is not None else []
        edges = [(int(a), int(b)) for a, b in d.skeleton.edges] if d.skeleton is not None else []
        classes = []
        for cid in sorted(class_ids):
            pid = cid if cid < _UNKNOWN_CLASS else -1
            label = f"person {pid}" if pid >= 0 else "person (no id)"
            classes.append(
                rr.ClassDescription(
                    info=rr.AnnotationInfo(id=cid, label=label, color=person_rgb(pid)),
                    keypoint_annotations=[rr.AnnotationInfo(id=i, label=name) for i, name in enumerate(joints)],
                    keypoint_connections=edges,
                )
            )
        self.rec.log(self.entity(d), rr.AnnotationContext(classes))
        self._classes[d.name] = set(class_ids)

    # -- per frame ---------------------------------------------------------------------------------
    def set_time(self, t_ns: int) -> None:
        if self.unix_time is None:
            self.unix_time = is_unix_time(t_ns)
        if self.unix_time:
            self.rec.set_time(self.timeline, timestamp=np.datetime64(int(t_ns), "ns"))
        else:
            self.rec.set_time(self.timeline, duration=np.timedelta64(int(t_ns), "ns"))

    def log_frame(self, frame: Frame, *, t_ns: int | None = None) -> bool:
        """Log one frame of a drawn stream at its sensor time (or ``t_ns``); false when the
        stream is not drawn."""
        d = self.drawn.get(frame.stream)
        if d is None:
            return False
        self.set_time(frame.t_sensor_ns if t_ns is None else t_ns)
        getattr(self, f"_log_{d.what}")(d, frame.data)
        self.frames_logged += 1
        return True

    def _log_image(self, d: Drawn, data: Any) -> None:
        img = np.asarray(next(iter(data.values())))
        if img.ndim == 3 and img.shape[2] == 1:
            img = img[:, :, 0]
        bgr = str(d.spec.attrs.get("color_order", "rgb")).lower() == "bgr"
        if img.ndim == 3 and bgr:
            img = img[:, :, [2, 1, 0, 3][: img.shape[2]]]
        model: Literal["L", "RGB", "RGBA"] = "L" if img.ndim == 2 else ("RGB" if img.shape[2] == 3 else "RGBA")
        if self.jpeg_quality is not None and img.dtype == np.uint8 and model != "RGBA":
            jpeg = jpeg_bytes(img, self.jpeg_quality)
            self.rec.log(self.entity(d), rr.EncodedImage(contents=jpeg, media_type="image/jpeg"))
        else:
            self.rec.log(self.entity(d), rr.Image(img, color_model=model))

    def _log_depth(self, d: Drawn, data: Any) -> None:
        depth = np.asarray(data["depth"])
        scale = d.spec.attrs.get("depth_scale_m")
        meter = 1.0 / float(scale) if scale else (1.0 if depth.dtype.kind == "f" else 1000.0)
        self.rec.log(self.entity(d), rr.DepthImage(depth, meter=meter))

    def _people(self, d: Drawn, data: Any, values: np.ndarray) -> tuple[np.ndarray, list[int]]:
        pids = np.asarray(data["person_id"], np.int64) if "person_id" in data else np.full(len(values), -1)
        cids = [class_id_of(int(p), i) for i, p in enumerate(pids)]
        if not set(cids) <= self._classes.get(d.name, set()):  # someone new: the people present now
            self._log_classes(d, set(cids))
        return pids, cids

    def _skeleton_points(
        self, d: Drawn, data: Any, values: np.ndarray, keep: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Kept joints as ``(positions, class ids, keypoint ids, person ids)``."""
        pids, cids = self._people(d, data, values)
        P, J = keep.shape
        person = np.repeat(np.arange(P), J).reshape(P, J)[keep]
        joint = np.tile(np.arange(J), P).reshape(P, J)[keep]
        return values[keep], np.asarray(cids, np.int64)[person], joint, pids

    def _log_keypoints2d(self, d: Drawn, data: Any) -> None:
        kp = np.asarray(data["keypoints"], np.float32)
        keep = np.asarray(np.isfinite(kp[..., :2]).all(axis=-1))
        if kp.shape[-1] > 2:
            keep &= kp[..., 2] > self.min_confidence
        pos, cls, joint, _ = self._skeleton_points(d, data, kp[..., :2], keep)
        self.rec.log(self.entity(d), rr.Points2D(pos, class_ids=cls, keypoint_ids=joint, radii=-2.0))

    def _log_rboxes(self, d: Drawn, data: Any) -> None:
        boxes = np.asarray(data["rbox"], np.float64)
        ok = np.isfinite(boxes).all(axis=-1)
        corners = rbox_corners_px(boxes[ok])
        strips = [np.vstack([c, c[:1]]) for c in corners]  # closed outlines
        pids = np.asarray(data["person_id"])[ok] if "person_id" in data else np.full(len(strips), -1)
        colors = [person_rgb(int(p)) for p in pids]
        self.rec.log(self.entity(d), rr.LineStrips2D(strips, colors=colors, radii=-2.0))

    def _log_skeleton3d(self, d: Drawn, data: Any) -> None:
        joints = np.asarray(data["joints"], np.float32)
        keep = np.asarray(np.isfinite(joints).all(axis=-1))
        pos, cls, joint, pids = self._skeleton_points(d, data, joints, keep)
        path = self.entity(d)
        self.rec.log(path, rr.Points3D(pos, class_ids=cls, keypoint_ids=joint, radii=0.025))
        centres, labels, colors = [], [], []
        for p, pid in enumerate(pids):
            ok = keep[p]
            if ok.any():
                centres.append(joints[p][ok].mean(axis=0))
                labels.append(f"id {int(pid)}" if pid >= 0 else "no id")
                colors.append(person_rgb(int(pid)))
        self.rec.log(
            f"{path}/ids",
            rr.Points3D(np.asarray(centres, np.float32).reshape(-1, 3), labels=labels, colors=colors, radii=0.01),
        )

    def _log_points(self, d: Drawn, data: Any) -> None:
        xyz = points_xyz(data, d.xyz)
        ok = np.isfinite(xyz).all(axis=-1)
        if "person_id" in data:  # points that belong to people (floor positions): their colours
            colors = [person_rgb(int(p)) for p in np.asarray(data["person_id"])[ok]]
            self.rec.log(self.entity(d), rr.Points3D(xyz[ok], radii=0.06, colors=colors))
        else:
            self.rec.log(self.entity(d), rr.Points3D(xyz[ok], radii=0.03, colors=[(80, 200, 255)]))

    def _log_tracks(self, d: Drawn, data: Any) -> None:
        pos = np.asarray(data["position_m"], np.float32)
        ids = np.asarray(data["track_id"], np.int64)
        colors = [person_rgb(int(t)) for t in ids]
        labels = [f"track {int(t)}" for t in ids]
        path = self.entity(d)
        self.rec.log(path, rr.Points3D(pos, radii=0.12, colors=colors, labels=labels))
        if "velocity_m_per_s" in data and np.asarray(data["velocity_m_per_s"]).shape[-1:] == (3,):
            vel = np.asarray(data["velocity_m_per_s"], np.float32)
            self.rec.log(f"{path}/velocity", rr.Arrows3D(origins=pos, vectors=vel, colors=colors))

    def _log_boxes(self, d: Drawn, data: Any) -> None:
        centers = np.asarray(data["center_m"], np.float32)
        sizes = np.asarray(data["size_m"], np.float32)
        self.rec.log(self.entity(d), rr.Boxes3D(centers=centers, sizes=sizes, colors=[(255, 170, 60)]))

    def _log_device_pose(self, d: Drawn, data: Any) -> None:
        m = np.asarray(data["world_from_device"], np.float64)
        self.rec.log(self.entity(d), rr.Transform3D(translation=m[:3, 3], mat3x3=m[:3, :3]))
