"""A recorded session as MCAP with Foxglove's protobuf schemas: ``sensorfusion export SESSION --to mcap``.

Foxglove opens the file as it is (protobuf encoding, each schema's ``FileDescriptorSet`` in the
file). Topics (``/<sensor>/<channel>`` of each stream):

* ``/tf`` — ``foxglove.FrameTransforms``: every calibrated sensor's ``world_from_sensor`` (parent
  ``world``, child the sensor id; ``device_from_sensor`` under a device) at the first time, and
  every ``device_pose`` frame (``world`` -> device).
* ``/<camera>/calibration`` — ``foxglove.CameraCalibration`` (K, P, distortion) for every camera at
  the first time, and again with each of its images.
* images — ``foxglove.CompressedImage`` (JPEG) or ``foxglove.RawImage`` (``jpeg_quality: raw``);
  depth images as ``RawImage`` ``16UC1`` / ``32FC1``.
* 2D keypoints — ``foxglove.ImageAnnotations``: per person the joints (``POINTS``) and the bones
  (``LINE_LIST``) in the person's colour.
* 3D skeletons — ``foxglove.SceneUpdate``: per person an entity ``person/<id>`` with a sphere per
  joint, the bones as one ``LINE_LIST`` and an ``id N`` label; every message first deletes the
  previous people.
* radar tracks / clusters — ``SceneUpdate`` spheres / cubes; radar points — ``foxglove.PointCloud``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from foxglove_schemas_protobuf.CameraCalibration_pb2 import CameraCalibration
from foxglove_schemas_protobuf.Color_pb2 import Color
from foxglove_schemas_protobuf.CompressedImage_pb2 import CompressedImage
from foxglove_schemas_protobuf.CubePrimitive_pb2 import CubePrimitive
from foxglove_schemas_protobuf.FrameTransform_pb2 import FrameTransform
from foxglove_schemas_protobuf.FrameTransforms_pb2 import FrameTransforms
from foxglove_schemas_protobuf.ImageAnnotations_pb2 import ImageAnnotations
from foxglove_schemas_protobuf.KeyValuePair_pb2 import KeyValuePair
from foxglove_schemas_protobuf.LinePrimitive_pb2 import LinePrimitive
from foxglove_schemas_protobuf.PackedElementField_pb2 import PackedElementField
from foxglove_schemas_protobuf.Point2_pb2 import Point2
from foxglove_schemas_protobuf.Point3_pb2 import Point3
from foxglove_schemas_protobuf.PointCloud_pb2 import PointCloud
from foxglove_schemas_protobuf.PointsAnnotation_pb2 import PointsAnnotation
from foxglove_schemas_protobuf.Pose_pb2 import Pose
from foxglove_schemas_protobuf.Quaternion_pb2 import Quaternion
from foxglove_schemas_protobuf.RawImage_pb2 import RawImage
from foxglove_schemas_protobuf.SceneEntity_pb2 import SceneEntity
from foxglove_schemas_protobuf.SceneEntityDeletion_pb2 import SceneEntityDeletion
from foxglove_schemas_protobuf.SceneUpdate_pb2 import SceneUpdate
from foxglove_schemas_protobuf.SpherePrimitive_pb2 import SpherePrimitive
from foxglove_schemas_protobuf.TextPrimitive_pb2 import TextPrimitive
from foxglove_schemas_protobuf.Vector3_pb2 import Vector3
from google.protobuf.timestamp_pb2 import Timestamp
from mcap_protobuf.writer import Writer

from sensorfusion import ExportOptions, ExportResult, RigCalibration, __version__
from sensorfusion.store import Session

from ._scene import Drawn, FrameTree, jpeg_bytes, person_rgb, points_xyz, rbox_corners_px
from ._session import as_quality, check_people, parse_extra, select_streams, session_frames

__all__ = ["MCAP_OPTIONS", "export_mcap", "quaternion_xyzw", "write_mcap"]

MCAP_OPTIONS: dict[str, Any] = {"jpeg_quality": 75, "min_confidence": 0.0}
"""``--option`` keys of the ``mcap`` exporter and their defaults."""

_PARSERS: dict[str, Callable[[Any], Any]] = {"jpeg_quality": as_quality, "min_confidence": float}
_FLOAT32 = 7  # foxglove.PackedElementField.NumericType.FLOAT32


def quaternion_xyzw(r: np.ndarray) -> tuple[float, float, float, float]:
    """The unit quaternion ``(x, y, z, w)`` (``w >= 0``) of a 3x3 rotation matrix."""
    m = np.asarray(r, np.float64)
    t = float(np.trace(m))
    if t > 0:
        s = 2.0 * np.sqrt(t + 1.0)
        q = ((m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s)
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        v = [0.0, 0.0, 0.0]
        v[i] = 0.25 * s
        v[j] = (m[j, i] + m[i, j]) / s
        v[k] = (m[k, i] + m[i, k]) / s
        q = (v[0], v[1], v[2], (m[k, j] - m[j, k]) / s)
    qa = np.asarray(q) / np.linalg.norm(q)
    if qa[3] < 0:
        qa = -qa
    return float(qa[0]), float(qa[1]), float(qa[2]), float(qa[3])


def _stamp(t_ns: int) -> Timestamp:
    t = max(0, int(t_ns))
    return Timestamp(seconds=t // 1_000_000_000, nanos=t % 1_000_000_000)


def _color(rgb: tuple[int, int, int], a: float = 1.0) -> Color:
    return Color(r=rgb[0] / 255.0, g=rgb[1] / 255.0, b=rgb[2] / 255.0, a=a)


def _transform(t_ns: int, parent: str, child: str, m: np.ndarray) -> FrameTransform:
    x, y, z, w = quaternion_xyzw(m[:3, :3])
    tx, ty, tz = (float(v) for v in m[:3, 3])
    return FrameTransform(
        timestamp=_stamp(t_ns),
        parent_frame_id=parent,
        child_frame_id=child,
        translation=Vector3(x=tx, y=ty, z=tz),
        rotation=Quaternion(x=x, y=y, z=z, w=w),
    )


def _calibration(t_ns: int, frame: str, calibration: RigCalibration) -> CameraCalibration | None:
    cam = calibration.sensors[frame].camera
    if cam is None or not hasattr(cam, "fx"):
        return None
    fx, fy, cx, cy = (float(getattr(cam, k)) for k in ("fx", "fy", "cx", "cy"))
    if cam.model == "pinhole":
        d = [float(getattr(cam, k)) for k in ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")]
        model, dist = ("rational_polynomial", d) if any(d[5:]) else ("plumb_bob", d[:5])
    elif cam.model == "kannala_brandt":
        model, dist = "kannala_brandt", [float(getattr(cam, k)) for k in ("k1", "k2", "k3", "k4")]
    else:  # double sphere, Fisheye624: no Foxglove model; the pinhole part places the frustum
        model, dist = "plumb_bob", [0.0] * 5
    return CameraCalibration(
        timestamp=_stamp(t_ns),
        frame_id=frame,
        width=cam.width,
        height=cam.height,
        distortion_model=model,
        D=dist,
        K=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
        R=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        P=[fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0],
    )


class _McapScene:
    """Turns frames of the planned streams into Foxglove messages on one writer."""

    def __init__(self, writer: Writer, tree: FrameTree, *, jpeg_quality: int | None, min_confidence: float) -> None:
        self.w = writer
        self.tree = tree
        self.jpeg_quality = jpeg_quality
        self.min_confidence = min_confidence
        self.messages: dict[str, int] = {}
        self.schemas: dict[str, str] = {}

    def write(self, topic: str, message: Any, t_ns: int) -> None:
        t = max(0, int(t_ns))
        self.w.write_message(topic, message, log_time=t, publish_time=t)
        self.messages[topic] = self.messages.get(topic, 0) + 1
        self.schemas[topic] = message.DESCRIPTOR.full_name

    @staticmethod
    def topic(d: Drawn) -> str:
        return f"/{d.spec.sensor}/{d.spec.channel}"

    def rig(self, t_ns: int) -> None:
        tfs = [
            _transform(t_ns, self.tree.parent(f), f, m)
            for f in self.tree.fixed_frames()
            if (m := self.tree.parent_from(f)) is not None
        ]
        if tfs:
            self.write("/tf", FrameTransforms(transforms=tfs), t_ns)
        for cam in self.tree.cameras():  # every camera's frustum, with or without images
            cal = _calibration(t_ns, cam, self.tree.calibration)
            if cal is not None:
                self.write(f"/{cam}/calibration", cal, t_ns)

    def frame(self, d: Drawn, data: Any, t_ns: int) -> None:
        getattr(self, f"_{d.what}")(d, data, t_ns)

    def _image(self, d: Drawn, data: Any, t_ns: int) -> None:
        img = np.asarray(next(iter(data.values())))
        if img.ndim == 3 and img.shape[2] == 1:
            img = img[:, :, 0]
        bgr = str(d.spec.attrs.get("color_order", "rgb")).lower() == "bgr"
        frame = d.frame
        cal = _calibration(t_ns, frame, self.tree.calibration) if frame in self.tree.calibration.sensors else None
        if cal is not None:
            self.write(f"/{frame}/calibration", cal, t_ns)
        if self.jpeg_quality is not None and img.dtype == np.uint8 and (img.ndim == 2 or img.shape[2] == 3):
            rgb = img[:, :, ::-1] if (img.ndim == 3 and bgr) else img
            jpeg = jpeg_bytes(rgb, self.jpeg_quality)
            msg: Any = CompressedImage(timestamp=_stamp(t_ns), frame_id=frame, data=jpeg, format="jpeg")
        else:
            msg = self._raw(img, frame, t_ns, bgr=bgr)
        self.write(self.topic(d), msg, t_ns)

    @staticmethod
    def _raw(img: np.ndarray, frame: str, t_ns: int, *, bgr: bool = False) -> RawImage:
        channels = 1 if img.ndim == 2 else img.shape[2]
        kinds = {
            ("u1", 1): "mono8",
            ("u1", 3): "bgr8" if bgr else "rgb8",
            ("u1", 4): "bgra8" if bgr else "rgba8",
            ("u2", 1): "16UC1",
            ("f4", 1): "32FC1",
        }
        key = (img.dtype.str[1:], channels)
        if key not in kinds:
            img, key = img.astype(np.float32), ("f4", 1)
        h, w = img.shape[:2]
        data = np.ascontiguousarray(img)
        return RawImage(
            timestamp=_stamp(t_ns),
            frame_id=frame,
            width=w,
            height=h,
            encoding=kinds[key],
            step=w * channels * data.dtype.itemsize,
            data=data.astype(data.dtype.newbyteorder("<"), copy=False).tobytes(),
        )

    def _depth(self, d: Drawn, data: Any, t_ns: int) -> None:
        depth = np.asarray(data["depth"])
        scale = d.spec.attrs.get("depth_scale_m")
        if depth.dtype == np.uint16 and (not scale or abs(float(scale) - 0.001) < 1e-12):
            img = depth  # 16UC1 is millimetres in Foxglove's depth convention
        else:
            img = (depth.astype(np.float32) * float(scale or 1.0)).astype(np.float32)
        self.write(self.topic(d), self._raw(img, d.frame, t_ns), t_ns)

    def _people(self, data: Any, n: int) -> list[int]:
        return [int(p) for p in np.asarray(data["person_id"])] if "person_id" in data else [-1] * n

    def _keypoints2d(self, d: Drawn, data: Any, t_ns: int) -> None:
        kp = np.asarray(data["keypoints"], np.float64)
        edges = d.skeleton.edges if d.skeleton is not None else ()
        stamp = _stamp(t_ns)
        anns: list[PointsAnnotation] = []
        for p, pid in enumerate(self._people(data, len(kp))):
            ok = np.asarray(np.isfinite(kp[p, :, :2]).all(axis=-1))
            if kp.shape[-1] > 2:
                ok &= kp[p, :, 2] > self.min_confidence
            if not ok.any():
                continue
            col = _color(person_rgb(pid))
            pts = [Point2(x=float(x), y=float(y)) for x, y in kp[p, ok, :2]]
            anns.append(
                PointsAnnotation(
                    timestamp=stamp,
                    type=PointsAnnotation.POINTS,
                    points=pts,
                    outline_color=col,
                    fill_color=col,
                    thickness=4.0,
                )
            )
            bones = [
                Point2(x=float(kp[p, j, 0]), y=float(kp[p, j, 1])) for a, b in edges if ok[a] and ok[b] for j in (a, b)
            ]
            if bones:
                anns.append(
                    PointsAnnotation(
                        timestamp=stamp, type=PointsAnnotation.LINE_LIST, points=bones, outline_color=col, thickness=2.0
                    )
                )
        self.write(self.topic(d), ImageAnnotations(points=anns), t_ns)

    def _rboxes(self, d: Drawn, data: Any, t_ns: int) -> None:
        boxes = np.asarray(data["rbox"], np.float64)
        ok = np.isfinite(boxes).all(axis=-1)
        pids = np.asarray(data["person_id"])[ok] if "person_id" in data else np.full(int(ok.sum()), -1)
        stamp = _stamp(t_ns)
        anns = [
            PointsAnnotation(
                timestamp=stamp,
                type=PointsAnnotation.LINE_LOOP,
                points=[Point2(x=float(x), y=float(y)) for x, y in corners],
                outline_color=_color(person_rgb(int(pid))),
                thickness=2.0,
            )
            for corners, pid in zip(rbox_corners_px(boxes[ok]), pids, strict=True)
        ]
        self.write(self.topic(d), ImageAnnotations(points=anns), t_ns)

    def _scene(self, d: Drawn, entities: list[SceneEntity], t_ns: int) -> None:
        deletion = SceneEntityDeletion(timestamp=_stamp(t_ns), type=SceneEntityDeletion.ALL)
        self.write(self.topic(d), SceneUpdate(deletions=[deletion], entities=entities), t_ns)

    def _skeleton3d(self, d: Drawn, data: Any, t_ns: int) -> None:
        joints = np.asarray(data["joints"], np.float64)
        edges = d.skeleton.edges if d.skeleton is not None else ()
        stamp = _stamp(t_ns)
        entities = []
        for p, pid in enumerate(self._people(data, len(joints))):
            ok = np.asarray(np.isfinite(joints[p]).all(axis=-1))
            if not ok.any():
                continue
            col = _color(person_rgb(pid))
            spheres = [
                SpherePrimitive(
                    pose=Pose(position=Vector3(x=x, y=y, z=z), orientation=Quaternion(w=1.0)),
                    size=Vector3(x=0.05, y=0.05, z=0.05),
                    color=col,
                )
                for x, y, z in joints[p, ok].tolist()
            ]
            bones = [
                Point3(x=float(joints[p, j, 0]), y=float(joints[p, j, 1]), z=float(joints[p, j, 2]))
                for a, b in edges
                if ok[a] and ok[b]
                for j in (a, b)
            ]
            lines = (
                [
                    LinePrimitive(
                        type=LinePrimitive.LINE_LIST,
                        pose=Pose(orientation=Quaternion(w=1.0)),
                        thickness=0.02,
                        color=col,
                        points=bones,
                    )
                ]
                if bones
                else []
            )
            top = joints[p, ok].mean(axis=0)
            text = TextPrimitive(
                pose=Pose(position=Vector3(x=float(top[0]), y=float(top[1]), z=float(top[2])), orientation=Quaternion(w=1.0)),
                billboard=True, font_size=14.0, scale_invariant=True, color=col, text=f"id {pid}" if pid >= 0 else "no id",
            )  # fmt: skip
            entities.append(
                SceneEntity(
                    timestamp=stamp,
                    frame_id=d.frame,
                    id=f"person/{pid}" if pid >= 0 else f"person/none-{p}",
                    frame_locked=False,
                    metadata=[KeyValuePair(key="person_id", value=str(pid))],
                    spheres=spheres,
                    lines=lines,
                    texts=[text],
                )
            )
        self._scene(d, entities, t_ns)

    def _tracks(self, d: Drawn, data: Any, t_ns: int) -> None:
        pos = np.asarray(data["position_m"], np.float64)
        ids = np.asarray(data["track_id"], np.int64)
        stamp = _stamp(t_ns)
        entities = []
        for (x, y, z), tid in zip(pos.tolist(), ids.tolist(), strict=True):
            col = _color(person_rgb(int(tid)), 0.8)
            pose = Pose(position=Vector3(x=x, y=y, z=z), orientation=Quaternion(w=1.0))
            entities.append(
                SceneEntity(
                    timestamp=stamp,
                    frame_id=d.frame,
                    id=f"track/{tid}",
                    metadata=[KeyValuePair(key="track_id", value=str(tid))],
                    spheres=[SpherePrimitive(pose=pose, size=Vector3(x=0.3, y=0.3, z=0.3), color=col)],
                    texts=[
                        TextPrimitive(
                            pose=pose,
                            billboard=True,
                            font_size=14.0,
                            scale_invariant=True,
                            color=col,
                            text=f"track {tid}",
                        )
                    ],
                )
            )
        self._scene(d, entities, t_ns)

    def _boxes(self, d: Drawn, data: Any, t_ns: int) -> None:
        centers = np.asarray(data["center_m"], np.float64)
        sizes = np.asarray(data["size_m"], np.float64)
        stamp = _stamp(t_ns)
        cubes = [
            CubePrimitive(pose=Pose(position=Vector3(x=cx, y=cy, z=cz), orientation=Quaternion(w=1.0)), size=Vector3(x=sx, y=sy, z=sz), color=_color((255, 170, 60), 0.4))
            for (cx, cy, cz), (sx, sy, sz) in zip(centers.tolist(), sizes.tolist(), strict=True)
        ]  # fmt: skip
        self._scene(d, [SceneEntity(timestamp=stamp, frame_id=d.frame, id="boxes", cubes=cubes)] if cubes else [], t_ns)

    def _points(self, d: Drawn, data: Any, t_ns: int) -> None:
        xyz = points_xyz(data, d.xyz)
        xyz = np.ascontiguousarray(xyz[np.isfinite(xyz).all(axis=-1)], dtype="<f4")
        fields = [PackedElementField(name=n, offset=4 * i, type=_FLOAT32) for i, n in enumerate("xyz")]  # type: ignore[arg-type]
        msg = PointCloud(
            timestamp=_stamp(t_ns), frame_id=d.frame, pose=Pose(orientation=Quaternion(w=1.0)), point_stride=12, fields=fields, data=xyz.tobytes()
        )  # fmt: skip
        self.write(self.topic(d), msg, t_ns)

    def _device_pose(self, d: Drawn, data: Any, t_ns: int) -> None:
        m = np.asarray(data["world_from_device"], np.float64)
        self.write("/tf", FrameTransforms(transforms=[_transform(t_ns, "world", d.frame, m)]), t_ns)


def write_mcap(
    session: Session | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    streams: Sequence[str] = (),
    options: ExportOptions | None = None,
    jpeg_quality: int | None = 75,
    min_confidence: float = 0.0,
) -> ExportResult:
    """Write ``session`` (or the session at that path) to the MCAP file ``out`` with Foxglove's
    schemas.

    Args:
        streams: stream keys to write (default: every stream a viewer draws); ``options.streams``
            when ``options`` is given.
        options: people, time range and progress (the exporter hook's options).
        jpeg_quality: images as JPEG ``foxglove.CompressedImage`` at this quality; ``None``:
            ``foxglove.RawImage``.
        min_confidence: 2D keypoints at or below this confidence are left out.

    Returns:
        the result: ``frames`` written, stream keys, ``details`` with the topics (message count
        and schema per topic) and the streams not written.
    """
    options = options or ExportOptions(streams=tuple(streams))
    sess = session if isinstance(session, Session) else Session.open(session)
    selection = select_streams(sess, options.streams)
    check_people(sess, selection, options.person_ids)
    out = Path(out)
    frames = 0
    people: set[int] = set()
    with open(out, "wb") as fh:
        writer = Writer(fh)
        scene = _McapScene(writer, selection.tree, jpeg_quality=jpeg_quality, min_confidence=min_confidence)
        writer.add_metadata(
            "sensorfusion",
            {"session": Path(str(sess.path)).name, "rig": str(sess.rig.get("name", "")), "sensorfusion": __version__},
        )
        rig_written = False
        for d, frame, t_ns in session_frames(sess, selection, options):
            if not rig_written:
                scene.rig(t_ns)
                rig_written = True
            scene.frame(d, frame.data, t_ns)
            frames += 1
            if d.what == "skeleton3d" and "person_id" in frame.data:
                people.update(int(p) for p in frame.data["person_id"] if p >= 0)
        if not rig_written:
            scene.rig(0)
        writer.finish()  # type: ignore[no-untyped-call]
    return ExportResult(
        "mcap",
        (out,),
        frames=frames,
        streams=tuple(d.key for d in selection.drawn),
        person_ids=tuple(sorted(people)),
        details={
            "topics": {t: {"messages": n, "schema": scene.schemas[t]} for t, n in sorted(scene.messages.items())},
            "not_written": selection.skipped,
        },
    )


def export_mcap(session: Session, out: Path, options: ExportOptions) -> ExportResult:
    """The ``mcap`` exporter (``sensorfusion export SESSION --to mcap``). ``--option`` keys:
    ``jpeg_quality`` (1-100, or ``raw`` for ``foxglove.RawImage``; default 75),
    ``min_confidence`` (default 0)."""
    opts = parse_extra(options.extra, _PARSERS, MCAP_OPTIONS)
    return write_mcap(session, out, options=options, **opts)
