"""Built-in plugin: the fusion stages.

* ``triangulate.dlt`` — the plain confidence-weighted DLT, no outlier rejection; needs person
  ids that agree across views (detections with ``person_id < 0`` are counted and skipped).
* ``triangulate`` — one person, robust triangulation (outlier views rejected, Gauss–Newton
  refinement), any calibrated camera model, optional filter.
* ``multiperson`` — several people without ids: cross-view association, robust triangulation,
  tracking with persistent ids, and filtering.

Both robust stages flag (or drop, by the rig's ``capture_volume.outside`` rule) people outside the
rig's capture volume. ``multiperson`` reports a new track from its first frame: the frames held
while the track was being confirmed come out in ``<stage>/backfill`` in the frameset that
confirms it (see :class:`MultiPersonFusion`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .._components import Estimator, StageContext
from .._errors import ConfigError
from ..fusion._cameras import ViewModel, view_model
from ..fusion._outputs import skeleton3d_spec
from ..fusion._pipeline import FusionFrame, FusionSettings, PersonFusion
from ..fusion._triangulate import triangulate_points
from ..fusion._volume import CaptureVolume
from ..kernels import check_limits
from ..schema._skeletons import SkeletonSpec
from ..schema._streams import Frame, FrameKind, FrameSet, StreamSpec
from ..schema._volume import CaptureVolumeConfig

__all__ = ["DltTriangulator", "MultiPersonFusion", "SinglePersonFusion"]


def _float32(x: np.ndarray) -> np.ndarray:
    """Errors as float32: beyond its range (a point almost in a camera's plane) is inf."""
    with np.errstate(over="ignore"):
        return np.asarray(x, dtype=np.float64).astype(np.float32)


class DltParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_confidence: float = Field(default=0.3, ge=0, le=1, description="2D keypoints at or below this are left out")
    min_views: int = Field(default=2, ge=2, description="views needed to triangulate a joint")
    tier: Literal["auto", "numpy", "cpu", "cuda"] = Field(default="auto", description="kernel tier")


def _input_skeleton(context: StageContext) -> SkeletonSpec:
    """The one skeleton every keypoint input declares."""
    skeletons = {s.skeleton for s in context.inputs}
    if len(skeletons) != 1 or None in skeletons:
        raise ConfigError(
            "all inputs must declare the same skeleton",
            field_path=f"{context.config_path or context.stage_id}.inputs",
            value=sorted(map(str, skeletons)),
        )
    return context.skeletons.get(str(next(iter(skeletons))))


def _view_models(context: StageContext) -> list[ViewModel]:
    """Undistortion + projection matrix of every input's camera (any camera model)."""
    for s in context.inputs:
        cal = context.calibration.sensors.get(s.sensor)
        if cal is not None and cal.mount is not None:
            raise ConfigError(
                f"camera {s.sensor} is mounted on the moving device {cal.mount.device!r}; these stages need "
                "cameras fixed in the world (use an estimator that reads the device_pose stream, e.g. egocentric.*)",
                field_path=f"{context.config_path or context.stage_id}.inputs",
                value=s.name,
            )
    return [
        view_model(
            context.calibration.camera(s.sensor),
            context.calibration.sensors[s.sensor].world_from_sensor,
            field_path=f"calibration.sensors.{s.sensor}.camera.model",
        )
        for s in context.inputs
    ]


def _synthetic_people(models: Sequence[ViewModel], num_joints: int, people: int = 2) -> list[np.ndarray]:
    """Detections ``(people, J, 3)`` per view of small upright bodies where the cameras' optical
    axes meet, projected with each view's ideal ``P``: input that exercises every kernel a
    fusion stage runs (for :meth:`Estimator.warmup`; its numbers do not matter)."""
    centres, axes = [], []
    for m in models:
        M, p4 = m.P[:, :3], m.P[:, 3]
        centres.append(-np.linalg.solve(M, p4))
        axes.append(M[2] / np.linalg.norm(M[2]))
    A = np.zeros((3, 3))
    b = np.zeros(3)
    for c, d in zip(centres, axes, strict=True):
        proj = np.eye(3) - np.outer(d, d)
        A += proj
        b += proj @ c
    try:
        meet = np.linalg.solve(A, b)
    except np.linalg.LinAlgError:
        meet = np.mean(centres, axis=0) + 2.0 * np.mean(axes, axis=0)
    up = np.cross(axes[0], [1.0, 0.0, 0.0]) if len(axes) else np.array([0.0, 0.0, 1.0])
    up = up / (np.linalg.norm(up) or 1.0)
    side = np.cross(up, axes[0]) if len(axes) else np.array([1.0, 0.0, 0.0])
    side = side / (np.linalg.norm(side) or 1.0)
    t = np.linspace(-0.8, 0.8, num_joints)
    out = []
    for m in models:
        dets = []
        for k in range(people):
            joints = meet + np.outer(t, up) + 0.15 * np.outer(np.sin(3 * t), side) + (k - 0.5) * 0.8 * side
            uvw = np.c_[joints, np.ones(num_joints)] @ m.P.T
            uv = uvw[:, :2] / uvw[:, 2:3]
            dets.append(np.c_[uv, np.full(num_joints, 0.9)])
        out.append(np.asarray(dets, dtype=np.float64))
    return out


class DltTriangulator(Estimator):
    """Triangulate each person (by ``person_id``) from every view with a confidence-weighted DLT
    (no outlier rejection), through any calibrated camera model.

    Output ``<stage>/skeleton3d`` (ragged per person): ``joints (J, 3)`` world metres (NaN where
    fewer than ``min_views`` views), ``person_id``, ``reprojection_error_px (J,)`` (mean over
    the views used) and ``views (J,)``.
    """

    name = "triangulate.dlt"
    Params = DltParams
    input_kinds = (FrameKind.KEYPOINTS2D,)
    requires_camera_calibration = True

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, DltParams)
        self.p = params
        # a tier that cannot hold this many views is refused at build, not at the first frame
        check_limits(
            "fusion.triangulate", params.tier, field_path=context.param_path("tier"), views=len(context.inputs)
        )
        self.skeleton = _input_skeleton(context)
        self.views = [s.name for s in context.inputs]
        self.models = _view_models(context)
        self.P = np.stack([m.P for m in self.models])
        self.out_name = f"{context.stage_id}/skeleton3d"
        self._frames = 0
        self._persons = 0
        self._unassociated = 0
        self._reproj_sum = 0.0
        self._reproj_n = 0

    def outputs(self) -> list[StreamSpec]:
        return [skeleton3d_spec(self.out_name, self.skeleton, status=False)]

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        J = self.skeleton.num_joints
        V = len(self.views)
        per_view: list[dict[int, np.ndarray]] = []
        for name in self.views:
            f = frameset.get(name)
            people: dict[int, np.ndarray] = {}
            if f is not None:
                for kp, pid in zip(f["keypoints"], f["person_id"], strict=True):
                    if pid < 0:
                        self._unassociated += 1
                    else:
                        people[int(pid)] = kp
            per_view.append(people)
        order = sorted({pid for people in per_view for pid in people})
        P = len(order)
        pts = np.full((V, P, J, 2), np.nan)
        conf = np.zeros((V, P, J))
        for v, people in enumerate(per_view):
            for p, pid in enumerate(order):
                kp = people.get(pid)
                if kp is not None:
                    pts[v, p] = self.models[v].undistort(kp[:, :2].astype(np.float64))
                    conf[v, p] = np.nan_to_num(kp[:, 2].astype(np.float64))
        r = triangulate_points(
            pts, conf, self.P, min_confidence=self.p.min_confidence, min_views=self.p.min_views, tier=self.p.tier
        )
        views = r.views_used
        e = r.reprojection_error_px
        # a view left out adds nothing; an inlier view the point projects badly into (behind the
        # camera: inf) makes the joint's error inf, never a huge finite number
        e = np.where(r.inliers, np.where(np.isnan(e), 0.0, e), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            err = e.sum(axis=0) / views
        err = np.where(np.isfinite(r.points3d).all(-1), err, np.nan)
        finite = np.isfinite(err)
        self._reproj_sum += float(err[finite].sum())
        self._reproj_n += int(finite.sum())
        self._frames += 1
        self._persons += P
        return {
            self.out_name: {
                "joints": r.points3d.astype(np.float32).reshape(P, J, 3),
                "person_id": np.asarray(order, dtype=np.int64),
                "reprojection_error_px": _float32(err).reshape(P, J),
                "views": np.minimum(views, 127).astype(np.int8).reshape(P, J),
            }
        }

    def warmup(self) -> None:
        """Triangulate synthetic detections once with a throw-away copy (compiles the kernels)."""
        copy = DltTriangulator(self.p, self.context)
        dets = _synthetic_people(self.models, self.skeleton.num_joints)
        frames = {
            name: Frame(
                name, 0, 0, 0, {"keypoints": d.astype(np.float32), "person_id": np.arange(len(d), dtype=np.int64)}
            )
            for name, d in zip(self.views, dets, strict=True)
        }
        copy.process(FrameSet(0, 0, 0, frames, tuple(self.views)))

    def summary(self) -> dict[str, Any]:
        return {
            "framesets": self._frames,
            "person_frames": self._persons,
            "mean_reprojection_error_px": round(self._reproj_sum / self._reproj_n, 3) if self._reproj_n else None,
            "unassociated_detections": self._unassociated,
        }


class RobustParams(BaseModel):
    """Parameters shared by ``triangulate`` and ``multiperson``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_confidence: float = Field(default=0.3, ge=0, le=1, description="2D keypoints at or below this are left out")
    min_views: int = Field(default=2, ge=2, description="views needed to triangulate a joint")
    robust: bool = Field(default=True, description="reject views that reproject farther than threshold_px")
    threshold_px: float = Field(default=15.0, gt=0, description="outlier threshold on the reprojection error (pixels)")
    refine_iters: int = Field(default=2, ge=0, le=50, description="Gauss-Newton iterations after the linear solution")
    tier: Literal["auto", "numpy", "cpu", "cuda"] = Field(default="auto", description="kernel tier")
    filter: Literal["none", "one_euro", "kalman"] = Field(
        default="one_euro", description="online temporal filter per track"
    )
    one_euro_min_cutoff_hz: float = Field(default=2.0, gt=0, description="One-Euro minimum cut-off frequency")
    one_euro_beta: float = Field(default=20.0, ge=0, description="One-Euro speed coefficient")
    kalman_process_noise: float = Field(default=5.0, gt=0, description="Kalman white-acceleration density (m^2/s^3)")
    kalman_measurement_noise_m: float = Field(default=0.015, gt=0, description="Kalman measurement noise (m, 1 sigma)")
    bone_lengths: bool = Field(
        default=False, description="hold each track's bone lengths at their median of the first 30 frames"
    )


class MultiPersonParams(RobustParams):
    max_ray_distance_m: float = Field(
        default=0.15, gt=0, description="association: median ray-to-ray distance for a match"
    )
    min_common_joints: int = Field(default=3, ge=1, description="association: joints two detections must share")
    min_joints: int = Field(default=5, ge=1, description="a person hypothesis needs this many triangulated joints")
    merge_distance_m: float = Field(
        default=0.25, gt=0, description="hypotheses closer than this (median joint) with disjoint views merge"
    )
    max_track_distance_m: float = Field(
        default=0.4, gt=0, description="tracking gate: mean joint distance to the prediction"
    )
    max_speed_m_s: float = Field(
        default=2.0, ge=0, description="tracking gate grows by this speed while a track is unseen"
    )
    max_missing_s: float = Field(
        default=1.0, ge=0, description="a track unseen this long dies (re-identification window)"
    )
    birth_hits: int = Field(
        default=2, ge=1, description="frames a new track needs to be confirmed (earlier ones come out as backfill)"
    )
    match_trim: float = Field(
        default=0.25, ge=0, lt=1, description="tracking cost: fraction of the farthest shared joints left out"
    )
    max_joint_speed_m_s: float = Field(default=5.0, gt=0, description="a joint's tracked velocity is capped at this")
    predict_horizon_s: float = Field(
        default=0.25, ge=0, description="a missing joint is extrapolated this long at most, then held"
    )
    reid_window_s: float = Field(
        default=10.0, ge=0, description="a lost track's id can be re-claimed this long after max_missing_s"
    )
    reid_distance_m: float = Field(
        default=1.5,
        gt=0,
        description="re-claiming: a new track this close to where a lost one was last seen (+ max_speed_m_s per s away)",
    )
    reid_bone_tolerance: float = Field(
        default=0.05, ge=0, description="re-claiming: relative bone-length difference allowed (length-weighted)"
    )
    reid_hits: int = Field(default=8, ge=1, description="re-claiming: frames a new track is held to compare bones")
    backfill: bool = Field(default=True, description="emit the frames held during confirmation on <stage>/backfill")


class _FusionStage(Estimator):
    input_kinds = (FrameKind.KEYPOINTS2D,)
    requires_camera_calibration = True
    multiperson: ClassVar[bool] = True

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, RobustParams)
        self.p = params
        self.skeleton = _input_skeleton(context)
        self.views = [s.name for s in context.inputs]
        models = _view_models(context)
        check_limits("fusion.triangulate", params.tier, field_path=context.param_path("tier"), views=len(models))
        extra = params.model_dump(exclude=set(RobustParams.model_fields)) if self.multiperson else {}
        settings = FusionSettings(
            multiperson=self.multiperson,
            **{k: v for k, v in params.model_dump().items() if k in RobustParams.model_fields},
            **extra,
        )
        volume_config = context.capture_volume if context.capture_volume is not None else CaptureVolumeConfig()
        self.volume = CaptureVolume.from_calibration(
            volume_config, context.calibration, [s.sensor for s in context.inputs]
        )
        self.fusion = PersonFusion(models, self.skeleton.parents, settings, volume=self.volume)
        self._models, self._settings = models, settings
        self.out_name = f"{context.stage_id}/skeleton3d"
        self.backfill_name = f"{context.stage_id}/backfill"
        self.backfill = self.multiperson and settings.backfill
        self._backfill_spec = skeleton3d_spec(self.backfill_name, self.skeleton, status=True, backfill=True)
        self._persons = 0

    def warmup(self) -> None:
        """Two steps of a throw-away fusion on synthetic detections (compiles every kernel the
        pipeline runs: triangulation, refinement, association, tracking, filters)."""
        scratch = PersonFusion(self._models, self.skeleton.parents, self._settings, volume=self.volume)
        dtypes = [
            np.dtype(s.fields["keypoints"].dtype) if "keypoints" in s.fields else np.float32
            for s in self.context.inputs
        ]  # the kernels compile per dtype: use the real one
        people = _synthetic_people(self._models, self.skeleton.num_joints)
        dets: list[np.ndarray | None] = [d.astype(dt) for d, dt in zip(people, dtypes, strict=True)]
        for step in range(3):
            scratch.step(step / 30.0, dets)

    def outputs(self) -> list[StreamSpec]:
        out = [skeleton3d_spec(self.out_name, self.skeleton, status=True)]
        if self.backfill:
            out.append(self._backfill_spec)
        return out

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        dets: list[np.ndarray | None] = []
        for name in self.views:
            f = frameset.get(name)
            dets.append(None if f is None else np.asarray(f["keypoints"]))
        r = self.fusion.step(frameset.t_ref_ns * 1e-9, dets, stamp=frameset.t_ref_ns)
        self._persons += len(r.track_id)
        out = {self.out_name: self._fields(r)}
        if self.backfill:
            late = [self._fields(b) | {"t_ns": np.full(len(b.track_id), b.stamp, dtype=np.int64)} for b in r.backfill]
            if late:
                out[self.backfill_name] = {k: np.concatenate([x[k] for x in late]) for k in late[0]}
            else:
                out[self.backfill_name] = self._backfill_spec.empty()
        return out

    def _fields(self, r: FusionFrame) -> dict[str, np.ndarray]:
        K, J = len(r.track_id), self.skeleton.num_joints
        return {
            "joints": r.joints.astype(np.float32).reshape(K, J, 3),
            "person_id": r.track_id.astype(np.int64),
            "reprojection_error_px": _float32(r.reprojection_error_px).reshape(K, J),
            "views": np.minimum(r.views, 127).astype(np.int8).reshape(K, J),
            "status": r.status.astype(np.int8).reshape(K, J),
            "in_volume": r.in_volume.astype(bool).reshape(K),
        }

    def summary(self) -> dict[str, Any]:
        per_view = self.fusion.reprojection_summary()
        tr = self.fusion.tracker
        out: dict[str, Any] = {
            "framesets": self.fusion.frames,
            "person_frames": self._persons,
            "per_view": {name: s for name, s in zip(self.views, per_view, strict=True)},
        }
        if self.multiperson:
            out.update(
                tracks_born=tr.births,
                tracks_died=tr.deaths,
                reidentified=tr.reidentified,
                reclaimed=tr.reclaimed,
                backfilled_person_frames=self.fusion.backfilled,
            )
        out["capture_volume"] = {
            "shape": self.volume.config.shape,
            "outside": self.volume.outside,
            "outside_person_frames": self.fusion.outside,
        }
        return out


class SinglePersonFusion(_FusionStage):
    """One person seen by several cameras: per view the detection with the highest total
    confidence, robust triangulation (outlier views rejected, Gauss–Newton refinement), an
    optional temporal filter. Any calibrated camera model. Output ``<stage>/skeleton3d``:
    ``joints (J, 3)`` world metres, ``person_id`` (0), ``reprojection_error_px (J,)`` (mean over
    inlier views), ``views (J,)`` inlier views, ``status (J,)`` TriangulationStatus bits."""

    name = "triangulate"
    Params = RobustParams
    multiperson = False


class MultiPersonFusion(_FusionStage):
    """Several people, no ids needed (``person_id`` of the input is ignored): cross-view
    association by ray distances with cycle-consistent grouping, robust triangulation, merging of
    split hypotheses, tracking with persistent ids (Hungarian, birth/death, re-identification
    after short occlusions) and a filter per track. Output as ``triangulate``, with
    ``person_id`` the track id."""

    name = "multiperson"
    Params = MultiPersonParams
    multiperson = True
