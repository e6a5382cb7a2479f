"""``mediapipe.pose``: BlazePose 33 landmarks (2D, optional 3D world) and face-mesh head pose.

One stage handles every camera of the frameset (batched across cameras): per camera it
keeps its own MediaPipe solution objects (trackers keep per-camera state), and the
cameras of one frameset run concurrently on a small thread pool (MediaPipe releases the
GIL while its graph runs).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sensorfusion import ConfigError, Estimator, FieldSpec, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.schema import PinholeCamera

from ._detect import BlazePoseRegions, HogRegions, Region, crop_affine, suppress_duplicates
from ._headpose import FACE_MESH_INDICES, euler_from_rotation, solve_head_pose
from ._mp import bundled_pose_models, make_face_mesh, make_pose, quiet, require_mediapipe

__all__ = ["MediaPipePose", "MediaPipePoseParams"]

J = 33
# BlazePose face points (nose, eyes, ears, mouth) used to place the head crop
_FACE_POINTS = np.arange(11)


class MediaPipePoseParams(BaseModel):
    """Parameters of ``mediapipe.pose`` (every field is documented in the README)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_complexity: int = Field(
        default=1,
        ge=0,
        le=2,
        description="BlazePose landmark model: 0 lite, 1 full, 2 heavy (only bundled ones are accepted)",
    )
    min_detection_confidence: float = Field(
        default=0.5, ge=0, le=1, description="BlazePose's own detector threshold inside each crop / image"
    )
    min_tracking_confidence: float = Field(
        default=0.5, ge=0, le=1, description="landmark presence threshold (tracking mode)"
    )
    max_people: int = Field(default=1, ge=1, le=64, description="people reported per image at most")
    detector: Literal["none", "blazepose", "hog"] = Field(
        default="blazepose", description="person detector for top-down crops; none: one person, the whole image"
    )
    detector_min_score: float = Field(
        default=0.4, description="detector score threshold (blazepose: sigmoid score 0-1; hog: SVM margin)"
    )
    crop_scale: float = Field(default=1.25, gt=0.5, le=3, description="region side = this x the detector's body extent")
    crop_size_px: int = Field(default=512, ge=128, le=2048, description="person crops are warped to this square size")
    hog_max_side_px: int = Field(default=800, ge=128, description="images are downscaled to this longer side for HOG")
    duplicate_iou: float = Field(
        default=0.5, gt=0, le=1, description="two people whose landmark boxes overlap more than this are one"
    )
    tracking: bool = Field(
        default=True, description="detector none: track across frames (video mode) instead of detecting every frame"
    )
    world_landmarks: bool = Field(
        default=False, description="also output <cam>/world_landmarks (BlazePose 3D, hip-centred metres)"
    )
    head_pose: bool = Field(default=False, description="also output <cam>/head_pose from face-mesh landmarks")
    face_min_confidence: float = Field(
        default=0.5, ge=0, le=1, description="face detector threshold inside each head crop"
    )
    person_id: Literal["none", "single"] = Field(
        default="none", description="none: person_id -1 (unassociated); single: 0 (needs max_people 1)"
    )
    threads: int = Field(
        default=0, ge=0, le=64, description="cameras processed concurrently; 0: min(cameras, CPU cores)"
    )

    @model_validator(mode="after")
    def _single(self) -> MediaPipePoseParams:
        if self.person_id == "single" and self.max_people != 1:
            raise ValueError("person_id: single needs max_people: 1 (ids are only trivial with one person)")
        return self


@dataclass
class _Camera:
    """Per-camera state: MediaPipe solution objects, intrinsics for head pose."""

    input: str
    output: str
    world_output: str
    head_output: str
    K: np.ndarray
    dist: np.ndarray | None
    pose: Any = None
    face: Any = None
    regions: Any = None
    stats: dict[str, int] = field(default_factory=lambda: {"images": 0, "people": 0, "regions": 0, "heads": 0})


class MediaPipePose(Estimator):
    """BlazePose (33 landmarks) on every ``IMAGE`` input (uint8 RGB ``(H, W, 3)``).

    Outputs per input ``<cam>/image``:

    * ``<cam>/keypoints2d`` (ragged): ``keypoints (P, 33, 3)`` float32 = x_px, y_px, confidence
      (BlazePose's landmark visibility), ``person_id (P,)`` int64 (-1: unassociated), ``score (P,)``
      float32 (detector score; 1 with detector none). Skeleton ``blazepose33``.
    * ``<cam>/world_landmarks`` (``world_landmarks: true``, ragged SKELETON3D): ``joints (P, 33, 3)``
      metres in BlazePose's body frame (origin between the hips, axes roughly the camera's).
    * ``<cam>/head_pose`` (``head_pose: true``, ragged ORIENTATION): ``yaw_pitch_roll_rad (P, 3)``,
      ``camera_from_head (P, 3, 3)``, ``translation_m (P, 3)``, ``reprojection_error_px (P,)``,
      ``person_index (P,)`` (row in the same frame's keypoints2d), ``person_id (P,)``.
    """

    name = "mediapipe.pose"
    Params = MediaPipePoseParams
    input_kinds = (FrameKind.IMAGE,)
    requires_camera_calibration = False
    deterministic = True

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, MediaPipePoseParams)
        self.p = params
        require_mediapipe("mediapipe.pose")
        models = bundled_pose_models()
        if params.model_complexity not in models:
            raise ConfigError(
                "this BlazePose landmark model is not in the installed mediapipe wheel (it would be "
                "downloaded; sensorfusion never downloads models)",
                field_path=context.param_path("model_complexity"),
                value=params.model_complexity,
                choices=[str(c) for c in sorted(models)],
            )
        images = context.inputs_of_kind(FrameKind.IMAGE)
        if not images:
            raise ConfigError(
                "mediapipe.pose needs at least one image input",
                field_path=f"{context.config_path or context.stage_id}.inputs",
            )
        self.cameras: list[_Camera] = []
        for spec in images:
            img = spec.fields.get("image")
            if img is None or img.dtype != "uint8" or len(img.shape) != 3 or img.shape[2] != 3:
                raise ConfigError(
                    f"mediapipe.pose needs uint8 RGB images with an 'image' field of shape (H, W, 3); {spec.name} has "
                    f"{ {k: (f.dtype, f.shape) for k, f in spec.fields.items()} }",
                    field_path=f"{context.config_path or context.stage_id}.inputs",
                    value=spec.name,
                )
            h, w = img.shape[:2]
            K, dist = _intrinsics(context, spec.sensor, w, h)
            self.cameras.append(
                _Camera(
                    spec.name,
                    f"{spec.sensor}/keypoints2d",
                    f"{spec.sensor}/world_landmarks",
                    f"{spec.sensor}/head_pose",
                    K,
                    dist,
                )
            )
        self._specs = {s.name: s for s in images}
        n_threads = params.threads or min(len(self.cameras), os.cpu_count() or 1)
        self._pool = (
            ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="mediapipe") if n_threads > 1 else None
        )
        self._out_specs = self._make_outputs()

    # -- outputs ------------------------------------------------------------------------------------

    def _make_outputs(self) -> list[StreamSpec]:
        out: list[StreamSpec] = []
        for cam in self.cameras:
            rate = self._specs[cam.input].rate_hz
            attrs = {
                "model": f"blazepose_{['lite', 'full', 'heavy'][self.p.model_complexity]}",
                "detector": self.p.detector,
                "person_id": self.p.person_id,
            }
            out.append(
                StreamSpec(
                    name=cam.output,
                    kind=FrameKind.KEYPOINTS2D,
                    ragged=True,
                    rate_hz=rate,
                    skeleton="blazepose33",
                    fields={
                        "keypoints": FieldSpec(dtype="float32", shape=(J, 3)),
                        "person_id": FieldSpec(dtype="int64"),
                        "score": FieldSpec(dtype="float32"),
                    },
                    attrs=attrs,
                )
            )
            if self.p.world_landmarks:
                out.append(
                    StreamSpec(
                        name=cam.world_output,
                        kind=FrameKind.SKELETON3D,
                        ragged=True,
                        rate_hz=rate,
                        skeleton="blazepose33",
                        fields={
                            "joints": FieldSpec(dtype="float32", shape=(J, 3)),
                            "person_id": FieldSpec(dtype="int64"),
                        },
                        attrs={
                            "frame": "blazepose_body: origin between the hips, metres, axes roughly the camera's (x right, y down, z forward)"
                        },
                    )
                )
            if self.p.head_pose:
                out.append(
                    StreamSpec(
                        name=cam.head_output,
                        kind=FrameKind.ORIENTATION,
                        ragged=True,
                        rate_hz=rate,
                        fields={
                            "yaw_pitch_roll_rad": FieldSpec(dtype="float32", shape=(3,)),
                            "camera_from_head": FieldSpec(dtype="float32", shape=(3, 3)),
                            "translation_m": FieldSpec(dtype="float32", shape=(3,)),
                            "reprojection_error_px": FieldSpec(dtype="float32"),
                            "person_index": FieldSpec(dtype="int64"),
                            "person_id": FieldSpec(dtype="int64"),
                        },
                        attrs={
                            "convention": "camera_from_head = Ry(yaw) Rx(pitch) Rz(roll); head frame x subject's left, y down, z into the head; see sensorfusion-mediapipe README"
                        },
                    )
                )
        return out

    def outputs(self) -> list[StreamSpec]:
        return list(self._out_specs)

    # -- processing ---------------------------------------------------------------------------------

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        todo = [(cam, frameset.get(cam.input)) for cam in self.cameras]
        work = [(cam, f["image"]) for cam, f in todo if f is not None]
        result: dict[str, Mapping[str, np.ndarray]] = {}
        with quiet():
            if self._pool is not None and len(work) > 1:
                outs = list(self._pool.map(lambda cw: self._camera(*cw), work))
            else:
                outs = [self._camera(cam, img) for cam, img in work]
        for out in outs:
            result.update(out)
        return result

    def _camera(self, cam: _Camera, image: np.ndarray) -> dict[str, Mapping[str, np.ndarray]]:
        image = np.ascontiguousarray(image)
        cam.stats["images"] += 1
        if self.p.detector == "none":
            people = self._whole_image(cam, image)
        else:
            people = self._top_down(cam, image)
        people = people[: self.p.max_people]
        cam.stats["people"] += len(people)
        P = len(people)
        kps = np.stack([p[0] for p in people]).astype(np.float32) if P else np.zeros((0, J, 3), np.float32)
        world = np.stack([p[1] for p in people]).astype(np.float32) if P else np.zeros((0, J, 3), np.float32)
        scores = np.array([p[2] for p in people], dtype=np.float32)
        pid = np.full(P, 0 if self.p.person_id == "single" else -1, dtype=np.int64)
        out: dict[str, Mapping[str, np.ndarray]] = {cam.output: {"keypoints": kps, "person_id": pid, "score": scores}}
        if self.p.world_landmarks:
            out[cam.world_output] = {"joints": world, "person_id": pid.copy()}
        if self.p.head_pose:
            out[cam.head_output] = self._head_poses(cam, image, kps, pid)
        return out

    def _run_pose(self, pose: Any, image: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Landmarks of one person: ``(33, 3)`` normalised x, y + visibility, and ``(33, 3)`` world metres."""
        res = pose.process(image)
        if res.pose_landmarks is None:
            return None
        lm = np.array([(p.x, p.y, p.visibility) for p in res.pose_landmarks.landmark], dtype=np.float64)
        if res.pose_world_landmarks is not None:
            world = np.array([(p.x, p.y, p.z) for p in res.pose_world_landmarks.landmark], dtype=np.float64)
        else:
            world = np.full((J, 3), np.nan)
        return lm, world

    def _whole_image(self, cam: _Camera, image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
        if cam.pose is None:
            cam.pose = make_pose(
                static_image_mode=not self.p.tracking,
                model_complexity=self.p.model_complexity,
                min_detection_confidence=self.p.min_detection_confidence,
                min_tracking_confidence=self.p.min_tracking_confidence,
            )
        got = self._run_pose(cam.pose, image)
        if got is None:
            return []
        lm, world = got
        h, w = image.shape[:2]
        kp = np.column_stack([lm[:, 0] * w, lm[:, 1] * h, lm[:, 2]])
        return [(kp, world, 1.0)]

    def _top_down(self, cam: _Camera, image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
        if cam.regions is None:
            if self.p.detector == "blazepose":
                cam.regions = BlazePoseRegions(min_score=self.p.detector_min_score, crop_scale=self.p.crop_scale)
            else:
                cam.regions = HogRegions(
                    min_score=self.p.detector_min_score,
                    crop_scale=self.p.crop_scale,
                    max_side_px=self.p.hog_max_side_px,
                )
            cam.pose = make_pose(
                static_image_mode=True,
                model_complexity=self.p.model_complexity,
                min_detection_confidence=self.p.min_detection_confidence,
                min_tracking_confidence=self.p.min_tracking_confidence,
            )
        regions: list[Region] = cam.regions(image)
        cam.stats["regions"] += len(regions)
        S = self.p.crop_size_px
        found: list[tuple[np.ndarray, np.ndarray, float]] = []
        for region in regions[: 4 * self.p.max_people]:
            A = crop_affine(region, S)
            crop = cv2.warpAffine(
                image, A, (S, S), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0)
            )
            got = self._run_pose(cam.pose, crop)
            if got is None:
                continue
            lm, world = got
            Ainv = cv2.invertAffineTransform(A)
            xy = lm[:, :2] * S
            full = xy @ Ainv[:, :2].T + Ainv[:, 2]
            found.append((np.column_stack([full, lm[:, 2]]), world, region.score))
        if len(found) > 1:
            boxes = np.array([_landmark_box(kp) for kp, _, _ in found])
            keep = suppress_duplicates(boxes, np.array([s for _, _, s in found]), self.p.duplicate_iou)
            found = [found[i] for i in keep]
        return found

    def _head_poses(self, cam: _Camera, image: np.ndarray, kps: np.ndarray, pid: np.ndarray) -> dict[str, np.ndarray]:
        if cam.face is None:
            cam.face = make_face_mesh(min_detection_confidence=self.p.face_min_confidence)
        rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, float, int]] = []
        S = 256
        for i, kp in enumerate(kps):
            face = kp[_FACE_POINTS, :2].astype(np.float64)
            if not np.isfinite(face).all():
                continue
            centre = face.mean(axis=0)
            extent = float(np.max(np.ptp(face, axis=0)))
            if extent < 4.0:
                continue
            region = Region(float(centre[0]), float(centre[1]), 2.2 * extent, 1.0)
            A = crop_affine(region, S)
            crop = cv2.warpAffine(image, A, (S, S), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            res = cam.face.process(crop)
            if not res.multi_face_landmarks:
                continue
            mesh = res.multi_face_landmarks[0].landmark
            pts = np.array([(mesh[k].x * S, mesh[k].y * S) for k in FACE_MESH_INDICES], dtype=np.float64)
            Ainv = cv2.invertAffineTransform(A)
            pts = pts @ Ainv[:, :2].T + Ainv[:, 2]
            solved = solve_head_pose(pts, cam.K, cam.dist)
            if solved is None:
                continue
            rot, t, err = solved
            rows.append((euler_from_rotation(rot), rot, t, err, i))
        cam.stats["heads"] += len(rows)
        n = len(rows)
        return {
            "yaw_pitch_roll_rad": np.array([r[0] for r in rows], dtype=np.float32).reshape(n, 3),
            "camera_from_head": np.array([r[1] for r in rows], dtype=np.float32).reshape(n, 3, 3),
            "translation_m": np.array([r[2] for r in rows], dtype=np.float32).reshape(n, 3),
            "reprojection_error_px": np.array([r[3] for r in rows], dtype=np.float32),
            "person_index": np.array([r[4] for r in rows], dtype=np.int64),
            "person_id": np.array([pid[r[4]] for r in rows], dtype=np.int64),
        }

    def summary(self) -> dict[str, Any]:
        return {cam.input: dict(cam.stats) for cam in self.cameras}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        with quiet():
            for cam in self.cameras:
                for obj in (cam.pose, cam.face, cam.regions):
                    if obj is not None:
                        obj.close()
                cam.pose = cam.face = cam.regions = None


def _landmark_box(kp: np.ndarray) -> tuple[float, float, float, float]:
    xy = kp[:, :2][np.isfinite(kp[:, :2]).all(axis=1)]
    if len(xy) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))


def _intrinsics(context: StageContext, sensor: str, width: int, height: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The camera's K and distortion from the rig calibration, else a nominal pinhole (f = longer side)."""
    cal = context.calibration.sensors.get(sensor)
    if cal is not None and isinstance(cal.camera, PinholeCamera):
        return cal.camera.K, cal.camera.dist_coeffs
    f = float(max(width, height))
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=np.float64), None
