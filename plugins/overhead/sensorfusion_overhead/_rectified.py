"""``overhead.rectified``: rotated person boxes from an upright detector run in virtual perspective views.

The model-free path: no model trained on overhead images is needed. Each ceiling camera's
image is resampled into ``views`` virtual pinhole views around the nadir (plus one straight
down), in which people stand upright (:mod:`sensorfusion_overhead._rectify`); any registered
keypoint estimator — ``mediapipe.pose``, ``onnx.keypoints`` with your model, or
``sim.keypoints2d`` on simulated rigs — runs on all of them in one call, built through the
plugin registry with its own params (``estimator: {name, params}``) exactly as a rig stage would be. Its people
are mapped back to the fisheye image ray by ray:

* the **box** of a person is the radius-aligned box (top toward the head) of their keypoints
  mapped to the fisheye image, widened by ``box_margin`` (head end, feet end, sides, as
  fractions of its length: keypoints stop at the eyes and ankles). A model's own upright box is
  not used: the upright box of a person who leans in the view is wide and differs from view to
  view, the keypoints do not;
* the **feet** are the mid-point of the ankle keypoints (when both are above
  ``min_keypoint_confidence``), mapped the same way;
* the **score** is the model's person score (or the mean keypoint confidence) times the
  fraction of the skeleton's keypoints found, the fraction of those inside the view, and
  ``1 - 0.3 x`` the distance of their centre from the view's centre (per half diagonal), so
  the view that sees the whole person, nearest its centre, wins;
* the views overlap, so people seen twice are merged by rotated NMS (``nms_iou``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import (
    ConfigError,
    Estimator,
    FieldSpec,
    Frame,
    FrameKind,
    FrameSet,
    RigCalibration,
    StageContext,
    StreamSpec,
)
from sensorfusion.schema import validate_params

from ._camera import OverheadCamera
from ._rbox import radial_rbox_from_points, rotated_nms
from ._rectify import VirtualView, virtual_views
from ._streams import empty_rboxes, rboxes_spec

__all__ = ["RectifiedDetector", "RectifiedParams", "UprightEstimator"]


class UprightEstimator(BaseModel):
    """The upright keypoint estimator run in the views: a registered name and its params."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="a registered keypoint estimator (mediapipe.pose, onnx.keypoints, sim.keypoints2d)")
    params: dict[str, Any] = Field(default_factory=dict, description="its params, as in a stage of its own")


class RectifiedParams(BaseModel):
    """Parameters of ``overhead.rectified``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    estimator: UprightEstimator = Field(description="the upright keypoint estimator run in every view")
    views: int = Field(default=8, ge=1, le=32, description="virtual views around the nadir")
    elevation_deg: float = Field(default=55.0, gt=0, lt=90, description="angle of each view's axis from the nadir")
    view_fov_deg: float = Field(default=75.0, gt=10, lt=150, description="horizontal field of view of a view")
    view_size: tuple[int, int] = Field(default=(320, 320), description="(width, height) of a view in pixels")
    centre_view: bool = Field(default=True, description="one more view straight down (people under the camera)")
    box_margin: tuple[float, float, float] = Field(
        default=(0.15, 0.08, 0.05),
        description="(head end, feet end, each side) added to the keypoints' box in the fisheye image, per its length",
    )
    min_keypoints: int = Field(default=4, ge=1, description="people with fewer keypoints found are dropped")
    min_keypoint_confidence: float = Field(default=0.3, ge=0, le=1, description="keypoints below this are not found")
    min_score: float = Field(default=0.2, ge=0, le=1, description="detections scored below this are dropped")
    nms_iou: float = Field(default=0.4, gt=0, le=1, description="rotated IoU above which two detections are one person")
    fov_deg: float | None = Field(
        default=None, gt=0, le=360, description="lens field of view (default: the image circle)"
    )


def _build_inner(p: RectifiedParams, context: StageContext, image_specs: list[StreamSpec],
                 views: dict[str, list[VirtualView]]) -> tuple[Estimator, list[StreamSpec]]:  # fmt: skip
    from sensorfusion.plugins import get_plugin_host

    host = get_plugin_host()
    path = context.param_path("estimator")
    cls = host.estimators.get(p.estimator.name, field_path=f"{path}.name")
    params = validate_params(cls.Params, p.estimator.params, field_path=f"{path}.params")
    virtual_specs: list[StreamSpec] = []
    sensors = dict(context.calibration.sensors)
    for spec in image_specs:
        for v in views[spec.name]:
            virtual_specs.append(
                StreamSpec(
                    name=f"{v.name}/image",
                    kind=FrameKind.IMAGE,
                    fields={"image": FieldSpec(dtype="uint8", shape=(v.pinhole.height, v.pinhole.width, 3))},
                    rate_hz=spec.rate_hz,
                    attrs={"color_order": spec.attrs.get("color_order", "rgb"), "virtual_view_of": spec.sensor},
                )
            )
            sensors[v.name] = v.calibration()
    others = [s for s in context.inputs if s.kind != FrameKind.IMAGE]
    inner_ctx = StageContext(
        stage_id=f"{context.stage_id}.views",
        inputs=sorted(virtual_specs + others, key=lambda s: s.name),
        calibration=RigCalibration(sensors=sensors),
        skeletons=context.skeletons,
        seed=context.seed,
        out_dir=context.out_dir,
        config_path=path,  # the inner estimator's param_path(x) is then <stage>.params.estimator.params.x
    )
    bad = [s.name for s in inner_ctx.inputs if cls.input_kinds and s.kind not in cls.input_kinds]
    if bad:
        raise ConfigError(
            f"{p.estimator.name} does not take the streams {bad}; give overhead.rectified only the ceiling images and "
            f"what {p.estimator.name} needs",
            field_path=f"{context.config_path or context.stage_id}.inputs",
            choices=[k.value for k in cls.input_kinds],
        )
    try:
        inner = cls(params, inner_ctx)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"{p.estimator.name} could not be built on the virtual views: {exc}",
            field_path=f"{path}.name",
            value=p.estimator.name,
        ) from exc
    return inner, virtual_specs


def _widen(rbox: np.ndarray, margin: tuple[float, float, float]) -> np.ndarray:
    """Grow a radius-aligned box (top outward) by (top, bottom, each side) x its length."""
    if not np.all(np.isfinite(rbox)):
        return rbox
    top, bottom, side = margin
    length = float(rbox[3])
    a = math.radians(float(rbox[4]))
    up = np.array([math.sin(a), -math.cos(a)])
    out = rbox.copy()
    out[:2] = rbox[:2] + 0.5 * (top - bottom) * length * up
    out[3] = length * (1.0 + top + bottom)
    out[2] = rbox[2] + 2.0 * side * length
    return out


class RectifiedDetector(Estimator):
    """Rotated person boxes in ceiling fisheye images from an upright keypoint estimator (see the module doc).

    Inputs: the ceiling cameras' ``<cam>/image`` streams (a fisheye model and a downward
    mounting each) and whatever else the upright estimator needs (``gt/skeleton3d`` for
    ``sim.keypoints2d``). Outputs: ``<cam>/rboxes`` (:func:`~sensorfusion_overhead.rboxes_spec`)
    and ``<cam>/keypoints2d`` — the people's keypoints in fisheye pixels, skeleton of the upright
    estimator.
    """

    name = "overhead.rectified"
    Params = RectifiedParams
    deterministic = True

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, RectifiedParams)
        self.p = params
        self.images = [s for s in context.inputs if s.kind == FrameKind.IMAGE]
        if not self.images:
            raise ConfigError(
                "overhead.rectified needs the ceiling cameras' image streams among its inputs",
                field_path=f"{context.config_path or context.stage_id}.inputs",
                value=[s.name for s in context.inputs],
            )
        self.cameras: dict[str, OverheadCamera] = {}
        self.views: dict[str, list[VirtualView]] = {}
        self.maps: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        for spec in self.images:
            cam = OverheadCamera.from_calibration(context.calibration, spec.sensor, fov_deg=params.fov_deg)
            shape = spec.fields["image"].shape
            if tuple(shape[:2]) != (cam.camera.height, cam.camera.width):
                raise ConfigError(
                    f"{spec.name} images are {shape[1]}x{shape[0]}, the calibration of {spec.sensor} is "
                    f"{cam.camera.width}x{cam.camera.height}",
                    field_path=f"calibration.sensors.{spec.sensor}.camera",
                )
            self.cameras[spec.name] = cam
            self.views[spec.name] = virtual_views(
                cam,
                views=params.views,
                elevation_rad=math.radians(params.elevation_deg),
                fov_rad=math.radians(params.view_fov_deg),
                size=params.view_size,
                centre_view=params.centre_view,
            )
            self.maps[spec.name] = [v.remap_maps(cam) for v in self.views[spec.name]]
        self.inner, self.virtual_specs = _build_inner(params, context, self.images, self.views)
        self.kp_outputs: dict[str, StreamSpec] = {}
        for out in self.inner.outputs():
            if out.kind == FrameKind.KEYPOINTS2D and "keypoints" in out.fields:
                self.kp_outputs[out.sensor] = out
        view_names = {v.name for vs in self.views.values() for v in vs}
        if not view_names & set(self.kp_outputs):
            raise ConfigError(
                f"{params.estimator.name} produces no keypoints2d stream per image; overhead.rectified needs a keypoint estimator",
                field_path=context.param_path("estimator") + ".name",
                value=params.estimator.name,
            )
        skel = next(iter(self.kp_outputs.values())).skeleton
        self.skeleton = skel
        joints = list(context.skeletons.get(str(skel)).joints) if skel else []
        self.num_joints = next(iter(self.kp_outputs.values())).fields["keypoints"].shape[0]
        self.ankles = [joints.index(n) for n in ("left_ankle", "right_ankle") if n in joints]
        self.counts = {"views": 0, "view_people": 0, "people": 0, "merged": 0}

    def outputs(self) -> list[StreamSpec]:
        out = []
        for s in self.images:
            out.append(rboxes_spec(f"{s.sensor}/rboxes", s.rate_hz, detector=f"rectified:{self.p.estimator.name}"))
            out.append(
                StreamSpec(
                    name=f"{s.sensor}/keypoints2d",
                    kind=FrameKind.KEYPOINTS2D,
                    ragged=True,
                    rate_hz=s.rate_hz,
                    skeleton=self.skeleton,
                    fields={
                        "keypoints": FieldSpec(dtype="float32", shape=(self.num_joints, 3)),
                        "person_id": FieldSpec(dtype="int64"),
                    },
                    attrs={"frame": "fisheye pixels", "detector": f"rectified:{self.p.estimator.name}"},
                )
            )
        return out

    def _view_frames(self, frameset: FrameSet) -> dict[str, Frame]:
        import cv2

        frames: dict[str, Frame] = {}
        for spec in self.images:
            f = frameset.get(spec.name)
            if f is None:
                continue
            img = np.ascontiguousarray(f["image"])
            for v, (mx, my) in zip(self.views[spec.name], self.maps[spec.name], strict=True):
                view = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                frames[f"{v.name}/image"] = Frame(f"{v.name}/image", f.t_sensor_ns, f.t_host_ns, f.seq, {"image": view})
        return frames

    def _people(self, view: VirtualView, cam: OverheadCamera, data: Mapping[str, np.ndarray]) -> list[tuple[np.ndarray, float, np.ndarray, np.ndarray]]:  # fmt: skip
        """(rbox, score, feet_px, keypoints in fisheye pixels) of every person of one view."""
        kps = np.asarray(data["keypoints"], dtype=np.float64).reshape(-1, self.num_joints, 3)
        scores = data.get("score")
        p = self.p
        out = []
        for i in range(len(kps)):
            k = kps[i]
            found = np.all(np.isfinite(k[:, :2]), axis=1) & (k[:, 2] >= p.min_keypoint_confidence)
            if found.sum() < p.min_keypoints:
                continue
            fish_kp = view.to_fisheye(cam, k[found, :2])
            # the keypoints' radius-aligned box in the fisheye image, widened by the margins (an
            # upright box of a tilted person is wide, and it changes from view to view: not used)
            rbox = _widen(radial_rbox_from_points(fish_kp, cam.nadir_px), p.box_margin)
            if not np.all(np.isfinite(rbox)):
                continue
            base = float(scores[i]) if scores is not None else float(k[found, 2].mean())
            # the view that sees the whole person, near its centre, wins the NMS
            w, h = view.pinhole.width, view.pinhole.height
            q = k[found, :2]
            inside = (q[:, 0] >= 0.01 * w) & (q[:, 0] <= 0.99 * w) & (q[:, 1] >= 0.01 * h) & (q[:, 1] <= 0.99 * h)
            off = float(np.hypot(*(q.mean(axis=0) - (view.pinhole.cx, view.pinhole.cy)))) / math.hypot(w / 2, h / 2)
            score = base * float(found.mean()) * float(inside.mean()) * (1.0 - 0.3 * min(off, 1.0))
            feet = np.full(2, np.nan)
            if len(self.ankles) == 2 and found[self.ankles].all():
                feet = view.to_fisheye(cam, k[self.ankles, :2].mean(axis=0)[None])[0]
            fk = np.full((self.num_joints, 3), np.nan)
            fk[:, 2] = 0.0
            fk[found, :2] = fish_kp
            fk[found, 2] = k[found, 2]
            out.append((rbox, score, feet, fk))
        return out

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        views = self._view_frames(frameset)
        if not views:
            return {}
        inner_set = FrameSet(frameset.index, frameset.t_ref_ns, frameset.t_host_ns, dict(views))
        for s in self.context.inputs:
            f = frameset.get(s.name)
            if f is not None and s.kind != FrameKind.IMAGE:
                inner_set.frames[s.name] = f
        result = self.inner.process(inner_set)
        out: dict[str, Mapping[str, np.ndarray]] = {}
        for spec in self.images:
            if frameset.get(spec.name) is None:
                continue
            cam = self.cameras[spec.name]
            people = []
            for v in self.views[spec.name]:
                self.counts["views"] += 1
                kp_spec = self.kp_outputs.get(v.name)
                data = result.get(kp_spec.name) if kp_spec is not None else None
                if data is None:
                    continue
                found = self._people(v, cam, data)
                self.counts["view_people"] += len(found)
                people.extend(found)
            people = [q for q in people if q[1] >= self.p.min_score]
            if not people:
                out[f"{spec.sensor}/rboxes"] = empty_rboxes()
                out[f"{spec.sensor}/keypoints2d"] = {
                    "keypoints": np.zeros((0, self.num_joints, 3), np.float32),
                    "person_id": np.zeros(0, np.int64),
                }
                continue
            boxes = np.array([q[0] for q in people])
            scores = np.array([q[1] for q in people])
            keep = rotated_nms(boxes, scores, self.p.nms_iou)
            self.counts["people"] += len(keep)
            self.counts["merged"] += len(people) - len(keep)
            out[f"{spec.sensor}/rboxes"] = {
                "rbox": boxes[keep].astype(np.float32),
                "score": scores[keep].astype(np.float32),
                "feet_px": np.array([people[i][2] for i in keep], np.float32).reshape(-1, 2),
                "person_id": np.full(len(keep), -1, np.int64),
            }
            out[f"{spec.sensor}/keypoints2d"] = {
                "keypoints": np.array([people[i][3] for i in keep], np.float32).reshape(-1, self.num_joints, 3),
                "person_id": np.full(len(keep), -1, np.int64),
            }
        return out

    def warmup(self) -> None:
        """The upright estimator's own warm-up and the rotated-IoU kernel (no state changes)."""
        self.inner.warmup()
        rotated_nms(np.array([[10.0, 10.0, 4.0, 10.0, 0.0], [11.0, 10.0, 4.0, 10.0, 5.0]]), np.array([0.9, 0.8]), 0.5)

    def summary(self) -> dict[str, Any]:
        inner = self.inner.summary()
        return {**self.counts, **({"inner": inner} if inner else {})}

    def close(self) -> None:
        self.inner.close()
