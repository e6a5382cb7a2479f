"""``sim.keypoints2d``: a 2D keypoint detector that projects the ground truth and errs like a real one.

It never looks at pixels. For every camera image in the frameset it projects the
simulator's 3D ground truth with the camera's calibration and applies an error model
(noise, occlusion, misses, left/right swaps, outliers). Randomness comes from
``SeedSequence(seed, spawn_key=(camera, t_sensor_ns, person))`` built afresh for every
person in every view, never from a running generator, so any frameset gives the same
bytes whenever and however often it is processed.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sensorfusion import ConfigError, Estimator, FieldSpec, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.geometry import project, transform_points
from sensorfusion.schema import PinholeCamera, Transform

from ._occlusion import joint_occlusion
from ._people import body_capsules

__all__ = ["SimKeypointDetector", "SimKeypointParams"]

_DOMAIN = 0x5EED2D  # separates these RNG streams from any other use of the rig seed
_SHUFFLE = 0xFFFF_FFFF
# COCO-17: index of the mirrored joint (left <-> right)
_FLIP = np.array([0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15])
_FACE = np.arange(5)
_EXTREMITIES = np.array([9, 10, 15, 16])  # wrists, ankles
_NEAR_M = 0.1


class SimKeypointParams(BaseModel):
    """Parameters of ``sim.keypoints2d``; every probability is per frame and view."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    noise_px: float = Field(
        default=2.0, ge=0, description="Gaussian pixel noise (sigma, per axis) of a visible torso joint"
    )
    extremity_noise_scale: float = Field(default=1.75, ge=0, description="noise multiplier for wrists and ankles")
    face_noise_scale: float = Field(default=0.75, ge=0, description="noise multiplier for nose, eyes and ears")
    occluded_noise_scale: float = Field(default=3.0, ge=0, description="noise multiplier for occluded joints")
    visible_confidence: float = Field(default=0.9, ge=0, le=1, description="mean confidence of a visible joint")
    occluded_confidence: float = Field(default=0.3, ge=0, le=1, description="mean confidence of an occluded joint")
    border_px: float = Field(
        default=16.0, ge=0, description="confidence fades within this distance of the image border"
    )
    miss_prob: float = Field(default=0.02, ge=0, le=1, description="a visible joint is missed (NaN, confidence 0)")
    occluded_miss_prob: float = Field(default=0.3, ge=0, le=1, description="an occluded joint is missed")
    outlier_prob: float = Field(default=0.005, ge=0, le=1, description="a reported joint is displaced by outlier_px")
    outlier_px: tuple[float, float] = Field(default=(20.0, 100.0), description="range of outlier displacements")
    swap_prob: float = Field(default=0.01, ge=0, le=1, description="a person's left and right are swapped (whole body)")
    person_miss_prob: float = Field(default=0.01, ge=0, le=1, description="a visible person is not detected at all")
    min_visible_fraction: float = Field(
        default=0.4, ge=0, le=1, description="fewer joints inside the image: not reported"
    )
    min_person_height_px: float = Field(
        default=24.0, ge=0, description="smaller people (joint bbox height): not reported"
    )
    occlusion_margin_m: float = Field(
        default=0.03, ge=0, description="a blocker must be this far in front of the joint"
    )
    identities: bool = Field(default=True, description="report the simulator's person ids (oracle association)")
    oracle: bool = Field(default=False, description="no noise and no errors: exact projections of visible people")

    @model_validator(mode="after")
    def _ordered(self) -> SimKeypointParams:
        lo, hi = self.outlier_px
        if not 0 <= lo <= hi:
            raise ValueError(f"outlier_px must be (low, high) with 0 <= low <= high, got {self.outlier_px}")
        return self


class SimKeypointDetector(Estimator):
    """Simulated 2D keypoint detector for the ``sim.rig`` cameras.

    Inputs: the ``cam*/image`` streams (one output each) and one ``SKELETON3D`` ground truth
    (``gt/skeleton3d``). Outputs ``<cam>/keypoints2d``: ``keypoints`` ``(n, 17, 3)`` float32
    (x_px, y_px, confidence; NaN and 0 for a missed joint) and ``person_id`` ``(n,)`` int64.
    ``person_id`` is the simulator's identity, an oracle association real detectors do not
    have; with ``identities: false`` it is ``-1`` and people come in a shuffled order.
    """

    name = "sim.keypoints2d"
    Params = SimKeypointParams
    input_kinds = (FrameKind.IMAGE, FrameKind.SKELETON3D)
    requires_camera_calibration = False  # checked here, for the image inputs only
    deterministic = True

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, SimKeypointParams)
        self.p: SimKeypointParams = params
        gts = context.inputs_of_kind(FrameKind.SKELETON3D)
        if len(gts) != 1:
            raise ConfigError(
                f"sim.keypoints2d needs exactly one skeleton3d ground-truth input, got {len(gts)}",
                field_path=f"{context.config_path or context.stage_id}.inputs",
                value=[s.name for s in gts],
            )
        self.gt_stream = gts[0].name
        if gts[0].skeleton not in (None, "coco17"):
            raise ConfigError(
                "sim.keypoints2d needs coco17 ground truth",
                field_path=f"{context.config_path or context.stage_id}.inputs",
                value=gts[0].skeleton,
            )
        self.images = context.inputs_of_kind(FrameKind.IMAGE)
        if not self.images:
            raise ConfigError(
                "sim.keypoints2d needs at least one image input",
                field_path=f"{context.config_path or context.stage_id}.inputs",
            )
        self._views: dict[str, tuple[str, PinholeCamera, Transform, int]] = {}
        for spec in self.images:
            sensor = spec.sensor
            cam = context.calibration.camera(sensor)  # ConfigError naming calibration.sensors.<cam>.camera
            if not isinstance(cam, PinholeCamera):
                raise ConfigError(
                    f"sim.keypoints2d projects with pinhole cameras, {sensor} has a {cam.model} model",
                    field_path=f"calibration.sensors.{sensor}.camera",
                )
            pose = context.calibration.sensors[sensor].world_from_sensor
            self._views[spec.name] = (f"{sensor}/keypoints2d", cam, pose, zlib.crc32(sensor.encode()))
        self._counts: dict[str, int] = dict.fromkeys(
            ("views", "people_in_view", "people_reported", "people_missed", "joints_reported", "joints_occluded",
             "joints_missed", "swaps", "outliers"),
            0,
        )  # fmt: skip

    def outputs(self) -> list[StreamSpec]:
        return [
            StreamSpec(
                name=out,
                kind=FrameKind.KEYPOINTS2D,
                fields={"keypoints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")},
                ragged=True,
                rate_hz=spec.rate_hz,
                skeleton="coco17",
                attrs={"simulated": True, "person_id": "oracle" if self.p.identities else "none"},
            )
            for spec in self.images
            for out in [self._views[spec.name][0]]
        ]

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        gt = frameset.get(self.gt_stream)
        if gt is None:
            return {}
        joints = np.asarray(gt["joints"], dtype=np.float64)
        ids = np.asarray(gt["person_id"], dtype=np.int64)
        result: dict[str, Mapping[str, np.ndarray]] = {}
        capsules = body_capsules(joints) if len(joints) else None
        for spec in self.images:
            frame = frameset.get(spec.name)
            if frame is None:
                continue
            out, cam, pose, cam_key = self._views[spec.name]
            result[out] = self.detect(
                joints, ids, cam, pose, cam_key, frame.t_sensor_ns, capsules=capsules, hidden=gt.data.get("hidden")
            )
        return result

    def summary(self) -> dict[str, Any]:
        return dict(self._counts)

    # -- the error model -------------------------------------------------------------------------

    def _project(self, joints_m: np.ndarray, cam: Any, world_from_camera: Transform) -> tuple[np.ndarray, np.ndarray]:
        """Pixels ``(P, 17, 2)`` (NaN where not imaged) and depths ``(P, 17)`` of world joints."""
        pc = transform_points(world_from_camera.inverse(), joints_m)
        return project(cam, pc, tier="numpy"), pc[..., 2]

    def detect(
        self,
        joints_m: np.ndarray,
        person_ids: np.ndarray,
        cam: Any,
        world_from_camera: Transform,
        cam_key: int,
        t_ns: int,
        *,
        capsules: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
        hidden: np.ndarray | None = None,
        report_ids: set[int] | None = None,
    ) -> dict[str, np.ndarray]:
        """Detections of ``(P, 17, 3)`` world joints in one view at sensor time ``t_ns``;
        ``hidden (P, 17)``: joints no camera sees (a scene's dropouts), always missed; only of the
        people in ``report_ids`` when given (everyone still occludes everyone)."""
        p = self.p
        counts = self._counts
        counts["views"] += 1
        n = joints_m.shape[0]
        if n == 0:
            return _empty()
        uv, z = self._project(joints_m, cam, world_from_camera)
        w, h = cam.width, cam.height
        front = (z > _NEAR_M) & np.all(np.isfinite(uv), axis=-1)
        inside = front & (uv[..., 0] >= 0) & (uv[..., 0] <= w - 1) & (uv[..., 1] >= 0) & (uv[..., 1] <= h - 1)
        v_front = np.where(front, uv[..., 1], np.nan)
        with np.errstate(invalid="ignore"):
            all_nan = ~np.any(front, axis=1)
            v_safe = np.where(all_nan[:, None], 0.0, v_front)
            height_px = np.nanmax(v_safe, axis=1) - np.nanmin(v_safe, axis=1)
        candidates = (inside.mean(axis=1) >= max(p.min_visible_fraction, 1e-9)) & (height_px >= p.min_person_height_px)
        occluded = joint_occlusion(
            joints_m, np.asarray(world_from_camera.translation_m), margin_m=p.occlusion_margin_m, capsules=capsules
        )
        t_word = int(t_ns) & 0xFFFF_FFFF_FFFF_FFFF
        base_key = (_DOMAIN, cam_key, t_word >> 32, t_word & 0xFFFF_FFFF)
        seed = int(self.context.seed) & 0xFFFF_FFFF_FFFF_FFFF
        sigma_scale = np.ones(17)
        sigma_scale[_FACE] = p.face_noise_scale
        sigma_scale[_EXTREMITIES] = p.extremity_noise_scale
        oracle = p.oracle
        kps: list[np.ndarray] = []
        out_ids: list[int] = []
        for k in range(n):
            if not candidates[k] or (report_ids is not None and int(person_ids[k]) not in report_ids):
                continue
            counts["people_in_view"] += 1
            pid = int(person_ids[k])
            rng = np.random.default_rng(
                np.random.SeedSequence(seed, spawn_key=(*base_key, pid if pid >= 0 else (1 << 32) + k))
            )
            # draw everything up front, always in the same order and amount
            u_person = rng.random(2)
            noise = rng.standard_normal((17, 2))
            u_miss = rng.random(17)
            u_outlier = rng.random(17)
            out_r = rng.uniform(p.outlier_px[0], p.outlier_px[1], 17)
            out_angle = rng.uniform(0.0, 2.0 * math.pi, 17)
            out_conf = rng.uniform(0.4, 0.7, 17)
            conf_noise = rng.standard_normal(17)
            if not oracle and u_person[0] < p.person_miss_prob:
                counts["people_missed"] += 1
                continue
            occ = occluded[k]
            sigma = 0.0 if oracle else p.noise_px
            sig = sigma * sigma_scale * np.where(occ, p.occluded_noise_scale, 1.0)
            xy = uv[k] + sig[:, None] * noise
            conf = np.where(
                occ,
                np.clip(p.occluded_confidence + 0.1 * conf_noise, 0.02, 1.0),
                np.clip(p.visible_confidence + 0.05 * conf_noise, 0.05, 1.0),
            )
            if p.border_px > 0:
                edge = np.minimum(
                    np.minimum(uv[k, :, 0], w - 1 - uv[k, :, 0]), np.minimum(uv[k, :, 1], h - 1 - uv[k, :, 1])
                )
                conf = conf * np.clip(0.3 + 0.7 * edge / p.border_px, 0.3, 1.0)
            missed = ~inside[k]
            if hidden is not None:
                missed = missed | np.asarray(hidden[k], dtype=bool)
            if not oracle:
                missed = missed | (u_miss < np.where(occ, p.occluded_miss_prob, p.miss_prob))
                outlier = ~missed & (u_outlier < p.outlier_prob)
                if outlier.any():
                    xy = xy + outlier[:, None] * (
                        out_r[:, None] * np.stack([np.cos(out_angle), np.sin(out_angle)], axis=-1)
                    )
                    conf = np.where(outlier, out_conf, conf)
                    counts["outliers"] += int(outlier.sum())
            kp = np.empty((17, 3))
            kp[:, :2] = np.where(missed[:, None], np.nan, xy)
            kp[:, 2] = np.where(missed, 0.0, conf)
            if not oracle and u_person[1] < p.swap_prob:
                kp = kp[_FLIP]
                counts["swaps"] += 1
            counts["people_reported"] += 1
            counts["joints_reported"] += int((~missed).sum())
            counts["joints_missed"] += int(missed.sum())
            counts["joints_occluded"] += int(occ.sum())
            kps.append(kp)
            out_ids.append(pid)
        if not kps:
            return _empty()
        keypoints = np.stack(kps).astype(np.float32)
        pids = np.asarray(out_ids, dtype=np.int64)
        if not p.identities:
            shuffle_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(*base_key, _SHUFFLE)))
            keypoints = keypoints[shuffle_rng.permutation(len(kps))]
            pids = np.full(len(kps), -1, dtype=np.int64)
        return {"keypoints": np.ascontiguousarray(keypoints), "person_id": pids}


def _empty() -> dict[str, np.ndarray]:
    return {"keypoints": np.zeros((0, 17, 3), dtype=np.float32), "person_id": np.zeros((0,), dtype=np.int64)}
