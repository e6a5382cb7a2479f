"""``overhead.localise``: floor positions of every camera's rotated person boxes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import ConfigError, Estimator, FrameKind, FrameSet, StageContext, StreamSpec

from ._camera import OverheadCamera
from ._localise import LocaliseMethod, LocaliseSettings, localise_detections
from ._streams import floor_spec

__all__ = ["LocaliseParams", "OverheadLocalise"]


class LocaliseParams(LocaliseSettings):
    """Parameters of ``overhead.localise``: the body and noise model, and the lens' limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fov_deg: float | None = Field(
        default=None, gt=0, le=360, description="lens field of view; detections beyond it are outside"
    )
    image_circle_radius_px: float | None = Field(
        default=None, gt=0, description="radius of the image circle (default: the largest circle inside the image)"
    )
    min_score: float = Field(default=0.0, ge=0, le=1, description="detections scored below this are ignored")


class OverheadLocalise(Estimator):
    """Floor positions (and their covariance) of the rotated boxes of ceiling cameras.

    Inputs: ``<cam>/rboxes`` streams (BOXES with an ``rbox`` field) of ceiling cameras
    (fisheye model and a downward mounting in the calibration, else a ``ConfigError`` naming
    the field). Output per camera: ``<cam>/floor`` (POINT_CLOUD, ragged): ``position_m (n, 3)``
    world metres on the floor, ``covariance_m2 (n, 2, 2)``, ``score``, ``method``
    (:class:`~sensorfusion_overhead.LocaliseMethod`), ``implied_height_m``, ``person_id``.
    A detection whose centre is outside the image circle is dropped and counted
    (``outside_image_circle`` in the summary).
    """

    name = "overhead.localise"
    Params = LocaliseParams
    input_kinds = (FrameKind.BOXES,)

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, LocaliseParams)
        self.p = params
        self.settings = LocaliseSettings(**{k: getattr(params, k) for k in LocaliseSettings.model_fields})
        self.inputs = [s for s in context.inputs if s.kind == FrameKind.BOXES and "rbox" in s.fields]
        if not self.inputs:
            raise ConfigError(
                "overhead.localise needs rotated-box streams (<cam>/rboxes with an 'rbox' field) among its inputs",
                field_path=f"{context.config_path or context.stage_id}.inputs",
                value=[s.name for s in context.inputs],
            )
        self.cameras = {
            s.name: OverheadCamera.from_calibration(
                context.calibration,
                s.sensor,
                fov_deg=params.fov_deg,
                image_circle_radius_px=params.image_circle_radius_px,
            )
            for s in self.inputs
        }
        self.counts: dict[str, int] = {"detections": 0, "localised": 0, "outside_image_circle": 0, "below_min_score": 0}
        for m in LocaliseMethod:
            if m != LocaliseMethod.INVALID:
                self.counts[f"method_{m.name.lower()}"] = 0

    def outputs(self) -> list[StreamSpec]:
        return [floor_spec(f"{s.sensor}/floor", s.rate_hz, camera=s.sensor) for s in self.inputs]

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        out: dict[str, Mapping[str, np.ndarray]] = {}
        for spec in self.inputs:
            frame = frameset.get(spec.name)
            if frame is None:
                continue
            boxes = np.asarray(frame["rbox"], dtype=np.float64).reshape(-1, 5)
            n = len(boxes)
            score = np.asarray(frame.data.get("score", np.ones(n)), dtype=np.float64).reshape(-1)
            feet = frame.data.get("feet_px")
            pid = np.asarray(frame.data.get("person_id", np.full(n, -1)), dtype=np.int64).reshape(-1)
            keep = score >= self.p.min_score
            self.counts["detections"] += n
            self.counts["below_min_score"] += int((~keep).sum())
            est = localise_detections(
                self.cameras[spec.name],
                boxes[keep],
                feet_px=None if feet is None else np.asarray(feet, dtype=np.float64).reshape(-1, 2)[keep],
                settings=self.settings,
            )
            self.counts["outside_image_circle"] += int((~est.inside).sum())
            ok = est.method != LocaliseMethod.INVALID
            self.counts["localised"] += int(ok.sum())
            for m in est.method[ok]:
                self.counts[f"method_{LocaliseMethod(int(m)).name.lower()}"] += 1
            k = int(ok.sum())
            pos = np.zeros((k, 3), np.float32)
            pos[:, :2] = est.position_m[ok]
            out[f"{spec.sensor}/floor"] = {
                "position_m": pos,
                "covariance_m2": est.covariance_m2[ok].astype(np.float32),
                "score": score[keep][ok].astype(np.float32),
                "method": est.method[ok].astype(np.int8),
                "implied_height_m": est.implied_height_m[ok].astype(np.float32),
                "person_id": pid[keep][ok],
            }
        return out

    def summary(self) -> dict[str, Any]:
        return dict(self.counts)
