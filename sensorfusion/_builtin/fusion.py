"""Built-in plugin: ``triangulate.dlt``, the simple confidence-weighted DLT fusion stage.

It needs person ids that agree across views (the simulator's oracle identities, or an
upstream association stage); detections with ``person_id < 0`` are counted and skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .._components import Estimator, StageContext
from .._errors import ConfigError
from ..fusion._dlt import triangulate_dlt
from ..geometry._pinhole import project_pinhole, projection_matrix
from ..geometry._undistort import undistort_pixels
from ..hookspecs import hookimpl
from ..schema._calibration import PinholeCamera
from ..schema._streams import FieldSpec, FrameKind, FrameSet, StreamSpec

__all__ = ["DltTriangulator"]


class DltParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_confidence: float = Field(default=0.3, ge=0, le=1, description="2D keypoints at or below this are left out")
    min_views: int = Field(default=2, ge=2, description="views needed to triangulate a joint")


class DltTriangulator(Estimator):
    """Triangulate each person (by ``person_id``) from every view with a confidence-weighted DLT.

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
        skeletons = {s.skeleton for s in context.inputs}
        if len(skeletons) != 1 or None in skeletons:
            raise ConfigError(
                "all inputs must declare the same skeleton", field_path=f"{context.config_path or context.stage_id}.inputs", value=sorted(map(str, skeletons))
            )
        self.skeleton = context.skeletons.get(str(next(iter(skeletons))))
        self.views = [s.name for s in context.inputs]
        self.cameras: list[PinholeCamera] = []
        P = []
        for s in context.inputs:
            cam = context.calibration.camera(s.sensor)
            if not isinstance(cam, PinholeCamera):
                raise ConfigError(
                    f"triangulate.dlt supports pinhole cameras only; {s.sensor} is {cam.model}",
                    field_path=f"calibration.sensors.{s.sensor}.camera.model",
                    value=cam.model,
                    choices=["pinhole"],
                )
            self.cameras.append(cam)
            P.append(projection_matrix(cam, context.calibration.sensors[s.sensor].world_from_sensor))
        self.P = np.stack(P)
        self.poses = [context.calibration.sensors[s.sensor].world_from_sensor for s in context.inputs]
        self.out_name = f"{context.stage_id}/skeleton3d"
        self._frames = 0
        self._persons = 0
        self._unassociated = 0
        self._reproj_sum = 0.0
        self._reproj_n = 0

    def outputs(self) -> list[StreamSpec]:
        J = self.skeleton.num_joints
        return [
            StreamSpec(
                name=self.out_name,
                kind=FrameKind.SKELETON3D,
                ragged=True,
                skeleton=self.skeleton.name,
                fields={
                    "joints": FieldSpec(dtype="float32", shape=(J, 3)),
                    "person_id": FieldSpec(dtype="int64"),
                    "reprojection_error_px": FieldSpec(dtype="float32", shape=(J,)),
                    "views": FieldSpec(dtype="int8", shape=(J,)),
                },
            )
        ]

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        J = self.skeleton.num_joints
        V = len(self.views)
        per_view: list[dict[int, np.ndarray]] = []
        ids: set[int] = set()
        for name in self.views:
            f = frameset.get(name)
            people: dict[int, np.ndarray] = {}
            if f is not None:
                for kp, pid in zip(f["keypoints"], f["person_id"], strict=True):
                    if pid < 0:
                        self._unassociated += 1
                        continue
                    people[int(pid)] = kp
                    ids.add(int(pid))
            per_view.append(people)
        order = sorted(ids)
        P = len(order)
        pts = np.full((V, P, J, 2), np.nan)
        conf = np.zeros((V, P, J))
        for v, people in enumerate(per_view):
            for p, pid in enumerate(order):
                kp = people.get(pid)
                if kp is not None:
                    pts[v, p] = undistort_pixels(kp[:, :2].astype(np.float64), self.cameras[v])
                    conf[v, p] = np.nan_to_num(kp[:, 2].astype(np.float64))
        X, n_used = triangulate_dlt(pts, conf, self.P, min_views=self.p.min_views, min_confidence=self.p.min_confidence)
        err = np.full((P, J), np.nan)
        if P:
            used = np.isfinite(pts).all(-1) & (conf > self.p.min_confidence)
            errs = np.zeros((P, J))
            for v in range(V):
                uv, _ = project_pinhole(X, self.cameras[v], self.poses[v])
                e = np.linalg.norm(uv - pts[v], axis=-1)
                errs += np.where(used[v], np.nan_to_num(e), 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                err = np.where(n_used >= self.p.min_views, errs / np.maximum(n_used, 1), np.nan)
            finite = np.isfinite(err)
            self._reproj_sum += float(err[finite].sum())
            self._reproj_n += int(finite.sum())
        self._frames += 1
        self._persons += P
        return {
            self.out_name: {
                "joints": X.astype(np.float32).reshape(P, J, 3),
                "person_id": np.asarray(order, dtype=np.int64),
                "reprojection_error_px": err.astype(np.float32).reshape(P, J),
                "views": n_used.astype(np.int8).reshape(P, J),
            }
        }

    def summary(self) -> dict[str, Any]:
        return {
            "framesets": self._frames,
            "person_frames": self._persons,
            "mean_reprojection_error_px": round(self._reproj_sum / self._reproj_n, 3) if self._reproj_n else None,
            "unassociated_detections": self._unassociated,
        }


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [DltTriangulator]
