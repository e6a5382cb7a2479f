"""``egocentric.stereo``: the geometric baseline — stereo triangulation through the fisheye models,
then the device pose into the world."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from sensorfusion import StageContext

from ._base import EgoParams, EgoStage
from ._stereo import triangulate_stereo

__all__ = ["StereoParams", "StereoTriangulation"]


class StereoParams(EgoParams):
    max_ray_distance_m: float = Field(
        default=0.05, gt=0, description="refuse a joint whose two rays pass farther apart"
    )
    max_range_m: float = Field(default=3.0, gt=0, description="refuse joints triangulated farther from the headset")
    noise_px: float = Field(default=2.0, gt=0, description="2D keypoint noise assumed for sigma_m (pixels, 1 sigma)")


class StereoTriangulation(EgoStage):
    """The wearer's joints from the two fisheye views of each headset: a joint seen in both views
    (confidence above ``min_confidence``) is triangulated in the device frame through the camera
    models (:mod:`._stereo`), then placed in the world with the device pose at the keypoints' time.
    Joints seen in fewer than two views (the face, joints hidden by the body or out of the image)
    are NaN with confidence 0. Output ``<stage>/skeleton3d``: ``joints``, ``person_id`` (the
    wearer), ``confidence``, ``sigma_m`` (uncertainty from the stereo geometry)."""

    name = "egocentric.stereo"
    Params = StereoParams
    output_attrs = {"method": "geometric"}

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, StereoParams)
        self.p = params
        self.rejected = 0

    def estimate_device(
        self, index: int, keypoints: np.ndarray, t_ns: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = triangulate_stereo(
            self.headsets[index].geometry,
            keypoints,
            min_confidence=self.p.min_confidence,
            max_ray_distance_m=self.p.max_ray_distance_m,
            max_range_m=self.p.max_range_m,
            noise_px=self.p.noise_px,
        )
        self.rejected += int(r.rejected.sum())
        return r.joints, r.confidence, r.sigma_m

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "rejected_pairs": self.rejected}
